"""How an example becomes model input and target, one function per model family.

The same format serves both uses: the target starts with the speaker's name, so the model
learns who speaks next (the group chat of clones), and inference can force a name as the
start of the target to reply as that person (typeahead, "reply as me"). Every message ends with
the tokenizer's own end-of-sequence token, a boundary it really has. The format is saved in the
run's `twinchat.json`, so inference renders exactly as training did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from twinchat.example import Turn

VERSION = 1
SEQ2SEQ, CAUSAL = "seq2seq", "causal"


@dataclass(frozen=True)
class ChatFormat:
    """The rendering rules of one trained model."""

    family: str
    end: str
    """Ends every message: the tokenizer's end-of-sequence token."""
    speaker_separator: str = ": "
    version: int = VERSION

    def message(self, sender: str, text: str) -> str:
        return f"{sender}{self.speaker_separator}{text}{self.end}"

    def context(self, turns: Sequence[Turn]) -> str:
        """The conversation so far, oldest first, each message ended; causal LMs also get the
        line break that separates messages."""
        joiner = "\n" if self.family == CAUSAL else " "
        return joiner.join(self.message(t.sender, t.text) for t in turns)

    def source(self, turns: Sequence[Turn]) -> str:
        """Encoder input (seq2seq) or the prompt the reply follows (causal)."""
        text = self.context(turns)
        return f"{text}\n" if self.family == CAUSAL and text else text

    def target(self, speaker: str, text: str) -> str:
        """What the model learns to write: `Speaker: text` and the end token."""
        return self.message(speaker, text)

    def reply_prefix(self, speaker: str | None, typed: str = "") -> str:
        """The forced start of a reply: a speaker's name and what the user already typed."""
        if speaker is None:
            return ""
        if not typed:
            # Without a trailing space: tokenizers fold the space into the next word, so a prompt
            # ending in a lone space token is one the model never saw (it answers in digits).
            return f"{speaker}{self.speaker_separator.rstrip()}"
        return f"{speaker}{self.speaker_separator}{typed}"

    def name_tokens(self, tokenizer: Any, speaker: str, target: Sequence[int]) -> int:
        """How many of a target's first token ids spell the speaker's name (0 when they do not):
        what training's validation loss and `reply_loss` leave out, to score the text alone."""
        head = tokenizer(self.reply_prefix(speaker), add_special_tokens=False)["input_ids"]
        return len(head) if list(target[: len(head)]) == head else 0

    def parse_reply(self, generated: str) -> tuple[str | None, str]:
        """Split `Speaker: text` as generated into (speaker, text); the end token is dropped."""
        generated = generated.split(self.end, 1)[0]
        speaker, separator, text = generated.partition(self.speaker_separator.rstrip())
        if not separator or "\n" in speaker:
            return None, generated.strip()
        spaces = self.speaker_separator[len(self.speaker_separator.rstrip()) :]
        return speaker.strip(), text.removeprefix(spaces)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatFormat:
        return cls(**data)


def format_for(family: str, tokenizer: Any) -> ChatFormat:
    """The format of a model family with this tokenizer."""
    if family not in (SEQ2SEQ, CAUSAL):
        raise ValueError(f"unknown model family {family!r}")
    end = tokenizer.eos_token
    if not end:
        raise ValueError("the tokenizer has no end-of-sequence token")
    return ChatFormat(family=family, end=end)
