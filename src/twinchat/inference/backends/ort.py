"""The onnxruntime-genai backend: a `twinchat export --to ort` folder (causal models: SmolLM2,
Qwen, Llama), the fastest engine measured on a CPU for typeahead (benchmarks/engines.py).

onnxruntime-genai keeps a model's state between calls and rewinds it (`Generator.rewind_to`),
which is what typeahead needs: a session holds a conversation already read, and a keystroke
rewinds it to the longest prefix it shares with the new prompt and reads only what follows. The
decoding loop is twinchat's own, over the logits each step gives: the same top-k, top-p,
temperature, repetition penalty, healing of a typed tail and stops at the next speaker's line as
the hf backend, and each draw's log-probability summed from the unprocessed distribution.

Rows are drawn one after the other on one reading of the prompt, each rewound to it: no call
copies a state between rows, and a batch of copies would read the prompt once per row (measured:
the same time as rows one after the other, without sharing the session). Beam search keeps its
beams as token lists and re-reads each beam's few tokens after the prompt, in an order that
shares prefixes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.data.formats import ChatFormat
from twinchat.errors import TwinchatError
from twinchat.inference.backends import (
    Draw,
    Prompt,
    Speller,
    Watch,
    common_prefix,
    cores,
    log_softmax,
    penalize,
    sample,
)

if TYPE_CHECKING:
    import numpy as np

    from twinchat.description import Sampling

ROOM_STEP = 256
"""A session's room for tokens grows by this much: onnxruntime-genai sets aside the keys and
values of every position up to it when the session starts."""


class OrtBackend:
    """An onnxruntime-genai model with the run's tokenizer (the same token ids)."""

    name = "ort"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat_format: ChatFormat,
        config: dict[str, Any],
        generation: dict[str, Any] | None = None,
        sessions: int = 8,
        max_bytes: int = 256 * 2**20,
    ):
        import numpy as np

        self.model = model
        self.tokenizer = tokenizer
        self.format = chat_format
        self.end = tokenizer.convert_tokens_to_ids(chat_format.end)
        generation = generation or {}
        self.top_k = min(int(generation.get("top_k", 50)), len(tokenizer))
        self.repetition_penalty = float(generation.get("repetition_penalty", 1.0))
        decoder = config["model"]["decoder"]
        self.context_length = int(config["model"]["context_length"])
        per_token = 2 * 4 * decoder["num_hidden_layers"] * decoder["num_key_value_heads"]
        self.sessions = Sessions(
            self._generator, per_token * decoder["head_size"], sessions, max_bytes
        )
        self._random = np.random.default_rng()
        self.model_folder: Path | None = None
        self.prefilled = 0
        """Prompt tokens the model has read, all calls together (tests count re-reading)."""

    @classmethod
    def load(
        cls,
        folder: Path,
        tokenizer: Any,
        chat_format: ChatFormat,
        generation: dict[str, Any] | None = None,
    ) -> OrtBackend:
        """The export in `folder`, on every CPU core."""
        try:
            import onnxruntime_genai as og
        except ImportError:
            raise TwinchatError(
                "the ort backend needs onnxruntime-genai: pip install 'twinchat[fast]'"
            ) from None
        described = folder / "genai_config.json"
        if not described.is_file():
            raise TwinchatError(f"{folder} has no genai_config.json: export the run again")
        config = og.Config(str(folder))
        config.clear_providers()  # the CPU, whatever the export was built for
        threads = {"intra_op_num_threads": cores(), "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": threads}}}))
        model = og.Model(config)
        own = json.loads(described.read_text(encoding="utf-8"))
        backend = cls(model, tokenizer, chat_format, own, generation)
        backend.model_folder = folder
        return backend

    def seed(self, seed: int) -> None:
        import numpy as np

        self._random = np.random.default_rng(seed)

    def _generator(self, room: int) -> Any:
        import onnxruntime_genai as og

        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=room)
        return og.Generator(self.model, params)

    def generate(
        self,
        prompt: Prompt,
        count: int,
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
        stops: Sequence[str] = (),
    ) -> list[Draw]:
        head = self._head(prompt)
        session = self._session(head, settings.max_new_tokens)
        draw = _Drawing(self, prompt, head, settings, speller, stops)
        if greedy and count > 1:
            return draw.beams(session, count)
        rows = [draw.row(session, greedy) for _ in range(count)]
        return [row for row in rows if row is not None]

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        if not sequences:
            return []
        head = self._head(prompt)
        session = self._session(head, max(map(len, sequences)))
        first = session.read(head)
        means = []
        for sequence in sequences:
            if not sequence:
                means.append(0.0)
                continue
            rows = [first]
            if len(sequence) > 1:
                rows += session.read_all(head + sequence[:-1], len(head))
            total = sum(float(row[t]) for row, t in zip(rows, sequence, strict=True))
            means.append(total / len(sequence))
        return means

    def _session(self, head: list[int], new: int) -> Session:
        """A session holding as much of `head` as any, with room for `new` more tokens."""
        need = len(head) + new + 1
        if need > self.context_length:
            raise TwinchatError(
                f"the prompt and reply ({need} tokens) pass the model's {self.context_length}: "
                f"lower max_source_tokens or max_new_tokens"
            )
        session = self.sessions.find(head, need)
        before = session.read_tokens
        session.read(head)
        self.prefilled += session.read_tokens - before
        return session

    def _head(self, prompt: Prompt) -> list[int]:
        """The prompt (the end token alone when it is empty: a model needs a first token)."""
        return prompt.context + prompt.forced or [self.end]


