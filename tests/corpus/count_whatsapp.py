"""Counts of WhatsApp "Export chat" files made without twinchat, for tests/corpus/manifest.json.

Run `python tests/corpus/count_whatsapp.py FILE...`: for each file (a .txt, or a zip holding
one), the messages people typed, their senders, and the first and last. Its own simple rules,
not the reader's code, so the two can disagree:

* a message starts at a line that begins with a stamp, `[...]` holding digits (iOS) or
  `digits, digits - ` (Android); any other line continues the message before it;
* the sender is what comes before the first `: ` after the stamp; a line without one is
  WhatsApp's (a notice);
* WhatsApp's own texts are skipped: on iOS they start with a U+200E or U+200F mark after the
  `: `; on Android a medium is `<...>` or `name.ext (file attached)` (its caption, the lines
  under it, counts), and the words of `DELETED` and `LOCATION` below.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from collections.abc import Callable

IOS = re.compile(r"^[\u200e\u200f\ufeff]*\[(?=[^\]]*\d)[^\]]{6,40}\] (.*)$")
ANDROID = re.compile(
    r"^[\u200e\u200f\ufeff]*\d{1,4}[./-]\d{1,2}[./-]\d{2,4},? \d{1,2}[:.]\d\d"
    r"(?:[ \u202f\u00a0]?\S{1,4}\.?(?: ?m\.)?)? - (.*)$"
)
MARKS = "\u200e\u200f"
ATTACHED = re.compile(r"^\S+\.\w{2,4} \([^()]{4,30}\)$")  # IMG-2022-WA0001.jpg (file attached)
# WhatsApp's own texts, as read by eye in the corpus's files: deletions, in every language
DELETED = {
    "This message was deleted", "You deleted this message",
    "Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
    "Tato zpráva byla smazána", "Tuto zprávu jste smazal/a", "Tato zpráva byla odstraněna",
    "Tuto zprávu jste odstranil/a", "Dit bericht is verwijderd", "U hebt dit bericht verwijderd",
    "Данное сообщение удалено", "Вы удалили данное сообщение",
    "Це повідомлення було видалено", "Ви видалили це повідомлення",
    "تم حذف هذه الرسالة", "لقد حذَفت هذه الرسالة", "أنت حذفت هذه الرسالة",
    "Ce message a été supprimé", "Vous avez supprimé ce message",
    "यह मैसेज डिलीट कर दिया गया है", "आपने यह मैसेज डिलीट किया",
    "Pesan ini dihapus", "Anda menghapus pesan ini",
    "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
    "このメッセージは削除されました", "このメッセージを削除しました",
    "Esta mensagem foi apagada", "Apagou esta mensagem",
    "Se eliminó este mensaje", "Eliminaste este mensaje",
    "ข้อความนี้ถูกลบแล้ว", "คุณได้ลบข้อความนี้",
    "Tin nhắn này đã bị xóa", "Bạn đã xoá tin nhắn này",
}  # fmt: skip
# ... calls, live locations, view-once remnants ("null") and Android's call notes
OWN = {
    "null", "Missed voice call", "Missed video call", "Пропущенный аудиозвонок",
    "Zmeškaný hovor", "Gemiste spraakoproep",
    "live location shared", "Live-Standort wird geteilt",
}  # fmt: skip
# the encryption notice and the security-code note, by a word each language uses
NOTICE = re.compile(
    "end-to-end|Ende-zu-Ende|šifrováním|شفرة|एन्क्रिप्ट|terenkripsi|crittografati|暗号化|"
    "encriptadas|шифрованием|cifrados|เข้ารหัส|шифруванням|mã hóa|chiffrés|security code"
)
LOCATION = re.compile(r"^[^:\n]{2,20}: https://maps\.google\.com/\?q=[\d.,-]+$")
OMITTED = re.compile(
    r"^(?:image|video|audio|sticker|GIF) omitted$|^(?:Bild|Video|Audio) weggelassen$"
)
EDITED = re.compile(r" ?<(?:This message was edited|Diese Nachricht wurde bearbeitet)>$")


def _lines(path: str) -> list[str]:
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".txt"))
            data = archive.read(name)
    else:
        with open(path, "rb") as f:
            data = f.read()
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="").read()
    return [line.rstrip("\r").lstrip("\ufeff") for line in text.split("\n")]


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    lines = _lines(path)
    stamped = sum(1 for line in lines if IOS.match(line))
    header = IOS if stamped * 2 > sum(1 for line in lines if ANDROID.match(line)) else ANDROID
    rows: list[tuple[bool, list[str]]] = []  # (marked, [rest of the first line, later lines])
    for line in lines:
        match = header.match(line)
        if match:
            rows.append((line.startswith(tuple(MARKS)), [match[1]]))
        elif rows:
            rows[-1][1].append(line)
    said = []
    for marked, (first, *more) in rows:
        if ": " not in first:
            continue  # a notice: no sender
        sender, body = first.split(": ", 1)
        sender = sender.strip(MARKS + "\u202a\u202c ")
        if marked:
            continue  # iOS marks the whole line of an attachment
        while more and not more[-1]:
            more.pop()
        core = body.strip(MARKS + "\ufeff ")
        if (core.startswith("<") and core.endswith(">")) or ATTACHED.match(core):
            body = "\n".join(more)  # a medium: its caption, if any
        else:
            body = "\n".join([body, *more])
        body = EDITED.sub("", body).strip()
        core = body.strip(MARKS + " ").rstrip(".。")
        if not core or core in DELETED or core in OWN or OMITTED.match(core):
            continue
        if LOCATION.match(core) or (body.startswith(tuple(MARKS)) and NOTICE.search(core)):
            continue
        said.append((sender, body))
    return said


def summary(said: list[tuple[str, str]]) -> dict:
    """What manifest.json records of a file, from the (sender, text) pairs people typed."""
    return {
        "texts": len(said),
        "senders": sorted({s for s, _ in said}),
        "first": said[0][1],
        "last": said[-1][1],
    }


def main(typed: Callable[[str], list[tuple[str, str]]]) -> None:
    """A counter's command line: each file named, and its summary."""
    for name in sys.argv[1:]:
        print(name, json.dumps(summary(typed(name)), ensure_ascii=False))


if __name__ == "__main__":
    main(typed)
