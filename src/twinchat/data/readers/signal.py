"""Signal chats as carderne/signal-export (PyPI `signal-export`, MIT) writes them.

Signal has no export of its own; signal-export decrypts Signal Desktop's database and writes one
folder per chat, named after the chat (the contact's or group's name with everything but letters
and digits removed: `AliceMartin`), holding:

* `data.json` (since signal-export 2.0.0): JSON Lines, one object per message, in this order of
  keys: `date` (ISO 8601, the exporting computer's local time, no zone), `sender` (the contact's
  name, `Me` for the exporter, `No-Sender` or null when unknown), `body` (the text, with every
  backtick removed and two spaces added: a Markdown line break), `quote` (`""`, or the quoted
  text as `"\\n\\n> line\\n> line\\n\\n"`; plain text in messages merged from an older export),
  `sticker` (`""` or the emoji in old versions; null or `{id, packId, packKey, emoji,
  extension}` in new ones), `reactions` (`[[name, emoji], ...]`), `attachments` (`[{name, path},
  ...]`, the path `media/<file>` with spaces as `%20`), and in later versions `deleted`, `call`,
  `missed` (booleans) and `edits` (earlier versions of an edited message).
* `chat.md` (`index.md` in the first versions): each message as
  `[YYYY-MM-DD HH:MM:SS] Sender: body` and a blank line; older versions wrote
  `[YYYY-MM-DD, HH:MM]` or `[YYYY-MM-DD HH:MM]`. After the body
  come its reactions on a line of their own, `(- Name: 👍, Name: ❤️ -)`, then its sticker,
  `[emoji](../exported_stickers/pack/id.webp)` or on its own line `(( emoji ))`, then its
  attachments, `![name](./media/file)` (images) or `[name](./media/file)`, each with two spaces
  (always under `media/`, which tells them from a link typed in the text).
  A quote comes before the body as a blank line, its `> ` lines, and a blank line. A message
  deleted for everyone is `(This message was deleted)`, without the two spaces.
* `index.html`, `media/`, and at the top `exported_stickers/<pack>/data.json` (sticker packs,
  not chats), `style.css`, `chat.js`: not read.

Rules:

* Which files: `data.json` when the folder has one that reads like signal-export's, else
  `chat.md` (else `index.md`), recognised by name and by their first line (for chat.md, a
  message header among its first 5 lines). A user may name the whole export (each folder with
  such a file is one chat), one chat's folder, one of those files, or a zip of any of these; a
  single `.json` or `.md` file of another name is read when its first line is signal-export's.
  When chat.md starts earlier than data.json (older signal-export merged an older export,
  `--old`, into chat.md only and warned that JSON does not support merging), chat.md is read and
  that is counted.
* Chats: the chat name and id are the folder's name (the zip's name for files at its root).
  `chat_type` is left empty: the export does not say whether a chat is a group.
* Ids: the message's number in its file, from 1 (blank lines aside), so `data.json` and `chat.md`
  of one chat give the same ids.
* Times: naive local time, `tz_known=False`; data.json keeps the milliseconds. signal-export
  dates messages without a time at 1970: those get no timestamp, counted. Each chat comes out in
  time order: signal-export orders by the sending time but dates a message by the earlier of
  that and the server's time, so a message is moved back among the 200 before it; one further
  out of place is moved back 200 places and counted.
* Senders: as written; `Me` stays `Me` (`--me` names the exporter). `No-Sender`, null, and
  `None` in chat.md (a contact without a name) give no sender.
* Text: the body without the two spaces signal-export adds (and without the reactions, sticker
  and attachments chat.md appends); backticks cannot be restored. In chat.md a line of a body
  that itself starts like a header with a name (a pasted chat) starts a new message: only
  data.json can tell.
* Kinds: a deleted message is `Kind.DELETED` with no text. A call (`call` true, or in exports
  without that key a body like `Incoming call`, `Missed voice call`, `Outgoing video call
  (accepted, 2m 5s)`) is `Kind.CALL` with that text, action `missed_call` when `missed` is true or
  the text starts with `Missed`, else `call`. A sticker is `Kind.STICKER`, its emoji in `emoji`
  (none when the sticker has none). A message with attachments is `Kind.MEDIA`, its caption as
  text and `media_type` from the first file's extension (photo, animation, video_file,
  audio_file, file). A message with no text, quote, sticker or attachment is one of Signal's
  events (group changes, timers…) that signal-export writes with an empty body: `Kind.SERVICE`,
  action `event`.
* Replies: the export keeps the quoted text, not which message it was. `reply_to` is the id of
  the latest of the chat's previous 2000 messages whose text is that text (backticks removed);
  when there is none (a quoted photo, or an older message) the link is dropped and counted.
* `edited`: set to the message's own time when `edits` is not empty; the export does not say
  when the message was edited. Reactions are not kept: `Message` has no place for them.
* Problems, counted and never raised: a line of data.json that is not JSON, a message object of
  the wrong shape, bytes not UTF-8 (replaced), text before chat.md's first message, an invalid
  date. A file that cannot be read at all raises `TwinchatError`.

Files are read line by line and one chat at a time, so memory does not grow with their size.
"""