class Session:
    """One onnxruntime-genai generator and the tokens it holds; reading a prompt rewinds it to
    the longest prefix they share and reads the rest."""

    def __init__(self, generator: Any, room: int):
        self.generator = generator
        self.room = room
        self.tokens: list[int] = []
        self.read_tokens = 0
        """Tokens read so far (the cost of this session)."""
        self._known: tuple[tuple[int, ...], Any] | None = None
        """The last prompt read and the log-probabilities after it: drawing again after it is
        a rewind, not a reading."""

    def read(self, ids: list[int]) -> np.ndarray:
        """Log-probabilities of what follows `ids`, the session left holding `ids`."""
        known = self._known
        if known is not None and known[0] == tuple(ids) and self.tokens[: len(ids)] == ids:
            self._rewind(len(ids))
            return known[1]
        keep = min(common_prefix(self.tokens, ids), len(ids) - 1)
        logits = self._append(ids, keep)[-1]
        logp = log_softmax(logits)
        self._known = (tuple(ids), logp)
        return logp

    def read_all(self, ids: list[int], start: int) -> list[np.ndarray]:
        """Log-probabilities after each of `ids[start:]` (teacher-forced)."""
        keep = min(common_prefix(self.tokens, ids), start)
        rows = self._append(ids, keep)
        return [log_softmax(row) for row in rows[start - keep :]]

    def step(self, token: int) -> np.ndarray:
        """Log-probabilities after one more token."""
        self.generator.append_tokens(_array([token]))
        self.tokens.append(token)
        return log_softmax(self.generator.get_logits())

    def _append(self, ids: list[int], keep: int) -> np.ndarray:
        """Rewound to `ids[:keep]`, `ids[keep:]` read; the logits after each of them."""
        self._rewind(keep)
        self.generator.append_tokens(_array(ids[keep:]))
        self.tokens = list(ids)
        self.read_tokens += len(ids) - keep
        (rows,) = self.generator.get_output("logits")
        return rows

    def _rewind(self, length: int) -> None:
        if length < len(self.tokens):
            self.generator.rewind_to(length)
            del self.tokens[length:]


