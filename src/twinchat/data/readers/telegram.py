"""Telegram Desktop's JSON export (`result.json`): single chats and full-account exports.

Read field by field as tdesktop's `export_output_json.cpp` writes it (../shared/reference/
formats.md §1). The file is streamed with ijson, so memory does not grow with its size.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import CountingStream
from twinchat.data.readers.source import Source, first_line
from twinchat.errors import TwinchatError

PLATFORM = "telegram"
CHAT_LISTS = ("chats", "left_chats")
CALL_ACTIONS = {"phone_call", "group_call"}
OTHER_MEDIA = ("game_title", "invoice_information", "giveaway_information", "todo_list")


class Malformed(ValueError):
    """A message object that does not have the shape the writer gives it."""


@dataclass
class Chat:
    id: str
    name: str | None
    type: str | None


class EscapeFixingStream:
    r"""A byte stream that turns tdesktop's `\xHH` escapes, which JSON forbids, into `\u00HH`.

    An escape can straddle two reads, so a backslash among the last three bytes of a read, and
    the run of backslashes it ends (whose parity decides whether `x` is escaped), waits for the
    next read.
    """

    _escape = re.compile(rb"(\\+)x([0-9a-fA-F]{2})")

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        while True:
            chunk = self.raw.read(size if size > 0 else 1 << 16)
            data = self.pending + chunk
            if not chunk:
                self.pending = b""
                return self._fix(data)
            keep = data.find(b"\\", max(0, len(data) - 3))
            if keep < 0:
                keep = len(data)
            while keep > 0 and data[keep - 1] == 0x5C:
                keep -= 1
            if keep > 0:
                self.pending = data[keep:]
                return self._fix(data[:keep])
            self.pending = data

    def _fix(self, data: bytes) -> bytes:
        if b"\\x" not in data:
            return data
        return self._escape.sub(_unescape, data)

    def close(self) -> None:
        self.raw.close()


def _unescape(match: re.Match[bytes]) -> bytes:
    slashes, code = match.group(1), match.group(2)
    if len(slashes) % 2 == 0:  # the backslash before `x` is itself escaped
        return match.group(0)
    return slashes[:-1] + b"\\u00" + code


class TelegramExport:
    """An opened Telegram export; iterate it for messages, in file order."""

    format = PLATFORM

    def __init__(self, source: Source):
        self.source = source
        self.problems: Counter[str] = Counter()  # messages not read, by why
        self.notes: Counter[str] = Counter()  # odd optional fields left out of messages read
        self.chats = 0
        self._stream: EscapeFixingStream | None = None
        self._counted: CountingStream | None = None  # what `_stream` reads from

    @property
    def bytes_read(self) -> int:
        return self._counted.position if self._counted else 0

    def __iter__(self) -> Iterator[Message]:
        head = self._scan_head()
        try:
            if head.get("layout") == "single":
                yield from self._single_chat(head)
            else:
                yield from self._full_export()
        except ijson.JSONError as err:
            raise TwinchatError(
                f"{self.source.label} is not valid JSON near byte {self.bytes_read:,} "
                f"({first_line(err)}); "
                "the file may be truncated: export the chat again"
            ) from None
        except UnicodeDecodeError as err:
            raise TwinchatError(
                f"{self.source.label} is not valid UTF-8 near byte {self.bytes_read:,} "
                f"({err.reason}); export the chat again from Telegram Desktop"
            ) from None

    def _open(self) -> EscapeFixingStream:
        if self._stream is not None:
            self._stream.close()
        self._counted = CountingStream(self.source.open())
        self._stream = EscapeFixingStream(self._counted)
        return self._stream

    def _scan_head(self) -> dict[str, Any]:
        """Top-level name, type and id of a single-chat export, read before its messages."""
        head: dict[str, Any] = {}
        stream = self._open()
        try:
            for prefix, event, value in ijson.parse(stream, use_float=True):
                if prefix in ("name", "type", "id") and event not in ("start_map", "start_array"):
                    head[prefix] = value
                elif prefix in CHAT_LISTS:
                    head["layout"] = "full"
                    break
                elif prefix == "messages" and event == "start_array":
                    head["layout"] = "single"
                    if {"name", "type", "id"} <= head.keys():
                        break
        except (ijson.JSONError, UnicodeDecodeError) as err:
            if "layout" not in head:
                raise TwinchatError(
                    f"{self.source.label} is not valid JSON near byte {self.bytes_read:,} "
                    f"({first_line(err)}); export the chat again"
                ) from None
        finally:
            stream.close()
        if "layout" not in head:
            raise TwinchatError(
                f"{self.source.label} is JSON but not a Telegram export (no 'messages' or 'chats');"
                " export with Telegram Desktop: Export chat history, format 'Machine-readable JSON'"
            )
        return head

    def _single_chat(self, head: dict[str, Any]) -> Iterator[Message]:
        chat = _chat(head)
        self.chats = 1
        stream = self._open()
        try:
            for obj in ijson.items(stream, "messages.item", use_float=True):
                message = self._convert(obj, chat)
                if message is not None:
                    yield message
        finally:
            stream.close()

    def _full_export(self) -> Iterator[Message]:
        """`chats.list` then `left_chats.list`; a chat listed in both counts once."""
        seen: dict[str, set[str]] = {}
        stream = self._open()
        try:
            events = ijson.parse(stream, use_float=True)
            for prefix, event, _ in events:
                if event == "start_map" and prefix in ("chats.list.item", "left_chats.list.item"):
                    yield from self._chat_messages(events, prefix, seen)
        finally:
            stream.close()

    def _chat_messages(
        self, events: Iterator[tuple[str, str, Any]], prefix: str, seen: dict[str, set[str]]
    ) -> Iterator[Message]:
        info: dict[str, Any] = {}
        chat: Chat | None = None
        messages_prefix = prefix + ".messages.item"
        for sub, event, value in events:
            if sub == prefix and event == "end_map":
                break
            if sub in (f"{prefix}.name", f"{prefix}.type", f"{prefix}.id"):
                info[sub.rsplit(".", 1)[1]] = value
            elif sub == messages_prefix and event not in ("end_map", "end_array"):
                if chat is None:
                    chat = _chat(info)
                    self.chats += chat.id not in seen
                    ids = seen.setdefault(chat.id, set())
                obj = _build(events, event, value) if event.startswith("start_") else value
                message = self._convert(obj, chat)
                if message is not None and message.id not in ids:
                    ids.add(message.id)
                    yield message

    def _convert(self, obj: Any, chat: Chat) -> Message | None:
        try:
            return to_message(obj, chat, self.notes)
        except Malformed as err:
            self.problems[f"malformed message: {err}"] += 1
        except (TypeError, ValueError, AttributeError, OverflowError) as err:
            self.problems[f"malformed message: {type(err).__name__}"] += 1
        return None


def _build(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """Assemble one JSON value from ijson events, starting at its first event."""
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
        elif ev in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def _chat(info: dict[str, Any]) -> Chat:
    name = info.get("name")
    return Chat(
        id=str(info.get("id", "")),
        name=name if isinstance(name, str) else None,
        type=info.get("type") if isinstance(info.get("type"), str) else None,
    )


def to_message(obj: Any, chat: Chat, notes: Counter[str] | None = None) -> Message:
    """Normalize one message object of a Telegram export.

    An odd optional field (`edited`, a poll's question) is left out, counted in `notes`; only
    what a message cannot be without (an id, a readable date, its text) rejects it.

    Raises:
        Malformed: the object lacks what every message has; its text says what, briefly.
    """
    if not isinstance(obj, dict):
        raise Malformed("not an object")
    if not isinstance(obj.get("id"), (int, str)) or isinstance(obj.get("id"), bool):
        raise Malformed("no id")
    kind_of = obj.get("type", "message")
    timestamp, tz_known = _time(obj.get("date_unixtime"), obj.get("date"))
    edited = _edited(obj, notes)
    message = Message(
        platform=PLATFORM,
        chat_id=chat.id,
        chat_name=chat.name,
        chat_type=chat.type,
        id=str(obj["id"]),
        timestamp=timestamp,
        tz_known=tz_known,
        sender=None,
        text=_text(obj.get("text", "")),
        edited=edited,
    )
    if kind_of == "unsupported":
        message.kind = Kind.UNSUPPORTED
    elif kind_of == "service":
        message.sender = _name(obj.get("actor"))
        message.sender_id = _peer(obj.get("actor_id"))
        message.action = _string(obj.get("action")) or "custom"
        message.kind = Kind.CALL if message.action in CALL_ACTIONS else Kind.SERVICE
    else:
        message.sender = _name(obj.get("from"))
        message.sender_id = _peer(obj.get("from_id"))
        _classify(message, obj)
        reply_to = obj.get("reply_to_message_id")
        if isinstance(reply_to, (int, str)) and not isinstance(reply_to, bool):
            message.reply_to = str(reply_to)
        if "forwarded_from" in obj:
            # null when the original sender hid their account
            message.forwarded_from = _name(obj["forwarded_from"]) or "(hidden)"
    return message


def _classify(message: Message, obj: dict[str, Any]) -> None:
    media_type = _string(obj.get("media_type"))
    if media_type == "sticker":
        message.kind = Kind.STICKER
        message.media_type = "sticker"
        message.emoji = _string(obj.get("sticker_emoji"))
    elif "poll" in obj:
        message.kind = Kind.POLL
        poll = obj["poll"] if isinstance(obj["poll"], dict) else {}
        if not message.text:
            with contextlib.suppress(Malformed):  # a poll with an odd question is still a poll
                message.text = _text(poll.get("question", ""))
    elif "location_information" in obj or "place_name" in obj:
        message.kind = Kind.LOCATION
    elif "contact_information" in obj:
        message.kind = Kind.CONTACT
    elif "photo" in obj or "file" in obj or media_type:
        message.kind = Kind.MEDIA
        message.media_type = media_type or ("photo" if "photo" in obj else "file")
    elif any(key in obj for key in OTHER_MEDIA):
        message.kind = Kind.OTHER


def _text(value: Any) -> str:
    """Plain text: a string, or a list of strings and entities joined with no separator."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else _entity_text(part) for part in value)
    if value is None:
        return ""
    raise Malformed(f"text of type {type(value).__name__}")


def _entity_text(part: Any) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("text", ""), str):
        raise Malformed("a text entity without text")
    return part.get("text", "")


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_string = _name  # optional string fields: anything else the writer never produces is dropped