from __future__ import annotations

import heapq
import io
import json
import re
import zipfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.source import SEPARATORS, Source, base_name
from twinchat.errors import TwinchatError

PLATFORM = "signal"
DATA_FILE = "data.json"
CHAT_FILES = ("chat.md", "index.md")  # index.md: the first versions of signal-export
STICKER_FOLDER = "exported_stickers"  # its data.json files describe sticker packs
NO_SENDER = {"No-Sender", ""}  # signal-export's stand-in for a sender it could not find
DELETED = "(This message was deleted)"
MARK = "  "  # signal-export ends every body with two spaces, a Markdown line break
REPLY_WINDOW = 2000  # previous messages a quote is looked up among
ORDER_WINDOW = 200  # how far back a message may be moved to keep a chat in time order
HEAD_LINES = 5  # chat.md is recognised by a message header among its first lines

_JSON_HEAD = re.compile(rb'\s*\{"date": "(\d{4}-\d\d-\d\dT[^"]*)", "sender": ')
_HEADER = re.compile(
    r"\[(\d{4})-(\d\d)-(\d\d),? (\d\d):(\d\d)(?::(\d\d))?\] (?P<sender>.*?):(?: (?P<rest>.*)|$)"
)
_ATTACHMENT_END = re.compile(r"!?\[([^\]\n]*)\]\(\./(media/\S*?)\) *$")
_STICKER_LINK_END = re.compile(r"\[([^\]\n]*)\]\(\.\./" + STICKER_FOLDER + r"/\S*?\) *$")
_STICKER_LINE_END = re.compile(r"\n\(\( (.*) \)\)$")
_REACTIONS_END = re.compile(r"\n\(- .* -\)$")
_CALL = re.compile(r"(?:Incoming|Outgoing|Missed) (?:\w+ )?call(?: \([^)\n]*\))?")

_MEDIA_TYPES = {
    "photo": ("jpg", "jpeg", "png", "webp", "heic", "heif", "tif", "tiff", "bmp", "svg", "apng"),
    "animation": ("gif",),
    "video_file": ("mp4", "mov", "mkv", "mpeg", "mpg", "webm", "qt", "3gp", "m4v", "avi"),
    "audio_file": ("m4a", "aac", "mp3", "ogg", "opus", "wav", "flac", "amr"),
}
_MEDIA_TYPE = {ext: media for media, exts in _MEDIA_TYPES.items() for ext in exts}


class Malformed(ValueError):
    """A message object that does not have the shape signal-export gives it."""


@dataclass(frozen=True)
class SignalChat:
    """One chat of an export: its name and the file to read."""

    name: str
    source: Source
    markdown: bool  # chat.md rather than data.json
    note: str | None = None  # a problem found while choosing the file, counted once


@dataclass
class _Parsed:
    """One message as either file gives it, before it becomes a `Message`."""

    timestamp: datetime | None
    tz_known: bool
    sender: str | None
    text: str
    quote: str | None = None
    sticker: bool = False
    emoji: str | None = None
    attachments: tuple[str, ...] = ()  # file paths or names, for their extension
    deleted: bool = False
    call: bool | None = None  # None: the export does not say
    missed: bool = False
    edited: bool = False


# --- detection ------------------------------------------------------------------------------


def find_signal(candidates: list[Source]) -> list[SignalChat] | None:
    """The chats of a signal-export output among the files of what the user named, or None.

    By name (`data.json`, `chat.md`, `index.md` in a chat folder) and a look at their first
    line; a single file of another name by that look alone. Ask before looking at heads for
    other formats: the export's `exported_stickers/<pack>/data.json` starts `{"id": ...` like a
    Telegram result.json, and chat.md's `[2024-03-01 09:15:00] Name: text` like a WhatsApp
    chat with year-first dates.
    """
    folders: dict[str, dict[str, Source]] = {}
    for source in candidates:
        parts = SEPARATORS.split(source.label)
        name = parts[-1].lower()
        if STICKER_FOLDER in parts[:-1]:
            continue
        if name == DATA_FILE or name in CHAT_FILES:
            folder = source.label[: len(source.label) - len(parts[-1])].rstrip("/\\!")
            folders.setdefault(folder, {})[name] = source
    if not folders and len(candidates) == 1:
        return _single_file(candidates[0])
    chats = [chat for folder, files in folders.items() if (chat := _choose(folder, files))]
    return sorted(chats, key=lambda chat: chat.source.label) or None


