"""How an example becomes model input and target, one function per model family.

The same format serves both uses: the target starts with the speaker's name, so the model
learns who speaks next (the group chat of clones), and inference can force a name as the
start of the target to reply as that person (typeahead, "reply as me"). Every message ends with
the tokenizer's own end-of-sequence token, a boundary it really has. The format is saved in the
run's `twinchat.json`, so inference renders exactly as training did.

Names and texts come from chat participants, so neither may forge the format: a special token's
text (`<|im_end|>`, `</s>`) written in a message gets a fullwidth first character (`＜|im_end|>`)
and is read as plain text by the tokenizer; a line break in a name becomes a space; and a line
of a message that reads like another message's start (`\nBob: hi`) gets the look-alike colon
U+A789 (`Bob꞉ hi`), which `parse_reply` turns back into `:`. Training and serving both render
through `message` and `reply_prefix`, so they agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from twinchat.data.example import Turn
from twinchat.models import CAUSAL, SEQ2SEQ

VERSION = 1

# The shape of ChatML and GPT special tokens, neutralized even where a run's format predates
# `specials` (runs trained before it knew them).
_SPECIAL_SHAPE = r"<\|[^\s<>|]{1,40}\|>"
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
LOOKALIKE_COLON = "\ua789"
"""What a message line's `Name:` colon becomes, so it never reads as another message's start."""
_MAX_NAME = 40  # as conversation.py reads `Name: text` lines
_WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class ChatFormat:
    """The rendering rules of one trained model."""

    family: str
    end: str
    """Ends every message: the tokenizer's end-of-sequence token."""
    speaker_separator: str = ": "
    version: int = VERSION
    specials: tuple[str, ...] = ()
    """The tokenizer's other special tokens' texts, kept out of names and texts like `end`."""

    def message(self, sender: str, text: str) -> str:
        return f"{self.name(sender)}{self.speaker_separator}{self.text(text)}{self.end}"

    def name(self, sender: str) -> str:
        """A sender name as the model reads it: on one line, with no special token in it."""
        return self._neutral(_LINE_BREAKS.sub(" ", sender))

    def text(self, text: str) -> str:
        """A message text as the model reads it: no special token, and no line that starts
        like another message (`\nBob: hi` keeps its words, with the colon U+A789)."""
        return self._forged_line.sub(rf"\1{LOOKALIKE_COLON}", self._neutral(text))

    def _neutral(self, text: str) -> str:
        if not any(c in text for c in self._special_starts):  # the common case: nothing to do
            return text
        return self._special.sub(_defused, text)

    @cached_property
    def _special(self) -> re.Pattern[str]:
        tokens = sorted({self.end, *self.specials} - {""}, key=len, reverse=True)
        return re.compile("|".join([*map(re.escape, tokens), _SPECIAL_SHAPE]))

    @cached_property
    def _special_starts(self) -> frozenset[str]:
        return frozenset(token[0] for token in (self.end, *self.specials, "<") if token)

    @cached_property
    def _forged_line(self) -> re.Pattern[str]:
        colon = re.escape(self.speaker_separator.rstrip() or ":")
        return re.compile(rf"(\n[^\S\n]*[^\s:][^\n:]{{0,{_MAX_NAME - 1}}}){colon}(?=\s|$)")

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
            return f"{self.name(speaker)}{self.speaker_separator.rstrip()}"
        return f"{self.name(speaker)}{self.speaker_separator}{self.text(typed)}"

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
        return speaker.strip(), text.removeprefix(spaces).replace(LOOKALIKE_COLON, ":")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.specials:  # as formats were written before it: older twinchats read it
            del data["specials"]
        else:
            data["specials"] = list(self.specials)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatFormat:
        return cls(**{**data, "specials": tuple(data.get("specials", ()))})


def format_for(family: str, tokenizer: Any) -> ChatFormat:
    """The format of a model family with this tokenizer."""
    if family not in (SEQ2SEQ, CAUSAL):
        raise ValueError(f"unknown model family {family!r}")
    end = tokenizer.eos_token
    if not end:
        raise ValueError("the tokenizer has no end-of-sequence token")
    return ChatFormat(family=family, end=end, specials=_special_tokens(tokenizer, end))


def _special_tokens(tokenizer: Any, end: str) -> tuple[str, ...]:
    """The texts the tokenizer reads as one special token, whatever surrounds them."""
    found: Iterable[str] = getattr(tokenizer, "all_special_tokens", ())
    added = getattr(tokenizer, "added_tokens_decoder", {})
    found = [*found, *(t.content for t in added.values() if getattr(t, "special", False))]
    return tuple(sorted({t for t in found if t and t != end and not t.isspace()}))


def _defused(match: re.Match[str]) -> str:
    """A special token's text that no tokenizer reads as the token: its first character
    fullwidth (`＜|im_end|>`), or followed by a word joiner where it has no fullwidth form."""
    token = match.group()
    first = token[0]
    if "!" <= first <= "~":
        return chr(ord(first) + 0xFEE0) + token[1:]
    return first + _WORD_JOINER + token[1:]