def _peer(value: Any) -> str | None:
    """Peer ids are `user123` since tdesktop 2.7.2; older exports wrote the bare number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return f"user{int(value)}"
    return str(value)


def _edited(obj: dict[str, Any], notes: Counter[str] | None) -> datetime | None:
    """When it was edited, or None: never edited, or a value that cannot be read (counted)."""
    if "edited_unixtime" not in obj and "edited" not in obj:
        return None
    try:
        edited, _ = _time(obj.get("edited_unixtime"), obj.get("edited"))
    except Malformed as err:
        # old tdesktop wrote "never edited" as epoch 0 in local time ("1970-01-01T05:30:00")
        if notes is not None and not str(err).startswith("date in 1970"):
            notes["unreadable 'edited' field (left out; the message is kept)"] += 1
        return None
    return edited


def _time(unixtime: Any, local: Any) -> tuple[datetime | None, bool]:
    """Prefer `date_unixtime` (UTC, since tdesktop 3.7.6); `date` is the exporting PC's clock.

    Raises:
        Malformed: a date that is not one, or not a plausible message date.
    """
    if unixtime not in (None, ""):
        try:
            seconds = int(unixtime)
        except (TypeError, ValueError):
            raise Malformed("date_unixtime is not a number") from None
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise Malformed("date_unixtime out of range") from None
        return _plausible(moment), True
    if isinstance(local, str) and local:
        try:
            moment = datetime.fromisoformat(local)
        except ValueError:
            raise Malformed("date is not an ISO date") from None
        moment = _plausible(moment)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC), True
        return moment, False
    return None, False


def _plausible(moment: datetime) -> datetime:
    """Dates far outside any chat (year 1, year 9999) break local-time arithmetic later."""
    if moment.year == 1970:
        raise Malformed("date in 1970, before any chat")
    if not 1971 <= moment.year <= 9000:
        raise Malformed("date not a plausible message date")
    return moment