def _single_file(source: Source) -> list[SignalChat] | None:
    name = source.label.lower()
    folder = source.label[: len(source.label) - len(base_name(source.label))]
    if name.endswith((".json", ".jsonl")) and _first_date(source, markdown=False):
        return [SignalChat(chat_name(folder), source, markdown=False)]
    if name.endswith(".md") and _first_date(source, markdown=True):
        return [SignalChat(chat_name(folder), source, markdown=True)]
    return None


def _choose(folder: str, files: dict[str, Source]) -> SignalChat | None:
    """data.json if it is signal-export's, else chat.md (or index.md)."""
    name = chat_name(folder)
    data = files.get(DATA_FILE)
    data_first = _first_date(data, markdown=False) if data else None
    text = files.get(CHAT_FILES[0]) or files.get(CHAT_FILES[1])
    text_first = _first_date(text, markdown=True) if text else None
    if data is not None and data_first is not None:
        if text is not None and text_first is not None and _earlier(text_first, data_first):
            note = "chat.md read: data.json lacks the messages merged from an older export"
            return SignalChat(name, text, markdown=True, note=note)
        return SignalChat(name, data, markdown=False)
    if text is not None and text_first is not None:
        return SignalChat(name, text, markdown=True)
    return None


def _first_date(source: Source | None, markdown: bool) -> str | None:
    """The date of the first message, as written, when the file starts like signal-export's."""
    if source is None:
        return None
    try:
        head = source.head()
    except (OSError, zipfile.BadZipFile):
        return None
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not markdown:
        match = _JSON_HEAD.match(head)
        return match[1].decode() if match else None
    lines = [line for line in head.decode("utf-8", errors="replace").split("\n") if line.strip()]
    for line in lines[:HEAD_LINES]:
        if header := _HEADER.match(line.rstrip("\r")):
            return "{}-{}-{}T{}:{}:{}".format(*header.groups("00")[:6])
    return None


def _earlier(markdown_first: str, json_first: str) -> bool:
    """Whether chat.md's first message is more than a minute before data.json's."""
    try:
        a, b = datetime.fromisoformat(markdown_first), datetime.fromisoformat(json_first)
    except ValueError:
        return False
    b = b.replace(tzinfo=None)
    return (b - a).total_seconds() > 60


def chat_name(folder: str) -> str:
    """The chat a folder holds: its name (a zip's name, without `.zip`, for its root)."""
    name = base_name(folder.rstrip("/\\!")) if folder.strip("/\\!") else ""
    if name.lower().endswith(".zip"):
        name = name[:-4]
    if name in ("", ".", ".."):
        name = Path(folder or ".").resolve().name  # a file named without its folder
    return name or PLATFORM


# --- reading --------------------------------------------------------------------------------


