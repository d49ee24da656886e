"""Telegram Desktop's HTML export (its default format): `messages.html`, `messages2.html`, ...

Each file holds up to 1000 messages as `<div class="message default clearfix" id="message42">`
(`joined` added when the sender is the one before, whose name is then left out) or
`<div class="message service" id="message43">` (joins, pins, calls; `id="message-1"` and the
like are the day separators, not messages). Inside a message:

* `<div class="pull_right date details" title="10.01.2024 12:00:00 UTC+01:00">`: when, in the
  exporting computer's zone; the `UTC+01:00` part is there since 2022 and makes it UTC, older
  exports give the local time only (naive, `tz_known=False`);
* `<div class="from_name">`: the sender, then ` via @bot` when an inline bot wrote the message
  for them (`Ann Lee via @gif`, `Bob  via @ShrugBot`: a name without a last name ends in a
  space), which is not part of the name; `<div class="reply_to details">` with
  `GoToMessage(41)`: a reply; `<div class="forwarded body">` whose own `from_name` is the
  original sender;
* `<div class="text">`: the text, `<br>` for a line break, entities decoded, links and
  formatting reduced to their text;
* `<div class="media_wrap">`: a photo (`photo_wrap`, `media_photo`), video, voice message,
  file, sticker (`sticker_wrap`, or a `media` block titled `Sticker`), location, contact,
  call or poll; a caption is the text beside it.

The page header's `<div class="text bold">` is the chat's name; the files of one folder are one
chat, read in their number order. Parsed with the standard library's `html.parser`, fed a block
at a time, so a file's size does not matter.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.source import Source, base_name

PLATFORM = "telegram"
BLOCK = 1 << 16
_FILE_NAME = re.compile(r"messages(\d*)\.html?", re.IGNORECASE)
_HEAD_MARKS = re.compile(rb'class="history"|class="message (?:default|service)')
_PAGE_MARKS = re.compile(rb'<title>Exported Data</title>|class="page_wrap"')
_TITLE = re.compile(r"(\d\d)\.(\d\d)\.(\d{4}) (\d\d):(\d\d):(\d\d)(?: UTC([+-])(\d\d):(\d\d))?")
_VIA_BOT = re.compile(r"\s+via @\w+$")  # "Ann via @gif": the inline bot used, not the name
_REPLY = re.compile(r"GoToMessage\((\d+)\)|go_to_message(\d+)")
_BREAK = "\x00"  # a <br> until the text is assembled
# the media block's classes and what they are; the first found in a message decides
_MEDIA: list[tuple[str, Kind, str | None]] = [
    ("sticker_wrap", Kind.STICKER, "sticker"),
    ("media_poll", Kind.POLL, None),
    ("media_call", Kind.CALL, None),
    ("media_contact", Kind.CONTACT, None),
    ("media_location", Kind.LOCATION, None),
    ("media_live_location", Kind.LOCATION, None),
    ("media_venue", Kind.LOCATION, None),
    ("media_game", Kind.OTHER, None),
    ("media_invoice", Kind.OTHER, None),
    ("photo_wrap", Kind.MEDIA, "photo"),
    ("media_photo", Kind.MEDIA, "photo"),
    ("video_file_wrap", Kind.MEDIA, "video_file"),
    ("animated_wrap", Kind.MEDIA, "animation"),
    ("media_video", Kind.MEDIA, "video_file"),
    ("media_voice_message", Kind.MEDIA, "voice_message"),
    ("media_audio_file", Kind.MEDIA, "audio_file"),
    ("media_file", Kind.MEDIA, "file"),
    ("media_wrap", Kind.MEDIA, "file"),
]
# a `media` block says what it is in its title (the export writes English whatever the UI)
_MEDIA_TITLES: dict[str, tuple[Kind, str | None]] = {
    "Sticker": (Kind.STICKER, "sticker"),
    "Voice message": (Kind.MEDIA, "voice_message"),
    "Video message": (Kind.MEDIA, "video_message"),
    "Animation": (Kind.MEDIA, "animation"),
}
_VOID = {"br", "img", "meta", "link", "hr", "input", "source", "wbr"}


def is_telegram_html(source: Source) -> bool:
    """Whether a file is a page of Telegram Desktop's HTML export."""
    name = base_name(source.label)
    if not _FILE_NAME.fullmatch(name):
        return False
    try:
        head = source.head(16384)
    except OSError:
        return False
    return bool(_PAGE_MARKS.search(head) and _HEAD_MARKS.search(head))


