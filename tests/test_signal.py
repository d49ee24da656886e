"""The Signal reader against signal-export's output (formats.md §5): own fixtures, inline chats.

Run: pytest tests/test_signal.py -q -p no:cacheprovider
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, TELEGRAM
from roundtrip import CONVERSATION, assert_same

from twinchat.data.message import Kind, Message
from twinchat.data.readers import read_export
from twinchat.data.readers.signal import (
    ORDER_WINDOW,
    SignalExport,
    chat_name,
    find_signal,
    media_type,
)
from twinchat.data.readers.source import sources_of
from twinchat.errors import TwinchatError

EXPORT = FIXTURES / "signal" / "export"
ALICE = EXPORT / "AliceMartin"
IMAGES = ("png", "jpg", "jpeg", "gif", "tif", "tiff", "webp", "apng", "svg")


# --- a writer of chats as signal-export writes them -------------------------------------------


def record(date: str, sender: str | None, text: str = "", **fields: Any) -> dict[str, Any]:
    """One line of data.json: the keys in signal-export's order, the body with its two spaces."""
    base = {
        "date": date,
        "sender": sender,
        "body": text.replace("`", "") + "  ",
        "quote": "",
        "sticker": None,
        "reactions": [],
        "attachments": [],
        "deleted": False,
        "call": False,
        "missed": False,
    }
    base.update(fields)
    return base


def quoted(text: str) -> str:
    return "\n\n> " + text.rstrip("\n").replace("\n", "\n> ") + "\n\n"


def to_markdown(message: dict[str, Any]) -> str:
    """The message as signal-export's chat.md has it, its blank line included."""
    date = datetime.fromisoformat(message["date"]).strftime("%Y-%m-%d %H:%M:%S")
    if message.get("deleted"):
        return f"[{date}] {message['sender']}: (This message was deleted)\n\n"
    body = message["body"]
    if message["reactions"]:
        body += "\n(- " + ", ".join(f"{name}: {emoji}" for name, emoji in message["reactions"])
        body += " -)"
    sticker = message["sticker"]
    if sticker:
        label = sticker.get("emoji") or "sticker"
        if sticker.get("extension"):
            body += f"[{label}](../exported_stickers/{sticker['packId']}/{sticker['id']}."
            body += f"{sticker['extension']})  "
        else:
            body += f"\n(( {label} ))"
    for attachment in message["attachments"]:
        if attachment["path"].rsplit(".", 1)[-1] in IMAGES:
            body += "!"
        body += f"[{attachment['name']}](./{attachment['path']})  "
    return f"[{date}] {message['sender']}: {message['quote']}{body}\n\n"


def write_chat(
    folder: Path,
    messages: list[dict[str, Any]],
    data: bool = True,
    markdown: bool = True,
    newline: str = "\n",
) -> Path:
    """A chat's folder as signal-export writes it: data.json and chat.md."""
    folder.mkdir(parents=True, exist_ok=True)
    if data:
        lines = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
        (folder / "data.json").write_bytes(lines.replace("\n", newline).encode("utf-8"))
    if markdown:
        text = "".join(to_markdown(m) for m in messages)
        (folder / "chat.md").write_bytes(text.replace("\n", newline).encode("utf-8"))
    return folder


def read(path: Path) -> tuple[SignalExport, list[Message]]:
    export = read_export(path, source="signal")
    return export, list(export)


def photo(name: str = "IMG_0001.jpg") -> list[dict[str, str]]:
    return [{"name": name, "path": f"media/2024-03-01T09-41-00.000_00_{name}"}]


def summary(messages: list[Message]) -> list[tuple]:
    return [(m.id, m.sender, m.text, m.kind, m.reply_to, m.media_type, m.emoji) for m in messages]


# --- the fixture export -----------------------------------------------------------------------