class Sessions:
    """Sessions by what they hold, least recently used dropped first once over `entries` or
    `max_bytes` (each holds room for `room` tokens, set aside when it starts)."""

    def __init__(
        self, make: Any, bytes_per_token: int, entries: int = 8, max_bytes: int = 256 * 2**20
    ):
        self.make = make
        self.bytes_per_token = bytes_per_token
        self.entries = entries
        self.max_bytes = max_bytes
        self.kept: list[Session] = []

    @property
    def size(self) -> int:
        """Bytes set aside."""
        return sum(s.room for s in self.kept) * self.bytes_per_token

    def find(self, ids: list[int], need: int) -> Session:
        """The session sharing the longest prefix with `ids`, when that is at least half of
        them (a keystroke, the next message) and it has room for `need` tokens; else a new one.
        A conversation that shares only its first lines with another gets a session of its own,
        so two conversations in turn do not read each other away."""
        best, length = None, 0
        for session in self.kept:
            common = common_prefix(session.tokens, ids)
            if common > length or best is None:
                best, length = session, common
        if best is not None and 2 * length >= len(ids) and best.room >= need:
            self.kept.remove(best)
            self.kept.append(best)
            return best
        if best is not None and 2 * length >= len(ids):
            self.kept.remove(best)  # outgrown: read again in a larger one
        room = -(-need // ROOM_STEP) * ROOM_STEP
        while self.kept and (
            len(self.kept) >= self.entries
            or self.size + room * self.bytes_per_token > self.max_bytes
        ):
            self.kept.pop(0)
        session = Session(self.make(room), room)
        self.kept.append(session)
        return session

    def __len__(self) -> int:
        return len(self.kept)

    def clear(self) -> None:
        self.kept.clear()


class _Drawing:
    """Draws after one prompt: rows one after the other, or beams."""

    def __init__(
        self,
        backend: OrtBackend,
        prompt: Prompt,
        head: list[int],
        settings: Sampling,
        speller: Speller | None,
        stops: Sequence[str],
    ):
        self.backend = backend
        self.prompt = prompt
        self.head = head
        self.settings = settings
        self.watch = Watch(prompt, speller, stops)
        self.speller = self.watch.speller

    def row(self, session: Session, greedy: bool) -> Draw | None:
        """One row, greedy or sampled; None when no token spells the typed tail."""
        logp = session.read(self.head)
        ids: list[int] = []
        total, text = 0.0, ""
        for step in range(self.settings.max_new_tokens):
            scores = self._processed(logp, ids, text)
            if scores is None:
                return None
            if greedy:
                token = int(scores.argmax())
            else:
                token = sample(scores, self.settings, self.backend.top_k, self.backend._random)
            ids.append(token)
            total += float(logp[token])
            text += self.watch.text(token)
            if self._ends(token, text) or step + 1 == self.settings.max_new_tokens:
                break
            logp = session.step(token)
        return Draw(ids, total)

    def beams(self, session: Session, count: int) -> list[Draw]:
        """Beam search over `count` beams, ranked as transformers ranks finished beams (mean
        processed log-probability per token); each with its unprocessed log-probability."""
        live: list[_Beam] = [_Beam([], 0.0, 0.0, "")]
        done: list[_Beam] = []
        for _ in range(self.settings.max_new_tokens):
            grown: list[_Beam] = []
            # sorted by ids: neighbours share prefixes, and the session rewinds only to them
            for beam in sorted(live, key=lambda b: b.ids):
                logp = session.read(self.head + beam.ids)
                scores = self._processed(logp, beam.ids, beam.text)
                if scores is None:
                    continue
                best = _top(scores, count)
                grown += [
                    _Beam(
                        [*beam.ids, t],
                        beam.ranked + float(scores[t]),
                        beam.logprob + float(logp[t]),
                        beam.text + self.watch.text(t),
                    )
                    for t in best
                ]
            live = []
            for beam in sorted(grown, key=lambda b: -b.ranked):
                ended = self._ends(beam.ids[-1], beam.text)
                (done if ended else live).append(beam)
                if len(live) == count:
                    break
            if not live or len(done) >= count:
                break
        ranked = sorted(done + live, key=lambda b: -b.ranked / max(len(b.ids), 1))
        return [Draw(b.ids, b.logprob) for b in ranked[:count]]

    def _processed(self, logp: np.ndarray, ids: list[int], text: str) -> np.ndarray | None:
        """The scores a token is chosen by: repetition penalty and, while the typed tail is not
        spelled, only tokens that go on spelling it (None when none does)."""
        seen = [*self.prompt.context, *self.prompt.forced, *ids]
        scores = penalize(logp, seen, self.backend.repetition_penalty)
        tail = self.prompt.tail
        if tail and self.speller is not None and len(text) < len(tail):
            import numpy as np

            allowed = self.speller.allowed(tail[len(text) :])
            if not allowed:
                return None
            masked = np.full_like(scores, -np.inf)
            masked[allowed] = scores[allowed]
            return masked
        return scores

    def _ends(self, token: int, text: str) -> bool:
        """The end token, or a last line that starts another message."""
        return token == self.backend.end or self.watch.stopped(text)


class _Beam:
    __slots__ = ("ids", "logprob", "ranked", "text")

    def __init__(self, ids: list[int], ranked: float, logprob: float, text: str):
        self.ids = ids
        self.ranked = ranked
        self.logprob = logprob
        self.text = text


def _top(scores: np.ndarray, count: int) -> list[int]:
    """The `count` best finite indices, best first."""
    import numpy as np

    count = min(count, len(scores))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [int(t) for t in best if np.isfinite(scores[t])]


def _array(ids: Sequence[int]) -> np.ndarray:
    import numpy as np

    return np.asarray([ids], dtype=np.int32)