def is_empty_telegram_page(source: Source) -> bool:
    """Whether a file looks like a page of the export that holds no history at all."""
    if not source.label.lower().endswith((".html", ".htm")):
        return False
    try:
        head = source.head(16384)
    except OSError:
        return False
    return bool(_PAGE_MARKS.search(head)) and not _HEAD_MARKS.search(head)


def find_telegram_html(sources: Sequence[Source]) -> list[Source]:
    """The pages of Telegram HTML exports among `sources`, a folder's in number order."""
    pages = [s for s in sources[:5000] if is_telegram_html(s)]

    def order(source: Source) -> tuple[str, int]:
        name = base_name(source.label)
        number = _FILE_NAME.fullmatch(name)
        return source.label[: len(source.label) - len(name)], int(number[1] or 1) if number else 0

    return sorted(pages, key=order)


class _Page(HTMLParser):
    """One page's messages, collected as the parser goes."""

    def __init__(self, chat: dict[str, Any], problems: Counter[str]):
        super().__init__(convert_charrefs=True)
        self.chat = chat  # name, last sender, carried from page to page
        self.problems = problems
        self.done: list[Message] = []
        self.stack: list[tuple[str, str]] = []  # (tag, role) of the open elements
        self.message: dict[str, Any] | None = None
        self.capture: list[str] | None = None  # where text goes now

    # --- the parser's callbacks -------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br" and self.capture is not None:
                self.capture.append(_BREAK)
            return
        attr = {key: value or "" for key, value in attrs}
        classes = attr.get("class", "").split()
        role = self._role(tag, classes, attr)
        self.stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            open_tag, role = self.stack.pop()
            self._close(role)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.capture is not None:
            self.capture.append(data)

    # --- what the elements are --------------------------------------------------------------

    def _role(self, tag: str, classes: list[str], attr: dict[str, str]) -> str:
        message = self.message
        if tag == "div" and "message" in classes and attr.get("id", "").startswith("message"):
            number = attr["id"].removeprefix("message")
            if number.startswith("-"):
                return "day"  # a date between days, not a message
            self.message = {
                "id": number,
                "service": "service" in classes,
                "joined": "joined" in classes,
                "from": None,
                "text": None,
                "title": None,
                "reply": None,
                "forwarded": None,
                "media": None,
                "service_text": None,
            }
            return "message"
        if message is None:
            if tag == "div" and "details" in classes and self._inside("day"):
                self.capture = []
                return "day_text"
            if tag == "div" and "page_header" in classes:
                return "header"
            if tag == "div" and "text" in classes and self._inside("header"):
                self.capture = []
                return "chat_name"
            return ""
        if self.capture is not None:
            return ""  # markup inside a text: its words are the text
        if tag == "div" and "forwarded" in classes:
            message["forwarded"] = ""
            return "forwarded"
        if "date" in classes and "details" in classes and attr.get("title"):
            if not self._inside("forwarded") and message["title"] is None:
                message["title"] = attr["title"]
            return "date"
        if tag == "div" and "from_name" in classes:
            self.capture = []
            return "forwarded_name" if self._inside("forwarded") else "from"
        if tag == "div" and "reply_to" in classes:
            return "reply"
        if tag == "a" and self._inside("reply"):
            found = _REPLY.search(attr.get("onclick", "") + " " + attr.get("href", ""))
            if found:
                message["reply"] = found[1] or found[2]
            return ""
        if message["media"] is None or message["media"][2] == "media_wrap":
            for mark, kind, media_type in _MEDIA:
                if mark in classes:
                    message["media"] = (kind, media_type, mark)
                    break
        if tag == "div" and "title" in classes and self._inside("media"):
            self.capture = []
            return "media_title"
        text_div = tag == "div" and "text" in classes and message["text"] is None
        if text_div and not self._inside("media"):
            self.capture = []
            return "text"
        if tag == "div" and "body" in classes and "details" in classes and message["service"]:
            self.capture = []
            return "service_text"
        if tag == "div" and ("media" in classes or "media_wrap" in classes):
            return "media"
        return ""

    def _inside(self, role: str) -> bool:
        return any(open_role == role for _, open_role in self.stack)

    def _close(self, role: str) -> None:
        message = self.message
        if role == "media_title" and message is not None:
            title = _assemble(self.capture or [])
            self.capture = None
            if title in _MEDIA_TITLES:
                message["media"] = (*_MEDIA_TITLES[title], "title")
        elif role in ("text", "from", "forwarded_name", "service_text", "chat_name", "day_text"):
            captured = _assemble(self.capture or [])
            self.capture = None
            if role == "chat_name":
                self.chat["name"] = self.chat.get("name") or captured
            elif role == "day_text":
                with contextlib.suppress(ValueError):
                    self.chat["day"] = datetime.strptime(captured, "%d %B %Y")
            elif message is not None:
                if role == "from":
                    captured = _VIA_BOT.sub("", captured)
                key = {"forwarded_name": "forwarded"}.get(role, role)
                message[key] = captured
        elif role == "message" and message is not None:
            self.message = None
            self._finish(message)

    def _finish(self, raw: dict[str, Any]) -> None:
        moment, tz_known = _time(raw["title"])
        if moment is not None:
            self.chat["time"] = (moment, tz_known)
        elif raw["service"]:
            # a notice has no time of its own: the message's before it, else its day's start
            moment, tz_known = self.chat.get("time") or (self.chat.get("day"), False)
        else:
            self.problems["message without a readable date"] += 1
        if raw["service"]:
            kind, sender, text, media_type = Kind.SERVICE, None, raw["service_text"] or "", None
        else:
            sender = raw["from"] if raw["from"] is not None else self.chat.get("last")
            if raw["from"] is not None and not raw["joined"]:
                self.chat["last"] = raw["from"]
            elif raw["joined"] and raw["from"] is None and "last" not in self.chat:
                self.problems["message without a sender"] += 1
            kind, media_type, text = Kind.TEXT, None, raw["text"] or ""
            if raw["media"] is not None:
                kind, media_type, _ = raw["media"]
        forwarded = raw["forwarded"]
        if forwarded:
            forwarded = re.sub(r"\s*\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d.*$", "", forwarded).strip()
        chat = self.chat["id"]
        self.done.append(
            Message(
                platform=PLATFORM,
                chat_id=chat,
                id=raw["id"],
                timestamp=moment,
                sender=sender,
                text=text,
                kind=kind,
                chat_name=self.chat.get("name") or chat,
                tz_known=tz_known,
                media_type=media_type,
                reply_to=raw["reply"],
                forwarded_from=forwarded or None,
            )
        )