def test_the_whole_export_is_one_chat_per_folder():
    chats = find_signal(sources_of(EXPORT))
    assert chats is not None
    assert [(c.name, c.markdown) for c in chats] == [
        ("AliceMartin", False),  # data.json beside chat.md
        ("HikingCrew", True),
        ("Legacy", False),
        ("OldTimer", True),
    ]  # exported_stickers/<pack>/data.json describes a sticker pack, not a chat
    export, messages = read(EXPORT)
    assert export.format == "signal" and export.chats == 4
    assert export.source.label == str(EXPORT)
    assert [m.chat_id for m in messages] == [m.chat_name for m in messages]
    assert {m.chat_id for m in messages} == {"AliceMartin", "HikingCrew", "Legacy", "OldTimer"}
    assert {m.chat_type for m in messages} == {None}  # the export does not say
    assert {m.platform for m in messages} == {"signal"}


def test_data_json_every_field():
    export, messages = read(ALICE)
    by_id = {m.id: m for m in messages}
    assert export.chats == 1 and export.source.label.endswith("data.json")
    first = by_id["1"]
    assert first.timestamp == datetime(2024, 3, 1, 9, 15, 2, 123000)  # milliseconds kept
    assert not first.tz_known and first.timestamp.tzinfo is None
    assert (first.sender, first.text, first.kind) == (
        "Alice Martin",
        "Are we still on for tonight?",  # without the two spaces signal-export adds
        Kind.TEXT,
    )
    assert by_id["2"].sender == "Me" and by_id["2"].text == "yes 🙂\nsee you at 8"
    assert by_id["3"].reply_to == "2" and by_id["3"].text == "great"
    assert (by_id["4"].kind, by_id["4"].text, by_id["4"].media_type) == (Kind.MEDIA, "", "photo")
    assert (by_id["5"].text, by_id["5"].media_type) == ("the view from here", "video_file")
    assert (by_id["6"].kind, by_id["6"].emoji, by_id["6"].media_type) == (
        Kind.STICKER,
        "🐺",
        "sticker",
    )
    assert (by_id["7"].kind, by_id["7"].text) == (Kind.DELETED, "")
    assert (by_id["8"].kind, by_id["8"].action, by_id["8"].sender) == (Kind.CALL, "call", "Me")
    assert by_id["8"].text == "Outgoing voice call (accepted, 2m 5s)"
    assert (by_id["9"].kind, by_id["9"].action) == (Kind.CALL, "missed_call")
    assert by_id["10"].edited == by_id["10"].timestamp  # `edits`: Signal does not say when
    assert by_id["1"].edited is None


def test_a_chat_comes_out_in_time_order():
    """Message 11 is dated a second before message 10 (server time before sending time)."""
    _, messages = read(ALICE)
    assert [m.id for m in messages][-3:] == ["11", "10", "12"]
    assert all(a.timestamp <= b.timestamp for a, b in pairwise(messages))


def test_a_quote_of_a_photo_finds_no_message_and_is_counted():
    export, messages = read(ALICE)
    assert messages[-1].text == "wow" and messages[-1].reply_to is None
    assert export.problems == {"reply to a message not found (link dropped)": 1}


def test_chat_md_gives_what_data_json_gives():
    _, from_json = read(ALICE / "data.json")
    export, from_markdown = read(ALICE / "chat.md")
    assert export.source.label.endswith("chat.md")
    assert summary(from_markdown) == summary(from_json)
    assert [m.action for m in from_markdown] == [m.action for m in from_json]
    assert [m.timestamp for m in from_markdown] == [
        m.timestamp.replace(microsecond=0) for m in from_json
    ]  # chat.md has whole seconds
    assert {m.chat_id for m in from_markdown} == {"AliceMartin"}


