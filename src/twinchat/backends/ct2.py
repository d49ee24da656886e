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

Seeds: CTranslate2 seeds each worker thread's random generator once, at its first draw, so a
`seed` makes a process's sequence of draws repeatable, not each call on its own.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.backends import Prompt, Speller
from twinchat.errors import TwinchatError
from twinchat.formats import SEQ2SEQ, ChatFormat

if TYPE_CHECKING:
    import numpy as np

    from twinchat.suggest import Sampling

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
            intra_threads=0 if device == "cuda" else _cores(),
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
    ) -> list[list[int]]:
        healing = bool(prompt.tail) and speller is not None
        starts = self._heal(prompt, count, greedy, settings, speller) if healing else [([], 0.0)]
        if not starts:
            return []  # no token spells what was typed
        if not greedy:
            # One call per distinct start, drawing as many continuations as it was drawn: the
            # context is encoded once per call, not once per candidate.
            times = Counter(tuple(ids) for ids, _ in starts) if healing else {(): count}
            return [
                ids
                for start, drawn in times.items()
                for ids, _ in self._decode(prompt, [list(start)], drawn, settings)[0]
            ]
        decoded = self._decode(prompt, [ids for ids, _ in starts], count, settings, beam=True)
        if len(starts) == 1:
            return [ids for ids, _ in decoded[0]]
        # Several healed starts each got a beam: keep the `count` best overall, by the mean
        # log-probability per generated token, as transformers ranks its finished beams.
        ranked = [
            ((head + tail) / max(len(ids), 1), ids)
            for (_, head), row in zip(starts, decoded, strict=True)
            for ids, tail in row
        ]
        ranked.sort(key=lambda pair: -pair[0])
        return [ids for _, ids in ranked[:count]]

    def _decode(
        self,
        prompt: Prompt,
        rows: list[list[int]],
        hypotheses: int,
        settings: Sampling,
        beam: bool = False,
    ) -> list[list[tuple[list[int], float]]]:
        """For each row of healed ids, `hypotheses` continuations: (the row and what follows it,
        capped at `max_new_tokens`; summed log-probability of what follows)."""
        search: dict[str, Any] = {
            "num_hypotheses": hypotheses,
            "return_end_token": True,
            "repetition_penalty": self.repetition_penalty,
        }
        if beam:
            search.update(beam_size=hypotheses, return_scores=True)
        else:
            search.update(
                beam_size=1,
                sampling_topk=self.top_k,
                sampling_topp=settings.top_p,
                sampling_temperature=settings.temperature,
            )
        longest = max(len(row) for row in rows)
        if self.seq2seq:
            forced = len(prompt.forced)
            results = self.model.translate_batch(
                [self._tokens(prompt.context)] * len(rows),
                target_prefix=[self._tokens(prompt.forced + row) for row in rows],
                # counts the forced prefix; a shorter limit would cut the prefix itself
                max_decoding_length=forced + max(settings.max_new_tokens, longest),
                min_decoding_length=0,
                max_input_length=0,  # the context is already cut to max_source_tokens
                end_token=self.format.end,
                **search,
            )
            outputs = [
                [self._ids(tokens)[forced:] for tokens in result.hypotheses] for result in results
            ]
        else:
            results = self.model.generate_batch(
                [self._tokens(self._head(prompt) + row) for row in rows],
                max_length=max(settings.max_new_tokens - min(len(r) for r in rows), 1),
                min_length=0,
                include_prompt_in_result=False,  # the prompt goes through at once
                end_token=self.format.end,
                **search,
            )
            outputs = [
                [row + ids for ids in result.sequences_ids]
                for row, result in zip(rows, results, strict=True)
            ]
        decoded = []
        for row, result, row_outputs in zip(rows, results, outputs, strict=True):
            scores = result.scores if beam else [0.0] * len(row_outputs)
            # A score is a sum divided by the length returned (the forced prefix included, for
            # a Translator): multiplied back, it is the sum over what follows the row.
            if self.seq2seq:
                lengths = [len(tokens) for tokens in result.hypotheses]
            else:
                lengths = [len(ids) - len(row) for ids in row_outputs]
            decoded.append(
                [
                    (ids[: settings.max_new_tokens], score * length)
                    for ids, score, length in zip(row_outputs, scores, lengths, strict=True)
                ]
            )
        return decoded

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
        import numpy as np

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
            (result,) = self.model.generate_batch(
                [self._tokens(self._head(prompt) + ids)],
                max_length=1,
                include_prompt_in_result=False,
                **options,
            )
            logits = result.logits[0][0]
        values = np.asarray(_on_cpu(logits), dtype=np.float64)
        values -= values.max()
        return values - np.log(np.exp(values).sum())

    def _draw(self, logp: np.ndarray, settings: Sampling) -> int:
        """An index drawn as transformers samples among the allowed tokens: temperature, top-k,
        then top-p."""
        import numpy as np

        scaled = logp / settings.temperature
        order = scaled.argsort()[::-1][: self.top_k or None]
        probs = np.exp(scaled[order] - scaled[order].max())
        probs /= probs.sum()
        before = np.cumsum(probs) - probs
        kept = before < settings.top_p  # the smallest set reaching top_p; never empty
        return int(self._random.choice(order[kept], p=probs[kept] / probs[kept].sum()))

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


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _on_cpu(view: Any) -> Any:
    import ctranslate2

    return view if view.device == "cpu" else view.to_device(ctranslate2.Device.cpu)
