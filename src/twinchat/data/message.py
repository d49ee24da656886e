"""The normalized message record that every reader emits and every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from twinchat.jsonl import encode_line


class Kind(StrEnum):
    """What a message is; readers keep every kind and the builder decides what to drop."""

    TEXT = "text"
    MEDIA = "media"  # photo, video, file, voice…; `text` holds the caption, if any
    STICKER = "sticker"
    POLL = "poll"
    CALL = "call"
    LOCATION = "location"
    CONTACT = "contact"
    SERVICE = "service"  # joins, title changes, pins…
    DELETED = "deleted"
    UNSUPPORTED = "unsupported"
    OTHER = "other"  # games, invoices, giveaways…


@dataclass(slots=True)
class Message:
    """One message of one chat, whatever app it came from.

    `timestamp` is aware UTC when the export says when it was sent (`tz_known`), else the
    naive local time of the exporting device.
    """

    platform: str
    chat_id: str
    id: str
    timestamp: datetime | None
    sender: str | None
    text: str
    kind: Kind = Kind.TEXT
    chat_name: str | None = None
    chat_type: str | None = None
    tz_known: bool = True
    sender_id: str | None = None
    media_type: str | None = None
    emoji: str | None = None
    reply_to: str | None = None
    forwarded_from: str | None = None
    edited: datetime | None = None
    action: str | None = None

    epoch: float | None = field(init=False, repr=False, compare=False)
    """Seconds since the epoch, naive local times read as if UTC (only gaps matter there)."""

    def __post_init__(self) -> None:
        moment = self.timestamp
        if moment is None:
            self.epoch = None
        elif moment.tzinfo is None:
            self.epoch = moment.replace(tzinfo=UTC).timestamp()
        else:
            self.epoch = moment.timestamp()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to `messages.jsonl`; empty optional fields are left out."""
        record: dict[str, Any] = {
            "platform": self.platform,
            "chat": self.chat_id,
            "chat_name": self.chat_name,
            "chat_type": self.chat_type,
            "id": self.id,
            "timestamp": format_time(self.timestamp),
            "tz_known": self.tz_known,
            "sender": self.sender,
            "sender_id": self.sender_id,
            "text": self.text,
            "kind": str(self.kind),
        }
        for key in ("media_type", "emoji", "reply_to", "forwarded_from", "action"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.edited is not None:
            record["edited"] = format_time(self.edited)
        return record

    def to_line(self) -> bytes:
        """`to_dict` as one line of JSON Lines, newline included; prepare writes millions."""
        record: dict[str, Any] = {
            "platform": self.platform,
            "chat": self.chat_id,
            "chat_name": self.chat_name,
            "chat_type": self.chat_type,
            "id": self.id,
            "timestamp": self.timestamp,  # orjson writes it as format_time does
            "tz_known": self.tz_known,
            "sender": self.sender,
            "sender_id": self.sender_id,
            "text": self.text,
            "kind": self.kind.value,
        }
        if self.media_type is not None:
            record["media_type"] = self.media_type
        if self.emoji is not None:
            record["emoji"] = self.emoji
        if self.reply_to is not None:
            record["reply_to"] = self.reply_to
        if self.forwarded_from is not None:
            record["forwarded_from"] = self.forwarded_from
        if self.action is not None:
            record["action"] = self.action
        if self.edited is not None:
            record["edited"] = self.edited
        return encode_line(record)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Message:
        """Read back a record written by `to_dict`."""
        return cls(
            platform=record["platform"],
            chat_id=record["chat"],
            chat_name=record.get("chat_name"),
            chat_type=record.get("chat_type"),
            id=record["id"],
            timestamp=parse_time(record.get("timestamp")),
            tz_known=record.get("tz_known", True),
            sender=record.get("sender"),
            sender_id=record.get("sender_id"),
            text=record.get("text", ""),
            kind=Kind(record.get("kind", "text")),
            media_type=record.get("media_type"),
            emoji=record.get("emoji"),
            reply_to=record.get("reply_to"),
            forwarded_from=record.get("forwarded_from"),
            edited=parse_time(record.get("edited")),
            action=record.get("action"),
        )


def format_time(moment: datetime | None) -> str | None:
    """ISO 8601; aware times in UTC with a `Z`, naive local times without an offset."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat()
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"  # drop "+00:00"


def parse_time(text: str | None) -> datetime | None:
    """The inverse of `format_time`."""
    if not text:
        return None
    return datetime.fromisoformat(text)