def test_chat_md_of_a_group():
    export, messages = read(EXPORT / "HikingCrew")
    assert summary(messages) == [
        ("1", "Jamie Lee", "Morning all! Trail starts at 9", Kind.TEXT, None, None, None),
        ("2", "Priya", "Bring:\n- water\n- snacks\n\n- rain jacket", Kind.TEXT, None, None, None),
        ("3", "Me", "see you there", Kind.TEXT, "1", None, None),
        ("4", "Priya", "", Kind.STICKER, None, "sticker", "🐺"),
        ("5", "Jamie Lee", "map attached", Kind.MEDIA, None, "photo", None),
        ("6", "Priya", "", Kind.DELETED, None, None, None),
        ("7", None, "", Kind.SERVICE, None, None, None),  # No-Sender, empty body: an event
        ("8", None, "who is this?", Kind.TEXT, None, None, None),  # `None`: a nameless contact
        (
            "9",
            "Jamie Lee",
            "pasted from elsewhere:\n[2024-01-01 10:00] not a header, no name",
            Kind.TEXT,
            None,
            None,
            None,
        ),
        ("10", "Priya", "summit!", Kind.MEDIA, None, "photo", None),  # reactions, then the file
        ("11", "Me", "", Kind.STICKER, None, "sticker", None),  # a sticker without an emoji
    ]
    assert messages[6].action == "event"
    assert messages[1].timestamp == datetime(2024, 4, 6, 7, 31, 12)
    assert not export.problems


def test_older_chat_md_with_a_comma_and_no_seconds():
    export, messages = read(EXPORT / "OldTimer" / "chat.md")
    assert [(m.timestamp, m.sender, m.text, m.kind) for m in messages] == [
        (datetime(2021, 5, 2, 18, 30), "Sam", "did you see the game?", Kind.TEXT),
        (datetime(2021, 5, 2, 18, 31), "Me", "yes!\nwhat a finish", Kind.TEXT),
        (datetime(2021, 5, 2, 18, 45), "Sam", "", Kind.MEDIA),
        (datetime(2021, 5, 2, 19, 2), "Sam", "Incoming call", Kind.CALL),  # known by its text
    ]
    assert not export.problems


def test_older_data_json_without_deleted_call_and_missed():
    export, messages = read(EXPORT / "Legacy")
    assert [(m.id, m.sender, m.text, m.kind, m.emoji) for m in messages] == [
        ("1", "Kim", "hello", Kind.TEXT, None),
        ("2", "Me", "", Kind.STICKER, "😀"),  # the sticker was its emoji, a string
        ("3", "Kim", "Outgoing call", Kind.CALL, None),
        ("4", "Kim", "lost in time", Kind.TEXT, None),
        ("6", None, "who?", Kind.TEXT, None),  # line 5 is cut short
    ]
    assert messages[3].timestamp is None  # signal-export's 1970 for a message without a date
    assert export.problems == {"message without a date (1970)": 1, "line of data.json not JSON": 1}


# --- chat.md quirks ---------------------------------------------------------------------------


def md(tmp_path: Path, text: str, name: str = "chat.md") -> tuple[SignalExport, list[Message]]:
    path = tmp_path / "Chat" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return read(path)


def test_a_deleted_message_typed_as_text_is_text(tmp_path):
    """signal-export's own line has no two spaces; a body typed the same way has them."""
    text = (
        "[2024-01-01 10:00:00] Ann: (This message was deleted)\n\n"
        "[2024-01-01 10:01:00] Ann: (This message was deleted)  \n\n"
    )
    _, messages = md(tmp_path, text)
    assert [(m.kind, m.text) for m in messages] == [
        (Kind.DELETED, ""),
        (Kind.TEXT, "(This message was deleted)"),
    ]


def test_text_that_looks_like_what_signal_export_appends_stays_text(tmp_path):
    body = "see (- this -) and (( that )) and [x](./y)"
    _, messages = md(tmp_path, f"[2024-01-01 10:00:00] Ann: {body}  \n\n")
    assert (messages[0].kind, messages[0].text) == (Kind.TEXT, body)


