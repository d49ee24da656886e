"""The training example record: a reply and the messages that came before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from twinchat.jsonl import quote


class Turn(NamedTuple):
    """One message of a context, reduced to what a model sees."""

    sender: str
    text: str

    def to_json(self) -> str:
        return f'{{"sender": {quote(self.sender)}, "text": {quote(self.text)}}}'


@dataclass(slots=True)
class Example:
    """A (context → reply) pair; `context` is oldest first."""

    id: str
    chat: str
    session: str
    timestamp: str | None
    speaker: str
    text: str
    context: list[Turn] = field(default_factory=list)
    context_json: str | None = field(default=None, repr=False, compare=False)
    """The context already encoded as JSON, so writing millions of examples stays cheap."""

    def to_json(self) -> str:
        """One line of `train.jsonl`."""
        context = self.context_json
        if context is None:
            context = "[" + ", ".join(turn.to_json() for turn in self.context) + "]"
        return (
            f'{{"id": {quote(self.id)}, "chat": {quote(self.chat)}, '
            f'"session": {quote(self.session)}, "timestamp": {quote(self.timestamp)}, '
            f'"speaker": {quote(self.speaker)}, "context": {context}, "text": {quote(self.text)}}}'
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chat": self.chat,
            "session": self.session,
            "timestamp": self.timestamp,
            "speaker": self.speaker,
            "context": [{"sender": t.sender, "text": t.text} for t in self.context],
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Example:
        return cls(
            id=record["id"],
            chat=record["chat"],
            session=record["session"],
            timestamp=record.get("timestamp"),
            speaker=record["speaker"],
            text=record["text"],
            context=[Turn(t["sender"], t["text"]) for t in record.get("context", [])],
        )
