"""The training example record: a reply and the messages that came before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from twinchat.jsonl import Fragment, encode, encode_line


def text_key(text: str) -> str:
    """What two texts are compared by, to tell a copy: casefolded, runs of whitespace as one
    space, none at the ends."""
    return " ".join(text.casefold().split())


class Turn(NamedTuple):
    """One message of a context, reduced to what a model sees."""

    sender: str
    text: str

    def fragment(self) -> Fragment:
        """This turn as JSON, encoded once for every example it appears in."""
        return Fragment(encode({"sender": self.sender, "text": self.text}))


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
    fragments: list[Fragment] | None = field(default=None, repr=False, compare=False)
    """The context already encoded, one fragment a turn (set by the builder)."""

    def to_line(self) -> bytes:
        """One line of `train.jsonl`, newline included."""
        context = self.fragments
        if context is None:
            context = [turn.fragment() for turn in self.context]
        return encode_line(
            {
                "id": self.id,
                "chat": self.chat,
                "session": self.session,
                "timestamp": self.timestamp,
                "speaker": self.speaker,
                "context": context,
                "text": self.text,
            }
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