def test_a_multi_line_quote_and_a_quote_with_a_blank_line(tmp_path):
    messages_in = [
        record("2024-01-01T10:00:00", "Ann", "line one\n\nline three"),
        record("2024-01-01T10:01:00", "Bob", "yes", quote=quoted("line one\n\nline three")),
        record("2024-01-01T10:02:00", "Ann", "", quote=quoted("yes"), attachments=photo()),
    ]
    folder = write_chat(tmp_path / "Chat", messages_in, data=False)
    export, messages = read(folder)
    assert [(m.text, m.reply_to, m.kind) for m in messages] == [
        ("line one\n\nline three", None, Kind.TEXT),
        ("yes", "1", Kind.TEXT),
        ("", "2", Kind.MEDIA),
    ]
    assert not export.problems


def test_attachments_of_every_kind(tmp_path):
    files = [
        {"name": "a b.jpg", "path": "media/2024_00_a%20b.jpg"},
        {"name": "clip (1).mp4", "path": "media/2024_01_clip%20(1).mp4"},
        {"name": "None.aac", "path": "media/2024_02_None.aac"},
    ]
    messages_in = [
        record("2024-01-01T10:00:00", "Ann", "three files", attachments=files),
        record("2024-01-01T10:01:00", "Ann", "", attachments=[files[2]]),
        record("2024-01-01T10:02:00", "Ann", "", attachments=[{"name": "x", "path": "media/x"}]),
    ]
    folder = write_chat(tmp_path / "Chat", messages_in)
    for path in (folder / "data.json", folder / "chat.md"):
        _, messages = read(path)
        assert [(m.kind, m.text, m.media_type) for m in messages] == [
            (Kind.MEDIA, "three files", "photo"),
            (Kind.MEDIA, "", "audio_file"),
            (Kind.MEDIA, "", "file"),
        ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("media/a.JPG", "photo"),
        ("media/a.gif", "animation"),
        ("media/a.mov", "video_file"),
        ("media/a.m4a", "audio_file"),
        ("media/a.pdf", "file"),
        ("media/a", "file"),
    ],
)
def test_media_type_from_the_extension(name, expected):
    assert media_type(name) == expected


def test_reactions_sticker_and_attachment_in_one_message(tmp_path):
    sticker = {"id": "7", "packId": "p", "packKey": "k", "emoji": "🎉", "extension": None}
    messages_in = [
        record("2024-01-01T10:00:00", "Ann", "party", reactions=[["Bob", "❤️"], ["Me", "👍"]]),
        record("2024-01-01T10:01:00", "Bob", "", sticker=sticker, reactions=[["Ann", "😂"]]),
    ]
    folder = write_chat(tmp_path / "Chat", messages_in, data=False)
    _, messages = read(folder)
    assert [(m.kind, m.text, m.emoji) for m in messages] == [
        (Kind.TEXT, "party", None),
        (Kind.STICKER, "", "🎉"),
    ]


def test_windows_line_ends(tmp_path):
    messages_in = [
        record("2024-01-01T10:00:00", "Ann", "two\nlines"),
        record("2024-01-01T10:01:00", "Bob", "ok", quote=quoted("two\nlines")),
    ]
    folder = write_chat(tmp_path / "Chat", messages_in, newline="\r\n")
    for path in (folder / "data.json", folder / "chat.md"):
        export, messages = read(path)
        assert [(m.text, m.reply_to) for m in messages] == [("two\nlines", None), ("ok", "1")]
        assert not export.problems


def test_text_before_the_first_message_is_counted(tmp_path):
    export, messages = md(tmp_path, "\ufeffnotes\n\n[2024-01-01 10:00:00] Ann: hi  \n\n")
    assert [m.text for m in messages] == ["hi"]
    assert export.problems == {"text before the first message": 1}


def test_an_impossible_date_is_counted(tmp_path):
    export, messages = md(tmp_path, "[2024-13-01 10:00:00] Ann: hi  \n\n")
    assert (messages[0].timestamp, messages[0].text) == (None, "hi")
    assert export.problems == {"invalid date": 1}