def _assemble(parts: list[str]) -> str:
    """The text as the person wrote it: the page's own line breaks and indents dropped, each
    `<br>` a line break."""
    text = "".join(parts).strip()
    text = re.sub(r"\n[ \t]*", "", text)
    return text.replace(_BREAK, "\n").strip(" ")


def _time(title: str | None) -> tuple[datetime | None, bool]:
    match = _TITLE.match(title or "")
    if match is None:
        return None, False
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None, False
    if sign is None:
        return moment, False
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    return (moment - offset).replace(tzinfo=UTC), True


def TelegramHtmlExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """The pages of Telegram HTML exports, a folder a chat."""
    chats: dict[str, dict[str, Any]] = {}

    def read_page(
        source: Source, stream: io.BufferedReader, problems: Counter[str]
    ) -> Iterator[Message]:
        folder = re.split(r"[/\\!](?=[^/\\!]*$)", source.label)[0]
        chat = chats.setdefault(folder, {"id": base_name(folder) or folder})
        page = _Page(chat, problems)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            block = stream.read(BLOCK)
            page.feed(decoder.decode(block, final=not block))
            yield from page.done
            page.done.clear()
            if not block:
                break
        page.close()
        yield from page.done

    return FilesExport(PLATFORM, sources, read_page, label)
