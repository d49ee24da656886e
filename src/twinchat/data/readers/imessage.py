"""Apple Messages' own database, `~/Library/Messages/chat.db` on macOS (iMessage and SMS).

There is no export: the database is read as it is, with the standard `sqlite3` module, opened
read-only (a `file:...?mode=ro` URI). A database inside a zip is first extracted to a private
temporary file (a folder only its owner can open), removed when reading ends. Reading the live
database needs Full Disk Access for the terminal; a copy of it reads anywhere. Facts are from
../shared/reference/formats.md §6 and the table docs of ReagentX/imessage-exporter (read, not
copied: it is GPL).

* Chats: one per `chat` row that `chat_message_join` gives messages. `chat_id` is the chat's
  `guid` (`iMessage;-;+15551234567`), `chat_name` its `display_name`, else its handles (from
  `chat_handle_join`) joined by ", ", else its `chat_identifier`. `chat_type` is
  `private_group` for `style` 43 (or, without a style, more than one handle), else
  `personal_chat`, the words the other readers use. Each chat's messages come in time order
  (`date`, then `ROWID`); chats one after another, by `ROWID`.
* Messages: `id` is the `guid`. `sender` is `me` ("Me" unless given) for `is_from_me` rows,
  with no `sender_id` (the database does not say which of the owner's addresses sent it); else
  the `handle.id` of `handle_id` (a phone number or an email: chat.db knows no names), also as
  `sender_id`. A received message without a handle takes the handle of a one-handle chat.
* Times: `date` is an integer offset from 2001-01-01 00:00:00 UTC, in nanoseconds; values
  below 1e11 are seconds (databases from before macOS 10.13). Timestamps are aware UTC.
* Text: `text`, or when it is NULL or empty the text decoded from `attributedBody`, an
  NSAttributedString archived as a typedstream (`attributed_text`). U+FFFC (object
  replacement), which marks where an attachment sat, is removed, and the text then stripped.
* Tapbacks (`associated_message_type` 2000-2999 added, 3000-3999 removed: loved, liked,
  disliked, laughed, emphasized, questioned, emoji, sticker) are reactions, not messages: they
  are skipped and counted in `tapbacks` by name ("removed" for removals), not in `problems`.
  The message record has no place for reactions.
* Kinds: an unsent message (`date_retracted` set) is `Kind.DELETED` with no text. A row with
  `item_type` other than 0 is a group event, `Kind.SERVICE`, its `action` from `item_type` and
  `group_action_type`: `add` and `remove` (1, 0/1; the person is `other_handle`), `title` (2,
  the new name in `group_title`), `leave` (3, 0), `photo` (3, other), else `other`, with an
  English text ("+1555 added +1666"). A message with attachments (`message_attachment_join`) is
  `Kind.MEDIA`, its text the caption; its first attachment gives `media_type` from its MIME type
  or file name: `photo`, `animation`, `video_file`, `voice_message` (`is_audio_message`),
  `audio_file`, `file`; a sticker (`is_sticker`) is `Kind.STICKER`, a vCard `Kind.CONTACT`, a
  shared location `Kind.LOCATION`. A message of an app extension (`balloon_bundle_id`, other
  than link previews) is `Kind.OTHER`. A row with no text and none of these is
  `Kind.UNSUPPORTED`.
* Replies: `thread_originator_guid` (macOS 11+), the message an inline reply answers, is
  `reply_to`. `reply_to_guid` is not used: macOS fills it for most messages with the message
  before, reply or not.
* Edits: `date_edited` (macOS 13+) is `edited`.

Detection (`find_imessage`): a file named chat.db, else a file that starts with the SQLite
magic (`SQLite format 3\\0`) and has a `message` and a `handle` table (a zip member is
extracted to look). A copy of chat.db made while Messages runs needs its chat.db-wal beside it,
or it lacks the latest messages.

Columns vary with the macOS version, so the reader asks which columns each table has and
selects only those; a missing optional column reads as NULL. The database must have `message`
and `handle` tables; tools and tests trim the others, so without `chat` a chat is named by its
handles, and without `chat_message_join` each handle's messages are one chat.

Rows are streamed with a cursor, one chat at a time. What cannot be read is counted in
`problems`: text not UTF-8 (bytes replaced), an `attributedBody` the decoder does not
understand (the message is kept as `Kind.UNSUPPORTED`), a row without a date or with one out
of range (timestamp None), a received message without a sender, and messages in no chat (not
read). Problems the user can fix (a locked or unreadable file, a SQLite file that is not this
database) raise `TwinchatError`.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from twinchat.atomic import private_open
from twinchat.data.message import Kind, Message
from twinchat.data.readers.source import Source, base_name
from twinchat.errors import TwinchatError

PLATFORM = "imessage"
DB_NAME = "chat.db"
SQLITE_MAGIC = b"SQLite format 3\x00"
SCAN_FILES = 50  # candidates looked at when no file is named chat.db
SCHEMA_BYTES = 1 << 20  # where a zipped database's CREATE TABLE statements are looked for
DISK_MARGIN = 64 << 20  # left free after extracting a zipped database
BUSY_TIMEOUT_S = 2.0  # how long to wait for Messages to release a lock
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
SECONDS_BELOW = 10**11  # a `date` below this counts seconds, not nanoseconds (about 5000 AD)
GROUP_STYLE = 43  # chat.style of a group
PERSONAL_STYLE = 45  # chat.style of a one-to-one chat
LINK_PREVIEW = "com.apple.messages.URLBalloonProvider"
OBJECT_REPLACEMENT = "\ufffc"
REQUIRED_TABLES = ("message", "handle")  # tools and tests trim the others; read what is there
MESSAGE_COLUMNS = (
    "guid",
    "text",
    "attributedBody",
    "handle_id",
    "is_from_me",
    "date",
    "item_type",
    "group_action_type",
    "group_title",
    "other_handle",
    "associated_message_type",
    "thread_originator_guid",
    "balloon_bundle_id",
    "is_audio_message",
    "cache_has_attachments",
    "date_edited",
    "date_retracted",
)
TAPBACKS = ("loved", "liked", "disliked", "laughed", "emphasized", "questioned", "emoji", "sticker")
GROUP_ACTIONS = {(1, 0): "add", (1, 1): "remove", (3, 0): "leave"}
EVENT_TEXTS = {
    "add": "{actor} added {other}",
    "remove": "{actor} removed {other}",
    "title": "{actor} named the conversation “{title}”",
    "leave": "{actor} left the conversation",
    "photo": "{actor} changed the group photo",
}

# typedstream (NSArchiver's format): a version byte 4, an 11-byte signature whose spelling gives
# the byte order, then typed values. Integers are one signed byte, or tag 0x81 (-127) and 2
# bytes, or tag 0x82 (-126) and 4 bytes; 0x84 (-124) starts a new object, class or type string.
# An attributedBody archives an NSAttributedString whose first value is its NSString: after the
# class chain that names `NSString` comes the new type string "+" (counted bytes, `84 01 2B`),
# the length as an integer, and the UTF-8 text.
_SIGNATURES = {b"streamtyped": "little", b"typedstream": "big"}
_STRING_CLASS = b"NSString"
_COUNTED_BYTES = b"\x84\x01+"
_CLASS_TAIL = 16  # the class version and superclass between `NSString` and the "+"
_INT16, _INT32 = 0x81, 0x82
_INT_SIZES = {_INT16: 2, _INT32: 4}


@dataclass(frozen=True)
class Chat:
    id: str
    name: str | None
    type: str
    only_handle: str | None  # the other person of a one-handle chat


def attributed_text(blob: bytes) -> str | None:
    """The text of an NSAttributedString archived as a typedstream (`message.attributedBody`);
    None when the blob is not in the shape macOS writes."""
    if len(blob) < 13 or blob[:2] != b"\x04\x0b":
        return None
    order = _SIGNATURES.get(bytes(blob[2:13]))
    marker = blob.find(_STRING_CLASS, 13)
    if order is None or marker < 0:
        return None
    after_class = marker + len(_STRING_CLASS)
    typed = blob.find(_COUNTED_BYTES, after_class, after_class + _CLASS_TAIL)
    if typed < 0:
        return None
    length, start = _integer(blob, typed + len(_COUNTED_BYTES), order)
    if length is None or length < 0 or start + length > len(blob):
        return None
    try:
        return bytes(blob[start : start + length]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _integer(blob: bytes, at: int, order: str) -> tuple[int | None, int]:
    """A typedstream integer at `at`, and where the next value starts."""
    if at >= len(blob):
        return None, at
    head = blob[at]
    size = _INT_SIZES.get(head)
    if size is None:
        # 0x80-0xFF are negative numbers or other tags, never a length
        return (head, at + 1) if head < 0x80 else (None, at)
    end = at + 1 + size
    if end > len(blob):
        return None, at
    return int.from_bytes(blob[at + 1 : end], order, signed=True), end  # type: ignore[arg-type]


def apple_time(value: int | None) -> datetime | None:
    """A chat.db date: nanoseconds (seconds below 1e11) since 2001-01-01 UTC; 0 is no date.

    Raises:
        OverflowError: a date beyond the years datetime can hold.
    """
    if not value:
        return None
    if abs(value) < SECONDS_BELOW:
        return APPLE_EPOCH + timedelta(seconds=value)
    return APPLE_EPOCH + timedelta(microseconds=value // 1000)


def find_imessage(candidates: list[Source]) -> Source | None:
    """The Messages database among the files of what the user named: a file named chat.db,
    else the first SQLite file that has a `message` and a `handle` table."""
    named = [s for s in candidates if base_name(s.label).lower() == DB_NAME]
    if named:
        return named[0]
    for source in candidates[:SCAN_FILES]:
        if _is_sqlite(source) and _has_tables(source, ("message", "handle")):
            return source
    return None


class IMessageExport:
    """An opened Messages database; iterate it for messages, chat by chat, each in time order."""

    format = PLATFORM

    def __init__(self, source: Source, me: str = "Me"):
        """`source`: the chat.db file; `me`: the sender name of the owner's own messages."""
        self.source = source
        self.me = me
        self.problems: Counter[str] = Counter()
        self.tapbacks: Counter[str] = Counter()  # reactions skipped, by name; not problems
        self.chats = 0
        self._rows = 0
        self._total = 0
        self._handles: dict[int, str] = {}

    @property
    def bytes_read(self) -> int:
        """The share of message rows read, times the file's size."""
        if not self._total:
            return 0
        return self.source.size * min(self._rows, self._total) // self._total

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self.tapbacks.clear()
        self.chats = self._rows = self._total = 0
        try:
            with _local_path(self.source) as path, closing(_connect(path, self._text)) as db:
                yield from self._read(db)
        except sqlite3.Error as err:
            raise _user_error(self.source.label, err) from None

    def _read(self, db: sqlite3.Connection) -> Iterator[Message]:
        tables = _tables(db)
        missing = [table for table in REQUIRED_TABLES if table not in tables]
        if missing:
            raise TwinchatError(
                f"{self.source.label} is a SQLite database but not Apple Messages' (no "
                f"{', '.join(missing)} table); point at ~/Library/Messages/chat.db from macOS "
                "(OS X 10.8 or later), or a copy of it"
            )
        self._handles = dict(db.execute("SELECT ROWID, id FROM handle").fetchall())
        chats = self._chats(db, tables) if "chat" in tables else {}
        joined = "chat_message_join" in tables
        self._total = db.execute(
            "SELECT COUNT(*) FROM " + ("chat_message_join" if joined else "message")
        ).fetchone()[0]
        select = _message_query(db, tables)
        first_attachment = _attachment_query(db, tables)
        chat_ids = [row[0] for row in db.execute(_CHATS_WITH_MESSAGES if joined else _HANDLES)]
        for chat_id in chat_ids:
            chat = chats.get(chat_id) or self._unlisted_chat(db, chat_id, joined)
            self.chats += 1
            for row in db.execute(select, (chat_id,)):
                self._rows += 1
                message = self._message(row, chat)
                if message is None:
                    continue
                if row["attached"] and message.kind in (Kind.TEXT, Kind.UNSUPPORTED, Kind.OTHER):
                    _attach(message, row, db, first_attachment)
                yield message
        orphans = db.execute(_ORPHANS).fetchone()[0] if joined else 0
        if orphans:
            self.problems["message in no chat (not read)"] += orphans

    def _unlisted_chat(self, db: sqlite3.Connection, chat_id: int, joined: bool) -> Chat:
        """A chat with no `chat` row (the table trimmed away): named by its other handles."""
        if joined:
            handle_ids = [
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT m.handle_id FROM chat_message_join j JOIN message m "
                    "ON m.ROWID = j.message_id WHERE j.chat_id = ? AND m.handle_id != 0 "
                    "ORDER BY m.handle_id",
                    (chat_id,),
                )
            ]
        else:
            handle_ids = [chat_id] if chat_id else []
        handles = [self._handles[h] for h in handle_ids if h in self._handles]
        return Chat(
            id=handles[0] if len(handles) == 1 and not joined else str(chat_id),
            name=", ".join(handles) or None,
            type="private_group" if len(handles) > 1 else "personal_chat",
            only_handle=handles[0] if len(handles) == 1 else None,
        )

    def _text(self, data: bytes) -> str:
        """sqlite3's text_factory: one row with bytes that are not UTF-8 must not end reading."""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.problems["text not UTF-8 (bytes replaced)"] += 1
            return data.decode("utf-8", errors="replace")

    def _chats(self, db: sqlite3.Connection, tables: set[str]) -> dict[int, Chat]:
        members: dict[int, list[str]] = {}
        if "chat_handle_join" in tables:
            for chat_id, handle_id in db.execute(
                "SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id"
            ):
                if handle_id in self._handles:
                    members.setdefault(chat_id, []).append(self._handles[handle_id])
        fields = _pick(_columns(db, "chat"), ("guid", "style", "chat_identifier", "display_name"))
        chats: dict[int, Chat] = {}
        for rowid, guid, style, identifier, display_name in db.execute(
            f"SELECT ROWID, {fields} FROM chat"
        ):
            handles = members.get(rowid, [])
            if style in (GROUP_STYLE, PERSONAL_STYLE):
                group = style == GROUP_STYLE
            else:
                group = len(handles) > 1
            chats[rowid] = Chat(
                id=guid or identifier or str(rowid),
                name=display_name or ", ".join(handles) or identifier or None,
                type="private_group" if group else "personal_chat",
                only_handle=handles[0] if len(handles) == 1 else None,
            )
        return chats

    def _message(self, row: sqlite3.Row, chat: Chat) -> Message | None:
        """The message of one row, or None for a tapback (counted in `tapbacks`)."""
        associated = row["associated_message_type"] or 0
        if 2000 <= associated < 4000:
            name = TAPBACKS[associated % 1000] if associated % 1000 < len(TAPBACKS) else "other"
            self.tapbacks[name if associated < 3000 else "removed"] += 1
            return None
        sender, sender_id = self._sender(row, chat)
        message = Message(
            platform=PLATFORM,
            chat_id=chat.id,
            id=row["guid"] or str(row["rowid_"]),
            timestamp=self._time(row["date"], "message without date"),
            sender=sender,
            text="",
            chat_name=chat.name,
            chat_type=chat.type,
            sender_id=sender_id,
            reply_to=row["thread_originator_guid"] or None,
            edited=self._time(row["date_edited"]),
        )
        if row["item_type"]:
            self._group_event(message, row)
            return message
        if sender is None:
            self.problems["message without sender"] += 1
        if row["date_retracted"]:
            message.kind = Kind.DELETED
            return message
        text = self._body(row)
        bundle = row["balloon_bundle_id"]
        if text is None:
            message.kind = Kind.UNSUPPORTED
        elif bundle and not bundle.endswith(LINK_PREVIEW):
            message.kind = Kind.OTHER
        elif not text:
            message.kind = Kind.UNSUPPORTED  # stays so only if it has no attachment
        message.text = text or ""
        return message

    def _sender(self, row: sqlite3.Row, chat: Chat) -> tuple[str | None, str | None]:
        if row["is_from_me"]:
            return self.me, None
        handle = self._handles.get(row["handle_id"]) or chat.only_handle
        return handle, handle

    def _time(self, value: int | None, missing: str | None = None) -> datetime | None:
        try:
            moment = apple_time(value)
        except (OverflowError, TypeError):
            self.problems["date out of range"] += 1
            return None
        if moment is None and missing:
            self.problems[missing] += 1
        return moment

    def _body(self, row: sqlite3.Row) -> str | None:
        """The text of a row, attachment marks removed; None when it cannot be decoded."""
        text = row["text"]
        blob = row["attributedBody"]
        if not text and blob:
            text = attributed_text(blob) if isinstance(blob, bytes) else None
            if text is None:
                self.problems["attributedBody not decodable"] += 1
                return None
        text = text or ""
        if OBJECT_REPLACEMENT in text:
            text = text.replace(OBJECT_REPLACEMENT, "").strip()
        return text

    def _group_event(self, message: Message, row: sqlite3.Row) -> None:
        item, group = row["item_type"], row["group_action_type"] or 0
        action = GROUP_ACTIONS.get((item, group))
        if action is None:
            action = "title" if item == 2 else "photo" if item == 3 else "other"
        message.kind = Kind.SERVICE
        message.action = action
        if action == "other":
            message.text = self._body(row) or ""
            return
        message.text = EVENT_TEXTS[action].format(
            actor=message.sender or "Someone",
            other=self._handles.get(row["other_handle"]) or "someone",
            title=row["group_title"] or "",
        )