class SignalExport(FilesExport):
    """An opened signal-export output; iterate it for messages, chat by chat, in time order."""

    def __init__(self, chats: Sequence[SignalChat], label: str | None = None):
        """`chats`: what `find_signal` found; `label`: how to name them all, by default the
        folder that holds them.

        Raises:
            TwinchatError: no chats.
        """
        if not chats:
            raise TwinchatError("no Signal chats to read; point at signal-export's output")
        self._chats = {id(chat.source): chat for chat in chats}
        super().__init__(PLATFORM, [chat.source for chat in chats], self._read_chat, label)

    def _read_chat(
        self, source: Source, stream: io.BufferedReader, problems: Counter[str]
    ) -> Iterator[Message]:
        chat = self._chats[id(source)]
        if chat.note:
            problems[chat.note] += 1
        lines = (self._decode(raw).rstrip("\r\n") for raw in stream)
        records = self._markdown(lines) if chat.markdown else self._json(lines)
        yield from self._in_time_order(self._messages(chat, records))

    # --- the two files ---

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.problems["not UTF-8 (bytes replaced)"] += 1
            return raw.decode("utf-8", errors="replace")

    def _json(self, lines: Iterator[str]) -> Iterator[_Parsed | None]:
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.problems["line of data.json not JSON"] += 1
                yield None
                continue
            try:
                yield self._from_record(record)
            except (Malformed, TypeError, AttributeError):
                self.problems["malformed message"] += 1
                yield None

    def _from_record(self, record: Any) -> _Parsed:
        if not isinstance(record, dict) or not isinstance(record.get("date"), str):
            raise Malformed("a message needs an object with a date")
        body = record.get("body") or ""
        if not isinstance(body, str):
            raise Malformed("body")
        timestamp, tz_known = self._time(record["date"])
        sticker, emoji = _sticker(record.get("sticker"))
        attachments = record.get("attachments") or []
        if not isinstance(attachments, list):
            raise Malformed("attachments")
        call = record.get("call")
        return _Parsed(
            timestamp=timestamp,
            tz_known=tz_known,
            sender=_sender(record.get("sender")),
            text=body.removesuffix(MARK),
            quote=_quote(record.get("quote")),
            sticker=sticker,
            emoji=emoji,
            attachments=tuple(_file_of(item) for item in attachments),
            deleted=bool(record.get("deleted")),
            call=None if call is None else bool(call),
            missed=bool(record.get("missed")),
            edited=bool(record.get("edits")),
        )

    def _time(self, text: str) -> tuple[datetime | None, bool]:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.problems["invalid date"] += 1
            return None, False
        if moment.year < 1971:  # signal-export's date for a message without one
            self.problems["message without a date (1970)"] += 1
            return None, False
        if moment.tzinfo is not None:
            return moment.astimezone(UTC), True
        return moment, False

    def _markdown(self, file_lines: Iterator[str]) -> Iterator[_Parsed]:
        header: re.Match[str] | None = None
        lines: list[str] = []  # the message's
        for line in file_lines:
            match = _HEADER.match(line)
            if match is not None:
                if header is not None:
                    yield self._from_block(header, lines)
                header, lines = match, [match["rest"] or ""]
            elif header is not None:
                lines.append(line)
            elif line.strip():
                self.problems["text before the first message"] += 1
        if header is not None:
            yield self._from_block(header, lines)

    def _from_block(self, header: re.Match[str], lines: list[str]) -> _Parsed:
        """One message of chat.md: its header and the lines up to the next header."""
        timestamp = None
        try:
            year, month, day, hour, minute = (int(header[i]) for i in range(1, 6))
            timestamp = datetime(year, month, day, hour, minute, int(header[6] or 0))
        except ValueError:
            self.problems["invalid date"] += 1
        if timestamp is not None and timestamp.year < 1971:
            self.problems["message without a date (1970)"] += 1
            timestamp = None
        raw_sender = header["sender"]
        sender = None if raw_sender == "None" else _sender(raw_sender)
        while lines and not lines[-1]:
            lines.pop()  # the blank line after every message
        if lines == [DELETED]:
            return _Parsed(timestamp, False, sender, "", deleted=True)
        quote, lines = _split_quote(lines)
        text, sticker, emoji, attachments = _split_tail("\n".join(lines))
        return _Parsed(
            timestamp,
            False,
            sender,
            text,
            quote=quote,
            sticker=sticker,
            emoji=emoji,
            attachments=attachments,
        )

    # --- messages ---

    def _messages(self, chat: SignalChat, records: Iterable[_Parsed | None]) -> Iterator[Message]:
        replies = _Replies(REPLY_WINDOW)
        for number, parsed in enumerate(records, 1):
            if parsed is None:
                continue
            message = _message(parsed, str(number), chat.name)
            if parsed.quote is not None:
                message.reply_to = replies.find(parsed.quote)
                if message.reply_to is None:
                    self.problems["reply to a message not found (link dropped)"] += 1
            replies.add(message.text, message.id)
            yield message

    def _in_time_order(self, messages: Iterable[Message]) -> Iterator[Message]:
        """Messages sorted by time among the last `ORDER_WINDOW`; undated ones stay in place."""
        heap: list[tuple[float, int, Message]] = []
        key, last = float("-inf"), float("-inf")
        for number, message in enumerate(messages):
            if message.epoch is not None:
                key = message.epoch
            if len(heap) < ORDER_WINDOW:
                heapq.heappush(heap, (key, number, message))
                continue
            earliest, _, out = heapq.heappushpop(heap, (key, number, message))
            last = self._check_order(earliest, last)
            yield out
        while heap:
            earliest, _, out = heapq.heappop(heap)
            last = self._check_order(earliest, last)
            yield out

    def _check_order(self, key: float, last: float) -> float:
        """Count a message earlier than one already given out; the latest time so far."""
        if key < last:
            self.problems["message out of time order"] += 1
            return last
        return key


