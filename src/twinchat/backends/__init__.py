"""The model-specific half of a `Suggester`: draw token sequences after a prompt, score them.

`hf` runs the transformers model of a run (an adapter merged in memory); `ct2` runs a
CTranslate2 export of it (`twinchat export RUN --to ct2 -o OUT`), several times faster on a CPU.
Both take the same `Prompt`, token ids of the conversation and of the forced reply start, and
give back token ids, so building the prompt, healing the typed text, decoding and curation stay
in `suggest.py`, shared by both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twinchat.suggest import Sampling

BACKENDS = ("hf", "ct2")


@dataclass(frozen=True)
class Prompt:
    context: list[int]
    """Never empty for a seq2seq model: `Suggester._prompt` fills in an empty conversation."""
    forced: list[int]
    """The forced reply start, without the healed tail's tokens."""
    forced_text: str
    tail: str
    """Typed text the first generated tokens must spell."""


class Speller:
    """Which tokens may come next while the generated text has not yet spelled the typed tail."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        """The text every token id spells."""
        self._cache: dict[str, list[int]] = {}

    def spelled(self, ids: Sequence[int]) -> str:
        return "".join(self.texts[t] if t < len(self.texts) else "" for t in ids)

    def allowed(self, rest: str) -> list[int]:
        """Tokens that spell all of `rest` and maybe more; only when none does, tokens that
        spell a part of it that others can finish (re-spelling a word in pieces is what healing
        avoids). Empty when nothing spells `rest`: a character only byte pieces make, in a
        byte-level vocabulary, whose texts alone are not characters."""
        if rest not in self._cache:
            whole = [i for i, text in enumerate(self.texts) if text.startswith(rest)]
            self._cache[rest] = whole or [
                i
                for i, text in enumerate(self.texts)
                if text and rest.startswith(text) and self.allowed(rest[len(text) :])
            ]
        return self._cache[rest]


class Backend(Protocol):
    """What `Suggester` asks of a model."""

    name: str
    model: Any

    def generate(
        self,
        prompt: Prompt,
        count: int,
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
    ) -> list[list[int]]:
        """`count` sequences of ids after `prompt.forced`, each up to and including the end
        token when it has one; with `prompt.tail`, the first ones spell it (`speller`).
        `greedy` is beam search over `count` beams, otherwise sampling with `settings`."""
        ...

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        """Mean log-probability of each sequence's tokens after the prompt, teacher-forced."""
        ...

    def seed(self, seed: int) -> None:
        """Make the sampling that follows repeatable."""
        ...
