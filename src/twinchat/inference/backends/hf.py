"""The transformers backend: a decoding loop over the model's own cache, and one teacher-forced
forward pass for scores.

A conversation is read once. Its cache is copied to every row that samples, each draw's score
is the log-probability the model gave its tokens while drawing them, and finished rows leave the
batch. Read prompts are kept (`PromptCache`): a keystroke of typeahead, the next message of a
group chat or the scoring of a drawn reply re-reads only what follows the longest prefix already
read. A seq2seq model keeps its encoding of the conversation the same way, and its decoder's
reading of the reply start (the speaker's name and what was typed) under both, so that a
keystroke reads the few tokens it changed.

Beam search (`greedy` with several beams) stays with transformers' `generate`, scored by one
teacher-forced pass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.data.formats import ChatFormat
from twinchat.inference.backends import Draw, Job, Prompt, Speller, Watch, common_prefix
from twinchat.models import SEQ2SEQ

if TYPE_CHECKING:
    import torch

    from twinchat.description import Sampling


class HFBackend:
    """A transformers model (seq2seq or causal) in evaluation mode."""

    name = "hf"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat_format: ChatFormat,
        cache: PromptCache | None = None,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.format = chat_format
        self.seq2seq = chat_format.family == SEQ2SEQ
        self.end = tokenizer.convert_tokens_to_ids(chat_format.end)
        self.cache = cache or PromptCache()
        generation = getattr(model, "generation_config", None)
        top_k = getattr(generation, "top_k", None)
        self.top_k = 50 if top_k is None else int(top_k)
        """What transformers' `generate` applies unasked; 0 is the whole vocabulary."""
        self.repetition_penalty = float(getattr(generation, "repetition_penalty", None) or 1.0)
        self.prefilled = 0
        """Prompt tokens the model has read, all calls together (tests count re-reading)."""
        self.decoded = 0
        """Reply-start tokens a seq2seq decoder has read, all calls together."""

    def seed(self, seed: int) -> None:
        import torch

        torch.manual_seed(seed)

    def generate(
        self,
        prompt: Prompt,
        count: int,
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
        stops: Sequence[str] = (),
    ) -> list[Draw]:
        if greedy and count > 1:
            return self._beams(prompt, count, settings, speller)
        (draws,) = self.generate_many([Job(prompt, count, tuple(stops))], greedy, settings, speller)
        return draws

    def generate_many(
        self, jobs: Sequence[Job], greedy: bool, settings: Sampling, speller: Speller | None
    ) -> list[list[Draw]]:
        """Every job's draws in one batch: their prompts read together (padded), every row
        drawn in the same steps. Beams (greedy with several rows) go one job at a time."""
        if greedy and any(job.count > 1 for job in jobs):
            return [
                self.generate(job.prompt, job.count, True, settings, speller, job.stops)
                for job in jobs
            ]
        import torch

        with torch.inference_mode():
            return _Decoding(self, jobs, greedy, settings, speller).run()

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        import torch

        if not sequences:
            return []
        generated, mask = _padded(sequences, self.tokenizer.pad_token_id or 0)
        width = generated.shape[1]
        with torch.inference_mode():
            state = self._read(prompt)
            state.expand(len(sequences))
            logits = state.logits.unsqueeze(1)
            if width > 1:
                # Padding follows each sequence: earlier positions never see it.
                logits = torch.cat([logits, state.forward(generated[:, :-1])], dim=1)
            logits = logits.float()
        chosen = logits.log_softmax(-1).gather(-1, generated.unsqueeze(-1)).squeeze(-1)
        totals = (chosen * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        return totals.tolist()

    def _read(self, prompt: Prompt) -> _State:
        """The model after the prompt, one row: its cache and the logits of what comes next."""
        if self.seq2seq:
            return self._read_seq2seq(prompt)
        return self._read_causal(prompt.context + prompt.forced or [self.end])

    def _read_many(self, prompts: Sequence[Prompt]) -> _State:
        """The model after each prompt, a row each. One prompt is read through the kept cache;
        several are read together, padded on the left (the decoder's side) and masked."""
        if len(prompts) == 1:
            return self._read(prompts[0])
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        pad = self.tokenizer.pad_token_id or 0  # any id: padding is masked
        if self.seq2seq:
            start = self.model.config.decoder_start_token_id
            heads = [[start, *p.forced] for p in prompts]
        else:
            heads = [p.context + p.forced or [self.end] for p in prompts]
        ids, mask = _padded(heads, pad, left=True)
        if not self.seq2seq:
            cache = DynamicCache(config=self.model.config)
            output = self.model(
                input_ids=ids, attention_mask=mask, position_ids=_positions(mask), cache=cache,
                use_cache=True, logits_to_keep=1,
            )  # fmt: skip
            self.prefilled += int(mask.sum())
            return _State(self.model, output.cache, output.logits[:, -1], None, mask)
        sources, encoded = _padded([p.context for p in prompts], pad)
        encoder = self.model.get_encoder()
        hidden = encoder(input_ids=sources, attention_mask=encoded).last_hidden_state
        self.prefilled += int(encoded.sum())
        self.decoded += int(mask.sum())
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        empty = mask[:, :0]
        state = _State(self.model, cache, None, hidden, empty, encoded)
        state.logits = state.forward(ids, mask)[:, -1]
        return state

    def _read_causal(self, head: list[int]) -> _State:
        import torch

        kept, reused = self.cache.longest(("causal",), head)
        # At least the last token is read again: its logits are what comes next.
        reused = min(reused, len(head) - 1)
        cache = _cache_of(self.model, kept, reused)
        new = torch.tensor([head[reused:]])
        output = self.model(input_ids=new, cache=cache, use_cache=True, logits_to_keep=1)
        self.prefilled += new.shape[1]
        cache = output.cache
        self.cache.put(("causal",), head, _tensors_of(cache))
        return _State(self.model, cache, output.logits[:, -1], None)

    def _read_seq2seq(self, prompt: Prompt) -> _State:
        import torch

        kept = self.cache.get(("encoder",), prompt.context)
        if kept is not None:
            (hidden,) = kept
        else:
            ids = torch.tensor([prompt.context])
            hidden = self.model.get_encoder()(input_ids=ids).last_hidden_state
            self.prefilled += ids.shape[1]
            # every position of an encoding sees the whole conversation: kept for it alone
            self.cache.put(("encoder",), prompt.context, (hidden,), extends=False)
        head = [self.model.config.decoder_start_token_id, *prompt.forced]
        # The decoder's reading of the reply start is kept under the conversation and the start
        # together: a keystroke reads only the tokens its typing changed.
        key = [*prompt.context, _APART, *head]
        decoded, reused = self.cache.longest(("decoder",), key)
        reused = min(reused - len(prompt.context) - 1, len(head) - 1)
        state = _State(self.model, _decoder_cache(decoded, reused), None, hidden)
        state.logits = state.forward(torch.tensor([head[max(reused, 0) :]]))[:, -1]
        self.decoded += len(head) - max(reused, 0)
        cache = state.cache
        tensors = _tensors_of(cache.self_attention_cache), _tensors_of(cache.cross_attention_cache)
        self.cache.put(("decoder",), key, None if None in tensors else tensors)
        return state

    def _beams(
        self, prompt: Prompt, count: int, settings: Sampling, speller: Speller | None
    ) -> list[Draw]:
        """Beam search by transformers' `generate`; each beam scored by a teacher-forced pass."""
        import torch

        options: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "num_return_sequences": count,
            "num_beams": count,
            "do_sample": False,
            "eos_token_id": self.end,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if prompt.tail and speller is not None:
            from transformers import LogitsProcessorList

            spell = _Spell(speller, prompt.tail, self._start(prompt))
            options["logits_processor"] = LogitsProcessorList([spell])
        if self.seq2seq:
            from transformers.modeling_outputs import BaseModelOutput

            start = self.model.config.decoder_start_token_id
            options["decoder_input_ids"] = torch.tensor([[start, *prompt.forced]])
            with torch.inference_mode():
                hidden = self._read_seq2seq(prompt).hidden
            # a new output object each call: generate expands its tensors for beams in place
            inputs = {
                "encoder_outputs": BaseModelOutput(last_hidden_state=hidden),
                "attention_mask": torch.ones(hidden.shape[:2], dtype=torch.long),
            }
        else:
            ids = torch.tensor([prompt.context + prompt.forced])
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        with torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        new = output[:, self._start(prompt) :]
        sequences = [_until(row.tolist(), self.end, self.tokenizer.pad_token_id) for row in new]
        scores = self.score(prompt, sequences)
        return [Draw(s, m * len(s)) for s, m in zip(sequences, scores, strict=True)]

    def _start(self, prompt: Prompt) -> int:
        """Where generated tokens begin in the sequences `generate` returns."""
        if self.seq2seq:
            return 1 + len(prompt.forced)
        return len(prompt.context) + len(prompt.forced)


class _State:
    """A model part-way through its rows' prompts: its cache and next-token logits."""

    def __init__(
        self,
        model: Any,
        cache: Any,
        logits: Any,
        hidden: Any,
        mask: torch.Tensor | None = None,
        encoded: torch.Tensor | None = None,
    ):
        self.model = model
        self.cache = cache
        self.logits = logits
        self.hidden = hidden
        """A seq2seq model's encoding of the conversation: one row, or one a row."""
        self.mask = mask
        """Which positions read so far are real, a row each; None when no row is padded."""
        self.encoded = encoded
        """Which positions of `hidden` are real, when several conversations were padded."""

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits after each of `ids` (one column a token), the cache extended by them; `mask`
        says which of them are real when `ids` are padded."""
        import torch

        options: dict[str, Any] = {}
        if self.mask is not None:
            new = torch.ones_like(ids) if mask is None else mask
            # a padded row's positions count its real tokens only
            positions = self.mask.sum(-1, keepdim=True) + new.cumsum(-1) - 1
            self.mask = torch.cat([self.mask, new], dim=-1)
            if self.hidden is None:
                options = {"attention_mask": self.mask, "position_ids": positions.clamp(min=0)}
            else:
                options = {"decoder_attention_mask": self.mask, "attention_mask": self.encoded}
        if self.hidden is None:
            output = self.model(input_ids=ids, cache=self.cache, use_cache=True, **options)
        else:
            from transformers.modeling_outputs import BaseModelOutput

            hidden = self.hidden.expand(ids.shape[0], -1, -1)
            output = self.model(
                encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                decoder_input_ids=ids,
                cache=self.cache,
                use_cache=True,
                **options,
            )
        self.cache = output.cache
        return output.logits

    def expand(self, rows: int) -> None:
        if rows > 1:
            self.cache.batch_repeat_interleave(rows)
            self.logits = self.logits.expand(rows, -1)

    def keep(self, rows: list[int]) -> None:
        """Only these rows go on, in this order (a row may be taken several times)."""
        import torch

        index = torch.tensor(rows)
        self.cache.batch_select_indices(index)
        self.logits = self.logits[index]
        for name in ("mask", "encoded"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name)[index])
        if self.hidden is not None and self.hidden.shape[0] > 1:
            self.hidden = self.hidden[index]


class _Decoding:
    """Every job's rows drawn together, each job's prompt read once; a row leaves the batch at
    the end token or at one of its job's stops."""

    def __init__(
        self,
        backend: HFBackend,
        jobs: Sequence[Job],
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
    ):
        self.backend = backend
        self.jobs = list(jobs)
        self.greedy = greedy
        self.settings = settings
        self.watches = [Watch(job.prompt, speller, job.stops) for job in self.jobs]
        self.owner = [j for j, job in enumerate(self.jobs) for _ in range(job.count)]
        """Each row's job."""

    def run(self) -> list[list[Draw]]:
        backend, rows = self.backend, len(self.owner)
        state = backend._read_many([job.prompt for job in self.jobs])
        if len(self.jobs) == 1:
            state.expand(rows)
        else:
            state.keep(self.owner)
        ids: list[list[int]] = [[] for _ in range(rows)]
        logprobs = [0.0] * rows
        texts = [""] * rows
        active = list(range(rows))
        for step in range(self.settings.max_new_tokens):
            raw = state.logits.float().log_softmax(-1)
            chosen = self._choose(raw, active, ids, texts)
            picked = raw.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).tolist()
            going = []
            tokens = chosen.tolist()
            for place, (row, token, logp) in enumerate(zip(active, tokens, picked, strict=True)):
                watch = self.watches[self.owner[row]]
                ids[row].append(token)
                logprobs[row] += logp
                texts[row] += watch.text(token)
                if token != backend.end and not watch.stopped(texts[row]):
                    going.append(place)
            if not going or step + 1 == self.settings.max_new_tokens:
                break
            if len(going) < len(active):
                state.keep(going)
                chosen = chosen[going]
                active = [active[place] for place in going]
            state.logits = state.forward(chosen.unsqueeze(-1))[:, -1]
        draws = [Draw(row_ids, logp) for row_ids, logp in zip(ids, logprobs, strict=True)]
        by_job: list[list[Draw]] = [[] for _ in self.jobs]
        for draw, job in zip(draws, self.owner, strict=True):
            by_job[job].append(draw)
        return by_job

    def _choose(
        self, raw: torch.Tensor, active: list[int], ids: list[list[int]], texts: list[str]
    ) -> torch.Tensor:
        """The next token of each active row: the likeliest, or a draw as transformers samples
        (repetition penalty, temperature, top-k, top-p), among tokens that spell the tail."""
        import torch

        scores = raw.clone()
        self._spell(scores, active, texts)
        penalty = self.backend.repetition_penalty
        if penalty != 1.0:
            for place, row in enumerate(active):
                prompt = self.jobs[self.owner[row]].prompt
                seen = torch.tensor(sorted(set(prompt.context + prompt.forced + ids[row])))
                values = scores[place, seen]
                scores[place, seen] = torch.where(values < 0, values * penalty, values / penalty)
        if self.greedy:
            return scores.argmax(-1)
        scores = scores / self.settings.temperature
        top_k = min(self.backend.top_k or scores.shape[-1], scores.shape[-1])
        values, order = scores.topk(top_k, dim=-1)
        probs = values.softmax(-1)
        before = probs.cumsum(-1) - probs
        probs = probs.masked_fill(before >= self.settings.top_p, 0.0)
        picks = torch.multinomial(probs, 1).squeeze(-1)
        return order.gather(-1, picks.unsqueeze(-1)).squeeze(-1)

    def _spell(self, scores: torch.Tensor, active: list[int], texts: list[str]) -> None:
        """Only tokens that go on spelling the typed tail, for rows that have not spelled it."""
        for place, row in enumerate(active):
            job = self.owner[row]
            tail, speller = self.jobs[job].prompt.tail, self.watches[job].speller
            if tail and speller is not None and len(texts[row]) < len(tail):
                _restrict(scores[place], speller.allowed(tail[len(texts[row]) :]))