def test_the_oldest_index_md(tmp_path):
    _, messages = md(tmp_path, "[2020-02-03 04:05] Ann: hi  \n", name="index.md")
    assert (messages[0].timestamp, messages[0].text) == (datetime(2020, 2, 3, 4, 5), "hi")


# --- data.json quirks -------------------------------------------------------------------------


def jsonl(tmp_path: Path, *lines: Any) -> tuple[SignalExport, list[Message]]:
    path = tmp_path / "Chat" / "data.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(
        (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
    )
    path.write_bytes(text.encode("utf-8"))
    return read(path)


def test_malformed_messages_are_counted_not_fatal(tmp_path):
    export, messages = jsonl(
        tmp_path,
        record("2024-01-01T10:00:00", "Ann", "first"),
        '{"date": 5, "sender": "Ann"}',
        '["not", "an", "object"]',
        record("2024-01-01T10:01:00", "Ann", "bad files", attachments="x.jpg"),
        record("2024-01-01T10:02:00", "Ann", "bad body") | {"body": 3},
        "",
        record("2024-01-01T10:03:00", "Ann", "last"),
    )
    assert [(m.id, m.text) for m in messages] == [("1", "first"), ("6", "last")]
    assert export.problems == {"malformed message": 4}


def test_bytes_not_utf8_are_replaced_and_counted(tmp_path):
    path = tmp_path / "Chat" / "data.json"
    path.parent.mkdir()
    line = json.dumps(record("2024-01-01T10:00:00", "Ann", "caf\u00e9"), ensure_ascii=False)
    path.write_bytes(line.encode("utf-8").replace("é".encode(), b"\xe9") + b"\n")
    export, messages = read(path)
    assert messages[0].text == "caf\ufffd"
    assert export.problems == {"not UTF-8 (bytes replaced)": 1}


def test_senders_signal_export_could_not_name(tmp_path):
    _, messages = jsonl(
        tmp_path,
        record("2024-01-01T10:00:00", "No-Sender", "a"),
        record("2024-01-01T10:01:00", None, "b"),
        record("2024-01-01T10:02:00", "None", "c"),  # in data.json a name like any other
    )
    assert [m.sender for m in messages] == [None, None, "None"]


def test_a_plain_quote_of_a_merged_message(tmp_path):
    _, messages = jsonl(
        tmp_path,
        record("2024-01-01T10:00:00", "Ann", "is it `on`?"),  # backticks are gone in the body
        record("2024-01-01T10:01:00", "Bob", "yes", quote="is it `on`?"),
    )
    assert (messages[0].text, messages[1].reply_to) == ("is it on?", "1")


def test_a_quote_finds_the_latest_message_with_its_text(tmp_path):
    _, messages = jsonl(
        tmp_path,
        record("2024-01-01T10:00:00", "Ann", "ok"),
        record("2024-01-01T10:01:00", "Bob", "sure"),
        record("2024-01-01T10:02:00", "Ann", "ok"),
        record("2024-01-01T10:03:00", "Bob", "fine", quote=quoted("ok")),
    )
    assert messages[-1].reply_to == "3"


def test_a_time_with_a_zone_is_kept_as_utc(tmp_path):
    _, messages = jsonl(tmp_path, record("2024-01-01T10:00:00+02:00", "Ann", "hi"))
    assert messages[0].tz_known
    assert messages[0].timestamp == datetime.fromisoformat("2024-01-01T08:00:00+00:00")


def test_a_message_far_out_of_time_order_is_counted_and_kept(tmp_path):
    lines = [record(f"2024-01-02T{i // 60:02}:{i % 60:02}:00", "Ann", str(i)) for i in range(250)]
    lines.append(record("2024-01-01T00:00:00", "Ann", "late"))  # 250 places too late
    lines.insert(100, record("2024-01-02T00:50:30", "Ann", "early"))  # 50 places too late
    export, messages = jsonl(tmp_path, *lines)
    texts = [m.text for m in messages]
    assert texts[50:53] == ["50", "late", "early"]  # late: moved back as far as it goes
    assert len(texts) == 252
    assert export.problems == {"message out of time order": 1}
    assert ORDER_WINDOW < 250


