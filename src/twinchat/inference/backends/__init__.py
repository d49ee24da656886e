"""The model-specific half of a `Suggester`: draw token sequences after a prompt, score them.

`hf` runs the transformers model of a run (an adapter merged in memory); `ct2` runs a
CTranslate2 export of it (`twinchat export RUN --to ct2 -o OUT`), several times faster on a CPU;
`ort` an onnxruntime-genai export (`--to ort`, causal models), whose kept sessions make a
keystroke of typeahead cost its new tokens. All take the same `Prompt`, token ids of the
conversation and of the forced reply start, and give back `Draw`s: token ids with the
log-probability the model gave them while drawing them, so no second pass is needed to rank
candidates. Building the prompt, healing the typed text, decoding and curation stay in
`suggest.py`, shared by all. `hf` is the reference: another backend draws the same greedy ids
and scores within 1e-3 of its teacher-forced `score`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twinchat.description import Sampling

BACKENDS = ("hf", "hf-int8", "ct2", "ort")


@dataclass(frozen=True)
class Draw:
    """One drawn continuation of a prompt."""

    ids: list[int]
    """Generated ids after `Prompt.forced` (the healed tail's first), the end token last when
    the model ended the message there."""
    logprob: float
    """Summed log-probability of `ids` in the model's own distribution: before temperature,
    top-k, top-p and the healing mask, as a teacher-forced pass would give it."""

    @property
    def score(self) -> float:
        """Mean log-probability per token (0 for no tokens)."""
        return self.logprob / len(self.ids) if self.ids else 0.0


@dataclass(frozen=True)
class Prompt:
    context: list[int]
    """Never empty for a seq2seq model: `Suggester._prompt` fills in an empty conversation."""
    forced: list[int]
    """The forced reply start, without the healed tail's tokens."""
    forced_text: str
    tail: str
    """Typed text the first generated tokens must spell."""


@dataclass(frozen=True)
class Job:
    """Draws asked of one prompt, in a batch of several prompts (`draw_many`)."""

    prompt: Prompt
    count: int
    stops: tuple[str, ...] = ()


def draw_many(
    backend: Backend, jobs: Sequence[Job], greedy: bool, settings: Sampling, speller: Speller | None
) -> list[list[Draw]]:
    """Each job's draws: in one batch where the backend batches prompts (`generate_many`),
    otherwise one prompt after the other."""
    many = getattr(backend, "generate_many", None)
    if many is not None and len(jobs) > 1:
        return many(jobs, greedy, settings, speller)
    return [backend.generate(j.prompt, j.count, greedy, settings, speller, j.stops) for j in jobs]


class Speller:
    """Which tokens may come next while the generated text has not yet spelled the typed tail;
    and the text of drawn tokens (where a message ends).

    The text of every token is computed only when healing first needs it (0.5 s for a 49,152
    token vocabulary); before that, each drawn token's text is decoded alone by `text_of`."""

    def __init__(
        self,
        texts: list[str] | Callable[[], list[str]],
        text_of: Callable[[int], str] | None = None,
    ):
        self._texts = texts if isinstance(texts, list) else None
        self._load = texts if callable(texts) else None
        self._text_of = text_of
        self._single: dict[int, str] = {}
        self._cache: dict[str, list[int]] = {}

    @property
    def texts(self) -> list[str]:
        """The text every token id spells."""
        if self._texts is None:
            assert self._load is not None
            self._texts = self._load()
        return self._texts

    def spelled(self, ids: Sequence[int]) -> str:
        return "".join(self._text(t) for t in ids)

    def _text(self, token: int) -> str:
        if self._texts is not None or self._text_of is None:
            return self.texts[token] if token < len(self.texts) else ""
        if token not in self._single:
            self._single[token] = self._text_of(token)
        return self._single[token]

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


class Watch:
    """What a decoding loop watches as a row grows: the text of its tokens, needed only to heal
    a typed tail or to see a stop; and whether the row's last line starts another message."""

    def __init__(self, prompt: Prompt, speller: Speller | None, stops: Sequence[str]):
        self.speller = speller if prompt.tail or stops else None
        self.stops = frozenset(stops) if speller is not None else frozenset()
        self.lengths = sorted({len(stop) for stop in self.stops})

    def text(self, token: int) -> str:
        """The token's text, or nothing when nothing is watched."""
        return self.speller.spelled([token]) if self.speller is not None else ""

    def stopped(self, text: str) -> bool:
        """Whether the last line of `text` starts another message (stops begin with a line
        break; a chat of hundreds of people has hundreds of them)."""
        line = text.rfind("\n")
        return line >= 0 and any(text[line : line + n] in self.stops for n in self.lengths)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens `a` and `b` share from the start."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def cores() -> int:
    """The CPU cores this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def log_softmax(logits: Any) -> Any:
    """Log-probabilities from one row of logits, in float64 (numpy)."""
    import numpy as np

    values = np.asarray(logits, dtype=np.float64).reshape(-1)
    values = values - values.max()
    return values - np.log(np.exp(values).sum())


def sample(logp: Any, settings: Sampling, top_k: int, random: Any) -> int:
    """An index of `logp` drawn as transformers samples: temperature, top-k (0: all), then
    top-p (numpy; `random` a numpy Generator)."""
    import numpy as np

    scaled = logp / settings.temperature
    if 0 < top_k < len(scaled):
        # the top k without sorting the whole vocabulary (0.3 ms instead of 4 for 49,152)
        best = np.argpartition(-scaled, top_k - 1)[:top_k]
        order = best[np.argsort(-scaled[best], kind="stable")]
    else:
        order = np.argsort(-scaled, kind="stable")
    probs = np.exp(scaled[order] - scaled[order[0]])
    probs /= probs.sum()
    before = np.cumsum(probs) - probs
    kept = before < settings.top_p  # the smallest set reaching top_p; never empty
    return int(random.choice(order[kept], p=probs[kept] / probs[kept].sum()))


def penalize(logp: Any, seen: Sequence[int], penalty: float) -> Any:
    """`logp` with the tokens already seen made less likely, as the hf backend does: a
    negative score multiplied by `penalty`, a positive one divided (a copy; numpy)."""
    import numpy as np

    if penalty == 1.0 or not seen:
        return logp
    out = logp.copy()
    index = np.fromiter(set(seen), dtype=np.int64)
    values = out[index]
    out[index] = np.where(values < 0, values * penalty, values / penalty)
    return out


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
        stops: Sequence[str] = (),
    ) -> list[Draw]:
        """`count` draws after `prompt.forced`, each up to and including the end token when it
        has one; with `prompt.tail`, the first ones spell it (`speller`). `greedy` is beam
        search over `count` beams (plain greedy for one), otherwise sampling with `settings`.
        A row may stop early once a line of its text starts with one of `stops`, which begin
        with a line break (`\nName:`, the next speaker's message)."""
        ...

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        """Mean log-probability of each sequence's tokens after the prompt, teacher-forced."""
        ...

    def seed(self, seed: int) -> None:
        """Make the sampling that follows repeatable."""
        ...

    # A backend that can draw for several prompts in one batch also has
    # `generate_many(jobs, greedy, settings, speller) -> list[list[Draw]]` (see `draw_many`).