def _attach(
    message: Message, row: sqlite3.Row, db: sqlite3.Connection, first_attachment: str | None
) -> None:
    """A message with attachments: its kind and media type from the first one."""
    found = db.execute(first_attachment, (row["rowid_"],)).fetchone() if first_attachment else None
    mime, name, sticker = found if found is not None else (None, None, 0)
    message.kind, message.media_type = _media(mime, name, sticker, row["is_audio_message"])


def _media(
    mime: str | None, name: str | None, sticker: int | None, audio_message: int | None
) -> tuple[Kind, str]:
    if sticker:
        return Kind.STICKER, "sticker"
    if not mime and name:
        mime = mimetypes.guess_type(name, strict=False)[0]
    mime = (mime or "").lower()
    if mime in ("text/vcard", "text/x-vcard", "text/directory"):
        return Kind.CONTACT, "contact"
    if mime == "text/x-vlocation":
        return Kind.LOCATION, "location"
    if mime == "image/gif":
        return Kind.MEDIA, "animation"
    if mime.startswith("image/"):
        return Kind.MEDIA, "photo"
    if mime.startswith("video/"):
        return Kind.MEDIA, "video_file"
    if mime.startswith("audio/"):
        return Kind.MEDIA, "voice_message" if audio_message else "audio_file"
    return Kind.MEDIA, "file"