@dataclass
class _Entry:
    tensors: tuple[Any, ...]
    size: int


class PromptCache:
    """Prompts already read, by their token ids: each one's cache tensors, least recently used
    dropped first once over `entries` or `max_bytes`. A prompt that extends a kept one replaces
    it, so a conversation being typed into holds one entry."""

    def __init__(self, entries: int = 16, max_bytes: int = 256 * 2**20):
        self.entries = entries
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()

    @property
    def size(self) -> int:
        """Bytes held."""
        return sum(entry.size for entry in self._kept.values())

    def __len__(self) -> int:
        return len(self._kept)

    def longest(self, kind: tuple[str], ids: Sequence[int]) -> tuple[Any, int]:
        """The kept tensors sharing the longest prefix with `ids`, and its length."""
        best, length = None, 0
        for key in reversed(self._kept):
            if key[:1] != kind:
                continue
            common = common_prefix(key[1:], ids)
            if common > length:
                best, length = key, common
        if best is None:
            return None, 0
        self._kept.move_to_end(best)
        return self._kept[best].tensors, length

    def get(self, kind: tuple[str], ids: Sequence[int]) -> tuple[Any, ...] | None:
        """The tensors kept for exactly `ids`."""
        key = (*kind, *ids)
        if key not in self._kept:
            return None
        self._kept.move_to_end(key)
        return self._kept[key].tensors

    def put(
        self,
        kind: tuple[str],
        ids: Sequence[int],
        tensors: tuple[Any, ...] | None,
        extends: bool = True,
    ) -> None:
        """Keep `tensors` for `ids`; with `extends`, they serve every prefix of `ids` too, and
        replace those kept for one."""
        if tensors is None or not ids:
            return
        key = (*kind, *ids)
        if extends:
            for other in [
                k for k in self._kept if k[:1] == kind and common_prefix(k[1:], ids) == len(k) - 1
            ]:
                del self._kept[other]
        size = sum(t.numel() * t.element_size() for t in _flat(tensors))
        if size > self.max_bytes:
            return
        self._kept[key] = _Entry(tensors, size)
        while len(self._kept) > self.entries or self.size > self.max_bytes:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


