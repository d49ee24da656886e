"""The CTranslate2 backend: a `twinchat export --to ct2` folder, run by a `Translator` (T5,
FLAN-T5) or a `Generator` (SmolLM2, Qwen, Llama).

CTranslate2 has no logits processor, so a typed tail is healed before generation: the
distribution after the forced reply start (`return_logits_vocab`) is restricted to the tokens
that spell the tail, one is chosen (the likeliest ones for beam search, a draw with the same
temperature and top-p as the rest otherwise), and generation goes on with it as part of the
forced prefix. Sampling keeps what transformers applies unasked: the model's top-k (50 unless
its generation config says otherwise) and repetition penalty, saved in the export's
`twinchat.json` as `generation`; then temperature and top-p, as with transformers. "Greedy" is
beam search over `count` beams.

A draw's log-probability comes with it: CTranslate2's `return_scores` sums the log-softmax of
the logits before temperature, top-k and top-p (only a repetition penalty changes it; then the
draws are scored again), and `_heal` adds that of the healed tokens. A causal model's context is
CTranslate2's static prompt, whose state it keeps: a keystroke and each healing step read only
the forced start. It keeps every static prompt until the model is loaded again, so the kept
contexts are counted and the model reloaded past `static_budget_tokens`. A Translator keeps
nothing between calls; a call encodes the context once for all the draws of a healed start.

Seeds: CTranslate2 seeds each worker thread's random generator once, at its first draw, so a
`seed` makes a process's sequence of draws repeatable, not each call on its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.data.formats import ChatFormat
from twinchat.errors import TwinchatError
from twinchat.inference.backends import Draw, Prompt, Speller, cores, log_softmax, sample
from twinchat.models import SEQ2SEQ

if TYPE_CHECKING:
    import numpy as np

    from twinchat.description import Sampling

# What a device without 16-bit arithmetic (a CPU) computes each 16-bit export type in.
_WITHOUT_HALF = {
    "float16": "float32",
    "bfloat16": "float32",
    "int8_float16": "int8_float32",
    "int8_bfloat16": "int8_float32",
}


class CT2Backend:
    """A CTranslate2 model with the run's tokenizer; token ids map to the export's vocabulary
    one to one (the converter writes the tokenizer's vocabulary in id order)."""

    name = "ct2"
    static_min_tokens = 32
    """A causal model's context is kept between calls from this many tokens on."""
    static_budget_tokens = 2048
    """The context tokens kept at most, all conversations together, before the model is loaded
    again to drop them (a kept token costs 145 kB for SmolLM2-135M: its float32 keys and values
    in every layer)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat_format: ChatFormat,
        generation: dict[str, Any] | None = None,
    ):
        import numpy as np

        self.model = model
        self.tokenizer = tokenizer
        self.format = chat_format
        self.seq2seq = chat_format.family == SEQ2SEQ
        self.end = tokenizer.convert_tokens_to_ids(chat_format.end)
        generation = generation or {}
        self.top_k = min(int(generation.get("top_k", 50)), len(tokenizer))
        """0: the whole vocabulary."""
        self.repetition_penalty = float(generation.get("repetition_penalty", 1.0))
        self._random = np.random.default_rng()
        self._kept: set[tuple[int, ...]] = set()
        """The static prompts CTranslate2 keeps now."""

    @classmethod
    def load(
        cls,
        folder: Path,
        tokenizer: Any,
        chat_format: ChatFormat,
        quantization: str | None = None,
        generation: dict[str, Any] | None = None,
    ) -> CT2Backend:
        """The export in `folder` on the GPU when there is one, else on every CPU core."""
        try:
            import ctranslate2
        except ImportError:
            raise TwinchatError(
                "the ct2 backend needs CTranslate2: pip install 'twinchat[fast]'"
            ) from None
        if not (folder / "model.bin").is_file():
            raise TwinchatError(f"{folder} has no model.bin: export the run again")
        device = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
        runner = ctranslate2.Translator if chat_format.family == SEQ2SEQ else ctranslate2.Generator
        model = runner(
            str(folder),
            device=device,
            compute_type=compute_type(quantization, device),
            inter_threads=1,  # one request at a time, each on all the cores
            intra_threads=0 if device == "cuda" else cores(),
        )
        return cls(model, tokenizer, chat_format, generation)

    def seed(self, seed: int) -> None:
        import ctranslate2
        import numpy as np

        ctranslate2.set_random_seed(seed)
        self._random = np.random.default_rng(seed)

    def generate(
        self,
        prompt: Prompt,
        count: int,
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
        stops: Sequence[str] = (),
    ) -> list[Draw]:
        # `stops` are not watched: CTranslate2 stops a row on a string only through a Python
        # callback, run for every token of every row and not in beam search, whose worker
        # thread lets go of it after the results came back, taking the GIL: a process that
        # exits then aborts (2 runs in 12, CTranslate2 4.8.5). A message ends at its end token,
        # and the Suggester cuts the text at the next speaker's line.
        healing = bool(prompt.tail) and speller is not None
        starts = self._heal(prompt, count, greedy, settings, speller) if healing else [([], 0.0)]
        if not starts:
            return []  # no token spells what was typed
        if greedy:
            return self._beams(prompt, starts, count, settings)
        # One call per distinct start, drawing as many continuations as it was drawn: the
        # prompt is read once per call and shared by its draws, not once per draw.
        times = Counter(tuple(ids) for ids, _ in starts) if healing else Counter({(): count})
        heads = {tuple(ids): logp for ids, logp in starts}
        return [
            draw
            for start, drawn in times.items()
            for draw in self._decode(prompt, [(list(start), heads[start])], drawn, settings)[0]
        ]

    def _beams(
        self,
        prompt: Prompt,
        starts: list[tuple[list[int], float]],
        count: int,
        settings: Sampling,
    ) -> list[Draw]:
        decoded = self._decode(prompt, starts, count, settings, beam=True)
        if len(starts) == 1:
            return decoded[0]
        # Several healed starts each got `count` beams: keep the `count` best overall, by the
        # mean log-probability per token, as transformers ranks its finished beams.
        return sorted((d for row in decoded for d in row), key=lambda d: -d.score)[:count]

    def _decode(
        self,
        prompt: Prompt,
        starts: list[tuple[list[int], float]],
        hypotheses: int,
        settings: Sampling,
        beam: bool = False,
    ) -> list[list[Draw]]:
        """For each healed start (ids, their log-probability), `hypotheses` draws: the start
        and what follows it, capped at `max_new_tokens`."""
        search: dict[str, Any] = {
            "num_hypotheses": hypotheses,
            "return_end_token": True,
            "return_scores": True,
            "repetition_penalty": self.repetition_penalty,
        }
        if beam and hypotheses > 1:
            search["beam_size"] = hypotheses
        else:
            # One beam, sampled or greedy: a score is the sum of the drawn tokens'
            # log-probabilities before temperature, top-k and top-p; length_penalty 0 keeps it
            # a sum instead of dividing it by the length.
            search.update(beam_size=1, length_penalty=0)
        if not beam:
            search.update(
                sampling_topk=self.top_k,
                sampling_topp=settings.top_p,
                sampling_temperature=settings.temperature,
            )
        rows = [ids for ids, _ in starts]
        run = self._translate if self.seq2seq else self._continue
        outputs = run(prompt, rows, settings, search)
        draws = [
            [Draw(ids, head + logp) for ids, logp in row]
            for (_, head), row in zip(starts, outputs, strict=True)
        ]
        return [self._exact(prompt, row, settings) for row in draws]

    def _translate(
        self, prompt: Prompt, rows: list[list[int]], settings: Sampling, search: dict[str, Any]
    ) -> list[list[tuple[list[int], float]]]:
        """For each row of healed ids, its continuations by the Translator: (the row and what
        follows, summed log-probability of what follows)."""
        forced = len(prompt.forced)
        results = self.model.translate_batch(
            [self._tokens(prompt.context)] * len(rows),
            target_prefix=[self._tokens(prompt.forced + row) for row in rows],
            # counts the forced prefix; a shorter limit would cut the prefix itself
            max_decoding_length=forced + max(settings.max_new_tokens, max(map(len, rows))),
            min_decoding_length=0,
            max_input_length=0,  # the context is already cut to max_source_tokens
            end_token=self.format.end,
            **search,
        )
        # the forced prefix scores 0 and counts in a beam's length
        return [
            [
                (self._ids(tokens)[forced:], _summed(score, len(tokens), search))
                for tokens, score in zip(result.hypotheses, result.scores, strict=True)
            ]
            for result in results
        ]

    def _continue(
        self, prompt: Prompt, rows: list[list[int]], settings: Sampling, search: dict[str, Any]
    ) -> list[list[tuple[list[int], float]]]:
        """For each row of healed ids, its continuations by the Generator: (the row and what
        follows, summed log-probability of what follows)."""
        results = self._generate(
            prompt,
            rows,
            max_length=max(settings.max_new_tokens - min(map(len, rows)), 1),
            min_length=0,
            end_token=self.format.end,
            **search,
        )
        return [
            [
                (row + ids, _summed(score, len(ids), search))
                for ids, score in zip(result.sequences_ids, result.scores, strict=True)
            ]
            for row, result in zip(rows, results, strict=True)
        ]

    def _generate(self, prompt: Prompt, rows: list[list[int]], **options: Any) -> list[Any]:
        """`generate_batch` after the prompt and each row. A long context goes as the static
        prompt, whose state CTranslate2 keeps: the next call with the same conversation (a
        keystroke, a healing step, another healed start) reads only what follows it."""
        static = self._static(prompt)
        head = self._head(prompt)[len(static) :]
        return self.model.generate_batch(
            [self._tokens(head + row) for row in rows],
            static_prompt=self._tokens(static) or None,
            cache_static_prompt=True,
            include_prompt_in_result=False,  # the prompt goes through at once
            **options,
        )

    def _static(self, prompt: Prompt) -> list[int]:
        """The context but its last token (what follows a static prompt must not be empty), when
        it is long enough to be worth keeping; else nothing."""
        if len(prompt.context) < self.static_min_tokens:
            return []
        static = prompt.context[:-1]
        key = tuple(static)
        if key not in self._kept:
            if self._kept and sum(map(len, self._kept)) + len(key) > self.static_budget_tokens:
                self._forget()
            self._kept.add(key)
        return static

    def _forget(self) -> None:
        """Empty CTranslate2's cache of static prompts. It keeps every one for the model's life
        and cannot drop one: the model is loaded again (70 ms for SmolLM2-135M in int8)."""
        deadline = time.monotonic() + 1
        # the worker of the last call lets go of it just after its results came back, and
        # the model is not unloaded, silently, while a call is under way
        while self.model.num_active_batches and time.monotonic() < deadline:
            time.sleep(0.001)
        self.model.unload_model()
        if not self.model.model_is_loaded:
            self.model.load_model()
            self._kept.clear()

    def _exact(self, prompt: Prompt, draws: list[Draw], settings: Sampling) -> list[Draw]:
        """`draws` capped at `max_new_tokens`. Those the cap cut (a longer healed start than the
        rest), or all where a repetition penalty changed the log-probabilities CTranslate2
        reports, are scored again, teacher-forced."""
        cap = settings.max_new_tokens
        again = [i for i, d in enumerate(draws) if len(d.ids) > cap or self.repetition_penalty != 1]
        means = self.score(prompt, [draws[i].ids[:cap] for i in again])
        draws = list(draws)
        for i, mean in zip(again, means, strict=True):
            ids = draws[i].ids[:cap]
            draws[i] = Draw(ids, mean * len(ids))
        return draws

    def _heal(
        self, prompt: Prompt, count: int, greedy: bool, settings: Sampling, speller: Speller
    ) -> list[tuple[list[int], float]]:
        """First tokens that spell the typed tail, each with its log-probability: the `count`
        likeliest spellings (beam search), or `count` drawn ones (sampling). A token that spells
        only a part of the tail is followed by another, until the tail is spelled."""
        tail = prompt.tail
        growing: list[tuple[list[int], float]] = [([], 0.0)] * (1 if greedy else count)
        done: list[tuple[list[int], float]] = []
        while growing:
            unique = list(dict.fromkeys(tuple(ids) for ids, _ in growing))
            following = {ids: self._next(prompt, list(ids)) for ids in unique}
            grown = []
            for ids, logp in growing:
                allowed = speller.allowed(tail[len(speller.spelled(ids)) :])
                if not allowed:
                    continue
                options = following[tuple(ids)][allowed]
                if greedy:
                    best = options.argsort()[::-1][:count]
                    grown += [([*ids, allowed[i]], logp + float(options[i])) for i in best]
                else:
                    i = self._draw(options, settings)
                    grown.append(([*ids, allowed[i]], logp + float(options[i])))
            if greedy:
                grown = sorted(grown, key=lambda pair: -pair[1])[:count]
            growing = []
            for ids, logp in grown:
                spelled = len(speller.spelled(ids)) >= len(tail)
                (done if spelled else growing).append((ids, logp))
        return sorted(done, key=lambda pair: -pair[1])[:count] if greedy else done

    def _next(self, prompt: Prompt, ids: list[int]) -> np.ndarray:
        """Log-probabilities of every token after the forced start and `ids`."""
        options = {"return_logits_vocab": True, "beam_size": 1, "end_token": self.format.end}
        if self.seq2seq:
            prefix = prompt.forced + ids
            (result,) = self.model.translate_batch(
                [self._tokens(prompt.context)],
                target_prefix=[self._tokens(prefix)],
                max_decoding_length=len(prefix) + 1,
                min_decoding_length=0,
                max_input_length=0,
                **options,
            )
            logits = result.logits[0][len(prefix)]
        else:
            (result,) = self._generate(prompt, [ids], max_length=1, **options)
            logits = result.logits[0][0]
        return log_softmax(_on_cpu(logits))

    def _draw(self, logp: np.ndarray, settings: Sampling) -> int:
        """An index drawn as transformers samples among the allowed tokens."""
        return sample(logp, settings, self.top_k, self._random)

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        if not sequences:
            return []
        if self.seq2seq:
            # score_batch appends the end token itself: a finished sequence is passed without
            # it, and an unfinished one loses the appended end's log-probability
            finished = [bool(s) and s[-1] == self.end for s in sequences]
            results = self.model.score_batch(
                [self._tokens(prompt.context)] * len(sequences),
                [
                    self._tokens(prompt.forced + (s[:-1] if done else s))
                    for s, done in zip(sequences, finished, strict=True)
                ],
                max_input_length=0,
            )
            logps = [
                r.log_probs if done else r.log_probs[:-1]
                for r, done in zip(results, finished, strict=True)
            ]
        else:
            head = self._head(prompt)
            results = self.model.score_batch([self._tokens(head + s) for s in sequences])
            logps = [r.log_probs for r in results]
        return [
            sum(lp[len(lp) - len(s) :]) / len(s) if s else 0.0
            for lp, s in zip(logps, sequences, strict=True)
        ]

    def _head(self, prompt: Prompt) -> list[int]:
        """A causal model's prompt: the context and the forced start (the end token alone when
        both are empty, as the Generator needs a first token)."""
        return prompt.context + prompt.forced or [self.end]

    def _tokens(self, ids: list[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(ids)

    def _ids(self, tokens: list[str]) -> list[int]:
        return self.tokenizer.convert_tokens_to_ids(tokens)


def compute_type(quantization: str | None, device: str) -> str:
    """The export's own type where the device computes it; 16-bit types run in float32 on a
    CPU (CTranslate2 would convert them too, with a warning each load)."""
    import ctranslate2

    if not quantization:
        return "default"
    if quantization in ctranslate2.get_supported_compute_types(device):
        return quantization
    return _WITHOUT_HALF.get(quantization, "default")


def _summed(score: float, length: int, search: dict[str, Any]) -> float:
    """The summed log-probability behind a hypothesis's score: a beam's is divided by its
    length (length_penalty 1, as transformers ranks beams), one beam's is the sum."""
    return score * length if search["beam_size"] > 1 else score


def _on_cpu(view: Any) -> Any:
    import ctranslate2

    return view if view.device == "cpu" else view.to_device(ctranslate2.Device.cpu)