def _message(parsed: _Parsed, number: str, chat: str) -> Message:
    message = Message(
        platform=PLATFORM,
        chat_id=chat,
        id=number,
        timestamp=parsed.timestamp,
        sender=parsed.sender,
        text=parsed.text,
        chat_name=chat,
        tz_known=parsed.tz_known,
    )
    if parsed.edited:
        message.edited = parsed.timestamp
    call = parsed.call
    if call is None:  # exports before the `call` key: the text signal-export writes for calls
        call = not parsed.attachments and not parsed.sticker and bool(_CALL.fullmatch(parsed.text))
    if parsed.deleted:
        message.kind, message.text = Kind.DELETED, ""
    elif call:
        message.kind = Kind.CALL
        missed = parsed.missed or parsed.text.startswith("Missed")
        message.action = "missed_call" if missed else "call"
    elif parsed.sticker:
        message.kind, message.media_type, message.emoji = Kind.STICKER, "sticker", parsed.emoji
    elif parsed.attachments:
        message.kind, message.media_type = Kind.MEDIA, media_type(parsed.attachments[0])
    elif not parsed.text and parsed.quote is None:
        message.kind, message.action = Kind.SERVICE, "event"
    return message


def media_type(file: str) -> str:
    """photo, animation, video_file, audio_file or file, from a file's extension."""
    name = file.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _MEDIA_TYPE.get(extension, "file")


def _sender(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed("sender")
    return None if value in NO_SENDER else value


def _sticker(value: Any) -> tuple[bool, str | None]:
    """(is a sticker, its emoji): `""`/`"🐺"` in old exports, null or an object in new ones."""
    if not value:
        return False, None
    if isinstance(value, str):
        return True, value
    if isinstance(value, dict):
        emoji = value.get("emoji")
        return True, emoji if isinstance(emoji, str) and emoji else None
    raise Malformed("sticker")


def _quote(value: Any) -> str | None:
    """The quoted text: `"\\n\\n> a\\n> b\\n\\n"`, or plain in merged messages."""
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str):
        return None
    lines = value.strip("\n").split("\n")
    if all(line.startswith(">") for line in lines):
        lines = [_unquote(line) for line in lines]
    text = "\n".join(lines)
    return text if text.strip() else None


def _unquote(line: str) -> str:
    return line[2:] if line.startswith("> ") else line[1:]


def _file_of(item: Any) -> str:
    if not isinstance(item, dict):
        raise Malformed("attachment")
    for key in ("path", "name"):
        if isinstance(item.get(key), str) and item[key]:
            return item[key]
    return ""


def _split_quote(lines: list[str]) -> tuple[str | None, list[str]]:
    """chat.md's quote: after `Sender: `, a blank line, `> ` lines, a blank line."""
    if len(lines) < 3 or lines[0] or lines[1] or not lines[2].startswith(">"):
        return None, lines
    end = 2
    while end < len(lines) and lines[end].startswith(">"):
        end += 1
    quote = "\n".join(_unquote(line) for line in lines[2:end])
    if end < len(lines) and not lines[end]:
        end += 1
    return (quote if quote.strip() else None), lines[end:]


def _split_tail(body: str) -> tuple[str, bool, str | None, tuple[str, ...]]:
    """(text, is a sticker, emoji, attachments) of a chat.md body: what follows the text comes
    off from the end, attachments first, then the sticker, then the reactions."""
    files: list[str] = []
    while match := _ATTACHMENT_END.search(body):
        files.append(match[2])
        body = body[: match.start()]
    files.reverse()
    sticker, emoji = False, None
    if match := _STICKER_LINE_END.search(body) or _STICKER_LINK_END.search(body):
        sticker, emoji = True, match[1] if match[1] != "sticker" else None
        body = body[: match.start()]
    if match := _REACTIONS_END.search(body):
        body = body[: match.start()]
    return body.removesuffix(MARK), sticker, emoji, tuple(files)


class _Replies:
    """Ids of a chat's recent messages by their text, to find the message a quote quotes."""

    def __init__(self, window: int):
        self._ids: dict[int, str] = {}
        self._recent: deque[tuple[int, str]] = deque()
        self._window = window

    def find(self, quote: str) -> str | None:
        return self._ids.get(hash(quote.replace("`", "")))

    def add(self, text: str, message_id: str) -> None:
        if not text:
            return
        key = hash(text)  # a hash, not the text, so the window costs little memory
        self._ids[key] = message_id
        self._recent.append((key, message_id))
        if len(self._recent) > self._window:
            old_key, old_id = self._recent.popleft()
            if self._ids.get(old_key) == old_id:
                del self._ids[old_key]


__all__ = ["SignalChat", "SignalExport", "chat_name", "find_signal", "media_type"]