_CHATS_WITH_MESSAGES = "SELECT DISTINCT chat_id FROM chat_message_join ORDER BY chat_id"
_HANDLES = "SELECT DISTINCT COALESCE(handle_id, 0) FROM message ORDER BY 1"
_ORPHANS = (
    "SELECT COUNT(*) FROM message WHERE ROWID NOT IN (SELECT message_id FROM chat_message_join)"
)


def _message_query(db: sqlite3.Connection, tables: set[str]) -> str:
    """One chat's rows in time order, with only the columns this database has."""
    columns = _columns(db, "message")
    picked = ", ".join(
        f"m.{name} AS {name}" if name.lower() in columns else f"NULL AS {name}"
        for name in MESSAGE_COLUMNS
    )
    if {"text", "attributedbody"} <= columns:  # the blob is needed only when text is missing
        picked = picked.replace(
            "m.attributedBody AS",
            "CASE WHEN m.text IS NULL OR m.text = '' THEN m.attributedBody END AS",
        )
    if "message_attachment_join" in tables:
        attached = "EXISTS (SELECT 1 FROM message_attachment_join a WHERE a.message_id = m.ROWID)"
    elif "cache_has_attachments" in columns:
        attached = "m.cache_has_attachments"
    else:
        attached = "0"
    if "chat_message_join" not in tables:  # one conversation per handle
        return (
            f"SELECT m.ROWID AS rowid_, {picked}, {attached} AS attached "
            "FROM message m WHERE COALESCE(m.handle_id, 0) = ? ORDER BY date, rowid_"
        )
    return (
        f"SELECT m.ROWID AS rowid_, {picked}, {attached} AS attached "
        "FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id "
        "WHERE j.chat_id = ? ORDER BY date, rowid_"
    )