# --- finding the export -----------------------------------------------------------------------


def test_a_zip_of_the_export_and_a_zip_of_one_chat(tmp_path):
    whole = tmp_path / "signal.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for path in sorted(EXPORT.rglob("*")):
            if path.is_file():
                archive.write(path, "signal-export/" + path.relative_to(EXPORT).as_posix())
    export, messages = read(whole)
    assert export.chats == 4 and export.source.label == str(whole)
    assert summary(messages) == summary(list(read_export(EXPORT, source="signal")))
    one = tmp_path / "AliceMartin.zip"
    with zipfile.ZipFile(one, "w") as archive:
        archive.write(ALICE / "data.json", "data.json")
        archive.write(ALICE / "chat.md", "chat.md")
    _, messages = read(one)
    assert {m.chat_id for m in messages} == {"AliceMartin"} and len(messages) == 12


def test_a_renamed_file_alone_is_read_by_its_first_line(tmp_path):
    (tmp_path / "Ann").mkdir()
    (tmp_path / "Ann" / "backup.json").write_bytes((ALICE / "data.json").read_bytes())
    (tmp_path / "Ann" / "notes.md").write_bytes((ALICE / "chat.md").read_bytes())
    for name in ("backup.json", "notes.md"):
        chats = find_signal(sources_of(tmp_path / "Ann" / name))
        assert chats is not None and chats[0].name == "Ann"


def test_chat_md_read_when_data_json_lacks_merged_older_messages(tmp_path):
    """signal-export before 3.0 merged an older export (`--old`) into chat.md only."""
    old = [record("2023-05-01T10:00:00", "Ann", "from last year")]
    new = [record("2024-01-01T10:00:00", "Ann", "this year")]
    folder = write_chat(tmp_path / "Ann", old + new, data=False)
    write_chat(folder, new, markdown=False)
    export, messages = read(folder)
    assert [m.text for m in messages] == ["from last year", "this year"]
    assert export.problems == {
        "chat.md read: data.json lacks the messages merged from an older export": 1
    }


def test_an_empty_chat_is_skipped(tmp_path):
    write_chat(tmp_path / "export" / "Ann", [record("2024-01-01T10:00:00", "Ann", "hi")])
    write_chat(tmp_path / "export" / "Nobody", [])
    chats = find_signal(sources_of(tmp_path / "export"))
    assert chats is not None and [c.name for c in chats] == ["Ann"]


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("/x/export/AliceMartin", "AliceMartin"), ("/x/a.zip!exp/Bob", "Bob"), ("/x/Bob.zip", "Bob")],
)
def test_chat_name_is_the_folder_name(folder, expected):
    assert chat_name(folder) == expected


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


OTHER_EXPORTS = {
    "telegram-result": lambda tmp: TELEGRAM / "single_chat.json",
    "telegram-folder": lambda tmp: TELEGRAM,
    "whatsapp-android": lambda tmp: FIXTURES / "whatsapp" / "android",
    "whatsapp-ios": lambda tmp: FIXTURES / "whatsapp" / "ios" / "_chat.txt",
    "whatsapp-swedish": lambda tmp: write(
        tmp / "_chat.txt", "[2018-06-13 21:25:15] Anna: hej\n[2018-06-13 21:26:00] Bo: hej\n"
    ),
    "irc": lambda tmp: FIXTURES / "irc" / "late",
    "discord": lambda tmp: write(
        tmp / "general.json",
        '{"guild": {"id": "1", "name": "G"}, "channel": {"id": "2"}, "messages": []}',
    ),
    "messenger": lambda tmp: write(
        tmp / "inbox" / "ann_1" / "message_1.json",
        '{"participants": [{"name": "Ann"}], "messages": [{"sender_name": "Ann"}]}',
    ),
    "slack": lambda tmp: write(
        tmp / "general" / "2024-01-01.json", '[{"type": "message", "user": "U1", "text": "hi"}]'
    ),
    "other-data-json": lambda tmp: write(tmp / "App" / "data.json", '{"date": 1, "msg": "x"}\n'),
    "data-json-array": lambda tmp: write(tmp / "App" / "data.json", '[{"date": "2024-01-01"}]'),
    "other-chat-md": lambda tmp: write(tmp / "Notes" / "chat.md", "# Chat\n\nsome notes\n"),
    "sticker-packs-only": lambda tmp: EXPORT / "exported_stickers",
    "empty-folder": lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
}


