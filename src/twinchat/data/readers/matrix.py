"""Matrix rooms as Element's "Export chat" writes them in format JSON.

The file (`matrix - Room - Chat Export - 2024-01-31.json`, or `export.json` in the zip written
when attachments are included) is `{"room_name", "room_creator", "topic", "export_date",
"exported_by", "messages": [event, ...]}`, each event as the Matrix client-server API gives it
(decrypted when it was encrypted): `type`, `sender` (`@ann:example.org`), `origin_server_ts`
(milliseconds, UTC), `event_id`, `content`.

* `m.room.message`: `msgtype` `m.text`, `m.notice` (a bot's) and `m.emote` (`/me`, with
  `action="me"`) are text; `m.image`, `m.video`, `m.audio`, `m.file` are media, their `body`
  the file's name, or a caption when `filename` is given apart from it; `m.location` is a
  location. A reply's `body` starts with the quoted message (`> <@bob:x> ...` lines and a
  blank line), which is removed; its `m.relates_to.m.in_reply_to.event_id` is `reply_to`.
* `m.sticker` is a sticker, `m.poll.start` (and its unstable name) a poll.
* `m.room.member` events name people: a sender is shown by the `displayname` its last member
  event gave, else by its Matrix id; they and the other state events (name, topic, ...) are
  `Kind.SERVICE`.
* An edit (`m.relates_to.rel_type` `m.replace`) is not a message of its own: the text of the
  message it edits becomes the edit's `m.new_content`. A redacted event (empty `content`) is
  `Kind.DELETED`; an event still encrypted (`m.room.encrypted`) is counted, not read.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.source import Source, base_name, first_line
from twinchat.errors import TwinchatError

PLATFORM = "matrix"
_HEAD = re.compile(rb'^\s*\{\s*"room_name"\s*:')
_MARKS = (b'"exported_by"', b'"export_date"', b'"room_creator"')
_MEDIA = {
    "m.image": "photo",
    "m.video": "video_file",
    "m.audio": "audio_file",
    "m.file": "file",
}
_TEXT = {"m.text", "m.notice", "m.emote"}
_POLLS = {"m.poll.start", "org.matrix.msc3381.poll.start"}
_FALLBACK = re.compile(r"\A(?:> [^\n]*\n)+\n")
# edits change a message already given out, so the last few hundred are kept back a while
WINDOW = 200


def is_matrix(source: Source) -> bool:
    """Whether a file is Element's JSON export of a room."""
    try:
        head = source.head(4096).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return False
    return bool(_HEAD.match(head)) and any(mark in head for mark in _MARKS)


def find_matrix(sources: Sequence[Source]) -> list[Source]:
    """Element's room exports among `sources`."""
    return [
        s
        for s in sources[:200]
        if s.label.lower().endswith(".json") or len(sources) == 1
        if is_matrix(s)
    ]


def read_matrix_file(
    source: Source, stream: io.BufferedReader, problems: Counter[str]
) -> Iterator[Message]:
    """The messages of one room's export, in the file's (time) order."""
    room = base_name(source.label).removesuffix(".json")
    names: dict[str, str] = {}
    held: list[Message] = []  # the latest messages, which an edit may still change
    by_event: dict[str, Message] = {}
    count = 0
    try:
        events = ijson.parse(stream, use_float=True)
        for prefix, event, value in events:
            if prefix == "room_name" and event == "string" and value:
                room = value
            if prefix != "messages.item":
                continue
            count += 1
            message = _convert(build(events, event, value), room, names, by_event, problems, count)
            if message is None:
                continue
            held.append(message)
            by_event[message.id] = message
            if len(held) > WINDOW:
                out = held.pop(0)
                by_event.pop(out.id, None)
                yield out
    except ijson.JSONError as err:
        raise TwinchatError(
            f"{source.label} is not a whole JSON export ({first_line(err)}); export the room "
            "again from Element"
        ) from None
    yield from held


def build(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """One JSON value assembled from ijson's events, starting at its first event."""
    if event not in ("start_map", "start_array"):
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, inner, inner_value in events:
        builder.event(inner, inner_value)
        depth += inner in ("start_map", "start_array")
        depth -= inner in ("end_map", "end_array")
        if not depth:
            break
    return builder.value


def _convert(
    raw: Any,
    room: str,
    names: dict[str, str],
    by_event: dict[str, Message],
    problems: Counter[str],
    number: int,
) -> Message | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        problems["malformed event"] += 1
        return None
    kind_of_event = raw["type"]
    sender_id = raw.get("sender") if isinstance(raw.get("sender"), str) else None
    content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
    if kind_of_event == "m.room.member" and raw.get("state_key"):
        name = content.get("displayname")
        if isinstance(name, str) and name.strip():
            names[raw["state_key"]] = name
    moment = _time(raw.get("origin_server_ts"))
    if moment is None:
        problems["event without a readable time"] += 1
    relates = content.get("m.relates_to") if isinstance(content.get("m.relates_to"), dict) else {}
    if relates.get("rel_type") == "m.replace":
        new = content.get("m.new_content")
        target = by_event.get(str(relates.get("event_id")))
        if target is not None and isinstance(new, dict) and isinstance(new.get("body"), str):
            target.text, target.edited = new["body"], moment
        else:
            problems["edit of a message not in the export"] += 1
        return None
    if kind_of_event == "m.room.encrypted":
        problems["event still encrypted (not read)"] += 1
        return None
    reply = relates.get("m.in_reply_to") if isinstance(relates.get("m.in_reply_to"), dict) else {}
    message = Message(
        platform=PLATFORM,
        chat_id=room,
        id=str(raw.get("event_id") or f"event{number}"),
        timestamp=moment,
        sender=names.get(sender_id, sender_id) if sender_id else None,
        text="",
        kind=Kind.SERVICE,
        chat_name=room,
        chat_type="matrix_room",
        tz_known=moment is not None,
        sender_id=sender_id,
        reply_to=str(reply["event_id"]) if reply.get("event_id") else None,
    )
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    msgtype = content.get("msgtype")
    if kind_of_event == "m.room.message":
        if not content:
            message.kind = Kind.DELETED
        elif msgtype in _TEXT or (msgtype not in _MEDIA and msgtype != "m.location" and body):
            message.kind, message.text = Kind.TEXT, body
            if message.reply_to:
                message.text = _FALLBACK.sub("", body)
            if msgtype == "m.emote":
                message.action = "me"
        elif msgtype in _MEDIA:
            message.kind, message.media_type = Kind.MEDIA, _MEDIA[msgtype]
            filename = content.get("filename")
            if isinstance(filename, str) and filename and filename != body:
                message.text = body  # a caption
        elif msgtype == "m.location":
            message.kind = Kind.LOCATION
        else:
            problems[f"message of type {msgtype!s:.40} (kept as a notice)"] += 1
    elif kind_of_event == "m.sticker":
        message.kind, message.media_type = Kind.STICKER, "sticker"
    elif kind_of_event in _POLLS:
        message.kind = Kind.POLL
    else:
        message.action = kind_of_event
        if kind_of_event == "m.room.member":
            message.text = f"{content.get('displayname') or raw.get('state_key')} " + str(
                content.get("membership", "")
            )
    return message


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def MatrixExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """Element's room exports, a room a file."""
    return FilesExport(PLATFORM, sources, read_matrix_file, label)