def _flat(tensors: Any) -> list[Any]:
    if isinstance(tensors, tuple | list):
        return [t for item in tensors for t in _flat(item)]
    return [tensors]


def _tensors_of(cache: Any) -> tuple[Any, ...] | None:
    """Each layer's keys and values, when every layer keeps all its positions (a sliding
    window forgets the start, so such a cache cannot serve a longer prompt)."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return None
    return tuple((layer.keys, layer.values) for layer in layers)


def _padded(rows: list[list[int]], pad: int, left: bool = False) -> tuple[Any, Any]:
    """Rows of ids padded to one width (at least 1), and the mask of their real positions."""
    import torch

    width = max(len(row) for row in rows) or 1
    ids, mask = [], []
    for row in rows:
        fill = width - len(row)
        ids.append([pad] * fill + row if left else row + [pad] * fill)
        mask.append([0] * fill + [1] * len(row) if left else [1] * len(row) + [0] * fill)
    return torch.tensor(ids), torch.tensor(mask)


def _positions(mask: Any) -> Any:
    """Each token's position among its row's real tokens (left padding sits at 0)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


_APART = -1
"""Between a conversation and a reply start in a kept decoder's key: no token id."""


def _decoder_cache(kept: Any, length: int) -> Any:
    """A seq2seq decoder's cache: the first `length` positions of a kept reading of the reply
    start, with its keys and values of the conversation (copies: kept tensors are never written
    to); empty unless the reading kept is of this conversation."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    if kept is None or length <= 0:
        return EncoderDecoderCache(DynamicCache(), DynamicCache())
    own, cross = kept
    own = DynamicCache([(k[:, :, :length], v[:, :, :length]) for k, v in own])
    return EncoderDecoderCache(own, DynamicCache(list(cross)))


def _cache_of(model: Any, kept: Any, length: int) -> Any:
    """A new cache holding the first `length` positions of `kept` (a copy: kept tensors are
    never written to)."""
    from transformers.cache_utils import DynamicCache

    if kept is None or length == 0:
        return DynamicCache(config=model.config)
    return DynamicCache([(k[:, :, :length], v[:, :, :length]) for k, v in kept], model.config)


class _Spell:
    """A logits processor: while the generated text is shorter than `tail`, allow only tokens
    that keep it consistent with `tail`."""

    def __init__(self, speller: Speller, tail: str, start: int):
        self.speller = speller
        self.tail = tail
        self.start = start

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for row in range(input_ids.shape[0]):
            spelled = self.speller.spelled(input_ids[row, self.start :].tolist())
            if len(spelled) < len(self.tail):
                _restrict(scores[row], self.speller.allowed(self.tail[len(spelled) :]))
        return scores


def _restrict(scores: Any, allowed: list[int]) -> None:
    """Only `allowed` tokens stay possible in this row of scores (in place)."""
    mask = scores.new_full(scores.shape, float("-inf"))
    mask[allowed] = 0
    scores += mask


def _until(ids: list[int], end: int, pad: int | None) -> list[int]:
    """Generated ids up to and including the end token; padding after it dropped."""
    if end in ids:
        return ids[: ids.index(end) + 1]
    return [t for t in ids if t != pad] if pad is not None and pad != end else ids


def load_weights(folder: Path, family: str, adapter: bool) -> Any:
    """A run's model: the full weights, or its LoRA adapter on its base, merged."""
    if adapter:
        from peft import AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM

        loader = AutoPeftModelForSeq2SeqLM if family == SEQ2SEQ else AutoPeftModelForCausalLM
    else:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        loader = AutoModelForSeq2SeqLM if family == SEQ2SEQ else AutoModelForCausalLM
    from twinchat.models import quiet_loading

    with quiet_loading():
        model = loader.from_pretrained(str(folder))
        # The adapter's extra matrices cost every generated token; merged in memory, the model
        # gives the same outputs at the base model's speed.
        return model.merge_and_unload() if adapter else model


def quantized(model: Any) -> Any:
    """The model with every linear layer's weights in int8, quantized when loaded (PyTorch's
    dynamic quantization; activations quantized on the fly): a decoding step reads a quarter of
    the bytes. On the 2-core CPU a flan-t5-small-shaped decoder step went from 17.5 to 8.2 ms,
    and a SmolLM2-135M one from 47 to 15 ms (benchmarks/engines.py): the fastest engine for a T5
    that keeps its decoder state between keystrokes. Outputs move a little (int8 arithmetic)."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's notice of its deprecation
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