@pytest.mark.parametrize("shape", sorted(OTHER_EXPORTS))
def test_other_exports_are_not_signal(tmp_path, shape):
    path = OTHER_EXPORTS[shape](tmp_path)
    assert find_signal(sources_of(path)) is None


# --- errors -----------------------------------------------------------------------------------


def test_no_signal_chat_names_the_fix(tmp_path):
    with pytest.raises(TwinchatError, match="no Signal export found; point at signal-export"):
        read_export(FIXTURES / "irc" / "late", source="signal")
    with pytest.raises(TwinchatError, match="no such file or folder"):
        read_export(tmp_path / "missing", source="signal")
    with pytest.raises(TwinchatError, match="no Signal chats to read"):
        SignalExport([])


def test_a_damaged_zip_raises_a_one_line_error(tmp_path):
    path = tmp_path / "Ann.zip"
    body = json.dumps(record("2024-01-01T10:00:00", "Ann", "x" * 5000)) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("data.json", body)
    data = path.read_bytes()
    at = data.index(b"x" * 100) + 4000
    path.write_bytes(data[:at] + b"y" + data[at + 1 :])  # the CRC no longer matches
    export = read_export(path, source="signal")
    with pytest.raises(TwinchatError, match=r"Ann.zip!data.json could not be read .*again$"):
        list(export)


# --- progress and memory ----------------------------------------------------------------------


def test_progress_covers_every_chat():
    chats = find_signal(sources_of(EXPORT)) or []
    assert SignalExport(chats).source.label == str(EXPORT)  # the folder holding the chats
    export = read_export(EXPORT, source="signal")
    sizes = [c.source.size for c in chats]
    assert export.source.size == sum(sizes) and export.bytes_read == 0
    with export.source.open() as stream:
        assert len(stream.read()) == sum(sizes)  # the chats' files one after another
    iterator = iter(export)
    next(iterator)
    assert 0 < export.bytes_read <= sizes[0]
    list(iterator)
    assert export.bytes_read == export.source.size


def test_reading_streams_in_flat_memory(tmp_path):
    path = tmp_path / "Big" / "data.json"
    path.parent.mkdir()
    with path.open("w", encoding="utf-8") as out:
        for i in range(2500):
            line = record(f"2024-01-01T{i // 3600 % 24:02}:{i // 60 % 60:02}:{i % 60:02}", "Ann")
            line["body"] = f"{'x' * 1000} {i}  "
            out.write(json.dumps(line) + "\n")
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_export(path, source="signal"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 2500
    # what stays is the time-order window (200 messages) and 2000 reply hashes, not the file
    assert peak < path.stat().st_size / 3


# --- round trip -------------------------------------------------------------------------------


def conversation_records() -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(CONVERSATION):
        date = line.time.replace(tzinfo=None).isoformat()
        files = photo(f"IMG_{n:04}.jpg") if line.kind == Kind.MEDIA else []
        out.append(record(date, line.sender, line.text, attachments=files))
    return out


def test_round_trip_of_every_readers_conversation(tmp_path):
    folder = write_chat(tmp_path / "export" / "Plans", conversation_records())
    for path in (tmp_path / "export", folder / "chat.md"):
        export, messages = read(path)
        assert_same(messages)
        assert not export.problems
        assert {m.chat_name for m in messages} == {"Plans"}