def _attachment_query(db: sqlite3.Connection, tables: set[str]) -> str | None:
    """A message's first attachment: MIME type, file name and sticker flag."""
    if not {"attachment", "message_attachment_join"} <= tables:
        return None
    columns = _columns(db, "attachment")
    name = next((c for c in ("transfer_name", "filename") if c in columns), None)
    fields = [
        "a.mime_type" if "mime_type" in columns else "NULL",
        f"a.{name}" if name else "NULL",
        "a.is_sticker" if "is_sticker" in columns else "0",
    ]
    return (
        f"SELECT {', '.join(fields)} FROM message_attachment_join j "
        "JOIN attachment a ON a.ROWID = j.attachment_id WHERE j.message_id = ? "
        "ORDER BY a.ROWID LIMIT 1"
    )


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1].lower() for row in db.execute(f"PRAGMA table_info({table})")}


def _pick(columns: set[str], names: tuple[str, ...]) -> str:
    return ", ".join(name if name in columns else "NULL" for name in names)


def _connect(path: Path, text_factory: Callable[[bytes], str] | None = None) -> sqlite3.Connection:
    """A read-only connection; nothing is read until the first query."""
    uri = path.resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    db.row_factory = sqlite3.Row
    if text_factory is not None:
        db.text_factory = text_factory
    return db


@contextmanager
def _local_path(source: Source) -> Iterator[Path]:
    """The database as a file sqlite3 can open: itself, or a private copy of a zip member."""
    path = Path(source.label)
    if path.is_file():
        yield path
        return
    room = shutil.disk_usage(tempfile.gettempdir()).free
    if source.size + DISK_MARGIN > room:
        raise TwinchatError(
            f"{source.label}: extracting the database needs {source.size:,} bytes, the "
            f"temporary folder has {room:,} free; unzip it elsewhere and point at chat.db"
        )
    folder = Path(tempfile.mkdtemp(prefix="twinchat-imessage-"))  # only its owner can enter
    try:
        copy = folder / DB_NAME
        try:
            with source.open() as stream, private_open(copy, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        except (OSError, zipfile.BadZipFile) as err:
            raise TwinchatError(
                f"{source.label}: could not extract the database ({err}); unzip it and point "
                "at chat.db"
            ) from None
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _is_sqlite(source: Source) -> bool:
    try:
        return source.head(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _has_tables(source: Source, names: tuple[str, ...]) -> bool:
    if not Path(source.label).is_file():
        # a zip member: its schema's CREATE statements are plain text in the first pages, so
        # it is recognised without copying out a database of gigabytes that may not be one
        head = source.head(SCHEMA_BYTES)
        return all(re.search(rb"CREATE TABLE [\"`\[]?" + n.encode(), head) for n in names)
    try:
        with _local_path(source) as path, closing(_connect(path)) as db:
            return set(names) <= _tables(db)
    except (sqlite3.Error, TwinchatError):
        return False


def _user_error(label: str, err: sqlite3.Error) -> TwinchatError:
    """A one-line error that names the fix for what sqlite3 reported."""
    reason = str(err)
    if "locked" in reason or "busy" in reason:
        fix = "quit Messages, or copy chat.db (and chat.db-wal beside it) and read the copy"
    elif re.search(r"unable to open|authori[sz]ation denied|readonly|permission", reason):
        fix = (
            "give your terminal Full Disk Access (System Settings > Privacy & Security), "
            "or copy chat.db elsewhere and read the copy"
        )
    elif "not a database" in reason or "encrypted" in reason:
        fix = "it is not a SQLite database; copy ~/Library/Messages/chat.db again"
    elif "malformed" in reason or "corrupt" in reason:
        fix = "the file is damaged; copy ~/Library/Messages/chat.db again with Messages closed"
    else:
        fix = "copy ~/Library/Messages/chat.db again and read the copy"
    return TwinchatError(f"cannot read {label} ({reason}); {fix}")


__all__ = [
    "IMessageExport",
    "apple_time",
    "attributed_text",
    "find_imessage",
]
