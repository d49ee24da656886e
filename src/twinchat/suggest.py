"""Reply candidates from a trained run (or an untuned model), as anyone in the chat.

    from twinchat.suggest import Suggester
    suggester = Suggester.load("runs/me")
    for candidate in suggester.suggest(turns, as_="Jamie", prefix="see y", n=5):
        print(candidate.score, candidate.text)

The conversation is rendered with the format saved in the run, so inference cannot drift from
training; a speaker name (and any text already typed) is forced as the start of the reply.
Typed text that ends mid-word is healed: its last token is backed off and the first generated
tokens are constrained to spell it out, so the model may pick `you` rather than continue a
token `y` it never saw alone. Candidates are over-generated, then curated as the reference did
by hand (duplicates, empty, echoes of the context, degenerate repetition dropped) and ranked by
the model's mean log-probability per token, recomputed by one teacher-forced pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from twinchat.errors import TwinchatError
from twinchat.example import Turn
from twinchat.formats import SEQ2SEQ, ChatFormat, format_for


@dataclass(frozen=True)
class Candidate:
    """One suggested reply; `score` is the mean log-probability of its tokens."""

    text: str
    speaker: str | None
    score: float


@dataclass(frozen=True)
class Sampling:
    """How candidates are drawn; saved with a run, overridable per call."""

    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 48
    oversample: int = 3
    """Draw this many times `n` candidates, to have `n` left after curation."""
    rounds: int = 3
    """Draw again, up to this many times in all, while fewer than `n` remain."""

    def __post_init__(self) -> None:
        problems = []
        if not self.temperature > 0:
            problems.append(f"--temperature must be above 0, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"--top-p must be above 0 and at most 1, not {self.top_p}")
        if self.max_new_tokens < 1:
            problems.append(f"--max-new-tokens must be at least 1, not {self.max_new_tokens}")
        if problems:
            raise TwinchatError("; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Sampling:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Suggester:
    """A model, its tokenizer and its chat format, ready to suggest replies."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        chat_format: ChatFormat,
        speakers: Sequence[str] = (),
        sampling: Sampling | None = None,
        max_source_tokens: int = 512,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.format = chat_format
        self.speakers = list(speakers)
        self.open_speakers = False
        """Accept names the model never saw (evaluation: held-out sessions bring new people)."""
        self.sampling = sampling or Sampling()
        self.max_source_tokens = max_source_tokens
        """Context tokens kept, newest first, as in training."""
        self._texts: list[str] | None = None

    @classmethod
    def load(cls, run: str | Path) -> Suggester:
        """A trained run: merged weights when there are some, else the adapter on its base."""
        run = Path(run)
        described = run / "twinchat.json"
        if not described.is_file():
            raise TwinchatError(f"{run} is not a finished twinchat run (no twinchat.json)")
        description = json.loads(described.read_text(encoding="utf-8"))
        chat_format = ChatFormat.from_dict(description["format"])
        folder = run / description["merged"] if description.get("merged") else run
        model = _load_weights(
            folder,
            chat_format.family,
            adapter=not description.get("merged") and description.get("adapter"),
        )
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        speakers = list(description.get("speakers", {}))
        sampling = Sampling.from_dict(description.get("sampling"))
        limit = description.get("settings", {}).get("max_source_tokens", 512)
        return cls(model, tokenizer, chat_format, speakers, sampling, limit)

    @classmethod
    def from_model(cls, spec: str) -> Suggester:
        """An untuned model, rendered with the format its family would be trained with."""
        from twinchat.models import family_of, load_config, load_model, load_tokenizer

        family = family_of(load_config(spec))
        tokenizer = load_tokenizer(spec, family)
        return cls(load_model(spec, family, tokenizer), tokenizer, format_for(family, tokenizer))

    def suggest(
        self,
        messages: Sequence[Turn],
        as_: str | None = None,
        prefix: str = "",
        n: int = 5,
        greedy: bool = False,
        seed: int | None = None,
        **sampling: Any,
    ) -> list[Candidate]:
        """Up to `n` distinct candidates for the next message, best first; `sampling` overrides
        the run's `Sampling` settings (temperature, top_p, max_new_tokens…).

        Raises:
            TwinchatError: `as_` is a name the model was not trained on, or `n` below 1.
        """
        import torch

        if n < 1:
            raise TwinchatError("-n must be at least 1")
        self._check_speaker(as_)
        settings = replace(self.sampling, **sampling)
        if seed is not None:
            torch.manual_seed(seed)
        return self._candidates(messages, as_, prefix, n, greedy, settings, ranked=True)

    def _candidates(
        self,
        messages: Sequence[Turn],
        as_: str | None,
        prefix: str,
        n: int,
        greedy: bool,
        settings: Sampling,
        ranked: bool,
    ) -> list[Candidate]:
        """`ranked=False` skips the scoring pass (score 0): typeahead wants one greedy text."""
        prompt = self._prompt(messages, self.format.reply_prefix(as_, prefix), prefix)
        kept: dict[str, Candidate] = {}
        turn = _next_turn({t.sender for t in messages} | set(self.speakers), self.format)
        for _ in range(1 if greedy else settings.rounds):
            count = n * settings.oversample
            sequences = self._generate(prompt, count, greedy, settings)
            scores = self._score(prompt, sequences) if ranked else [0.0] * len(sequences)
            for ids, score in zip(sequences, scores, strict=True):
                candidate = self._candidate(prompt, ids, score, as_, settings)
                if candidate is not None and turn is not None:
                    candidate = replace(candidate, text=turn.split(candidate.text)[0].rstrip())
                if candidate is None or not _acceptable(candidate.text, messages, prefix):
                    continue
                key = _normalized(candidate.text)
                if key not in kept or kept[key].score < candidate.score:
                    kept[key] = candidate
            if len(kept) >= n:
                break
        return sorted(kept.values(), key=lambda c: -c.score)[:n]

    def complete(
        self, messages: Sequence[Turn], as_: str | None, typed: str, max_new_tokens: int = 8
    ) -> str:
        """The greedy continuation of `typed` (typeahead): what would follow it, or ""."""
        self._check_speaker(as_)
        settings = replace(self.sampling, max_new_tokens=max_new_tokens, oversample=1, rounds=1)
        best = self._candidates(
            messages, as_, typed, 1, greedy=True, settings=settings, ranked=False
        )
        if not best or not best[0].text.startswith(typed.strip()):
            return ""
        return _rest(best[0].text, typed)

    def reply_loss(self, messages: Sequence[Turn], speaker: str, text: str) -> tuple[float, int]:
        """Negative log-likelihood (summed) and token count of a real reply by `speaker`,
        teacher-forced after the speaker's name, end token included."""
        target = self.tokenizer(self.format.target(speaker, text), add_special_tokens=False)
        ids = target["input_ids"]
        start = self.format.name_tokens(self.tokenizer, speaker, ids)
        prompt = self._prompt(messages, "", "")
        prompt = _Prompt(prompt.context, ids[:start], "", "")
        rest = ids[start:]
        if not rest:
            return 0.0, 0
        (mean,) = self._score(prompt, [rest])
        return -mean * len(rest), len(rest)

    def _check_speaker(self, name: str | None) -> None:
        if name is None or self.open_speakers or not self.speakers or name in self.speakers:
            return
        shown = ", ".join(self.speakers[:15]) + (" …" if len(self.speakers) > 15 else "")
        raise TwinchatError(
            f"the model was not trained on replies by '{name}'; known speakers: {shown}"
        )

    def _prompt(self, messages: Sequence[Turn], forced: str, typed: str) -> _Prompt:
        """Token ids of the conversation and of the forced reply start, its tail healed."""
        causal = self.format.family != SEQ2SEQ
        source = self.format.source(messages)
        context = self.tokenizer(source, add_special_tokens=causal)["input_ids"] if source else []
        context = context[-self.max_source_tokens :]  # the oldest go first, as in training
        if causal and not context and self.tokenizer.bos_token_id is not None:
            context = [self.tokenizer.bos_token_id]
        forced_ids = self.tokenizer(forced, add_special_tokens=False)["input_ids"] if forced else []
        kept, tail = self._heal(forced, forced_ids, typed) if typed else (forced_ids, "")
        return _Prompt(context=context, forced=kept, forced_text=forced, tail=tail)

    def _heal(self, forced: str, ids: list[int], typed: str) -> tuple[list[int], str]:
        """Back off the tokens of the last, maybe partial, word typed; generation must spell it
        again, so a word cut as `s`+`e` can come back as the single token `see`."""
        whole = self._decode(ids)
        if whole.lstrip() != forced.lstrip() or not whole.endswith(typed):
            return ids, ""  # the tokens do not spell the text back: leave it as it is
        for back in range(1, min(len(ids), 6) + 1):
            tail = whole[len(self._decode(ids[:-back])) :]
            if not whole.endswith(tail) or len(tail) > len(typed) + 1:
                break
            if tail[:1].isspace() or len(tail) >= len(typed):
                return ids[:-back], tail
        return ids, ""

    def _generate(self, prompt: _Prompt, count: int, greedy: bool, settings: Sampling) -> list:
        import torch

        end = self.tokenizer.convert_tokens_to_ids(self.format.end)
        options: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "num_return_sequences": count,
            "eos_token_id": end,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if greedy:
            options.update(do_sample=False, num_beams=count)
        else:
            options.update(do_sample=True, top_p=settings.top_p, temperature=settings.temperature)
        if prompt.tail:
            from transformers import LogitsProcessorList

            spell = _Spell(self, prompt.tail, self._start(prompt))
            options["logits_processor"] = LogitsProcessorList([spell])
        if self.format.family == SEQ2SEQ:
            encoder = torch.tensor([prompt.context or [end]])
            start = self.model.config.decoder_start_token_id
            options["decoder_input_ids"] = torch.tensor([[start, *prompt.forced]])
            inputs = {"input_ids": encoder, "attention_mask": torch.ones_like(encoder)}
        else:
            ids = torch.tensor([prompt.context + prompt.forced])
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        with torch.no_grad():
            output = self.model.generate(**inputs, **options)
        new = output[:, self._start(prompt) :]
        return [_until(row.tolist(), end, self.tokenizer.pad_token_id) for row in new]

    def _start(self, prompt: _Prompt) -> int:
        """Where generated tokens begin in the sequences `generate` returns."""
        if self.format.family == SEQ2SEQ:
            return 1 + len(prompt.forced)
        return len(prompt.context) + len(prompt.forced)

    def _score(self, prompt: _Prompt, sequences: list[list[int]]) -> list[float]:
        """Mean log-probability of each sequence's tokens, teacher-forced, end token included."""
        import torch

        if not sequences:
            return []
        width = max(len(s) for s in sequences) or 1
        pad = self.tokenizer.pad_token_id or 0
        generated = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
        rows = len(sequences)
        with torch.no_grad():
            if self.format.family == SEQ2SEQ:
                start = self.model.config.decoder_start_token_id
                head = torch.tensor([[start, *prompt.forced]]).repeat(rows, 1)
                encoder = torch.tensor([prompt.context or [pad]]).repeat(rows, 1)
                decoder = torch.cat([head, generated[:, :-1]], dim=1)
                logits = self.model(input_ids=encoder, decoder_input_ids=decoder).logits
            else:
                head = torch.tensor([prompt.context + prompt.forced]).repeat(rows, 1)
                ids = torch.cat([head, generated], dim=1)
                attention = torch.cat([torch.ones_like(head), mask], dim=1)
                logits = self.model(input_ids=ids, attention_mask=attention).logits[:, :-1]
        logits = logits[:, head.shape[1] - 1 :].float()
        chosen = logits.log_softmax(-1).gather(-1, generated.unsqueeze(-1)).squeeze(-1)
        totals = (chosen * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        return totals.tolist()

    def _candidate(
        self, prompt: _Prompt, ids: list[int], score: float, as_: str | None, settings: Sampling
    ) -> Candidate | None:
        end = self.tokenizer.convert_tokens_to_ids(self.format.end)
        finished = bool(ids) and ids[-1] == end
        text = self._decode([t for t in ids if t != end])
        if not finished and len(ids) >= settings.max_new_tokens:
            text = _whole_words(text)  # cut by the length cap: keep whole words only
        generated = prompt.forced_text[: len(prompt.forced_text) - len(prompt.tail)] + text
        if prompt.tail and not generated.startswith(prompt.forced_text):
            return None
        speaker, reply = self.format.parse_reply(generated)
        if as_ is not None and speaker != as_:
            return None
        return Candidate(reply.strip(), as_ or speaker, score)

    def _decode(self, ids: Sequence[int]) -> str:
        """Exact text of token ids, leading space included (sentencepiece drops it alone)."""
        anchor = self._anchor()
        whole = self.tokenizer.decode([anchor, *ids], skip_special_tokens=False)
        return whole[len(self.tokenizer.decode([anchor], skip_special_tokens=False)) :]

    def _anchor(self) -> int:
        return self.tokenizer("a", add_special_tokens=False)["input_ids"][-1]

    def token_texts(self) -> list[str]:
        """The text every token id spells, computed once (for healing)."""
        if self._texts is None:
            anchor = self._anchor()
            base = self.tokenizer.decode([anchor], skip_special_tokens=False)
            pairs = [[anchor, i] for i in range(len(self.tokenizer))]
            decoded = self.tokenizer.batch_decode(pairs, skip_special_tokens=False)
            self._texts = [text[len(base) :] if text.startswith(base) else "" for text in decoded]
        return self._texts


@dataclass(frozen=True)
class _Prompt:
    context: list[int]
    forced: list[int]
    """The forced reply start, without the healed tail's tokens."""
    forced_text: str
    tail: str
    """Typed text the first generated tokens must spell."""


class _Spell:
    """A logits processor: while the generated text is shorter than `tail`, allow only tokens
    that keep it consistent with `tail`."""

    def __init__(self, suggester: Suggester, tail: str, start: int):
        self.texts = suggester.token_texts()
        self.tail = tail
        self.start = start
        self.cache: dict[str, list[int]] = {}

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        for row in range(input_ids.shape[0]):
            spelled = "".join(self.texts[t] for t in input_ids[row, self.start :].tolist())
            if len(spelled) >= len(self.tail):
                continue
            allowed = self._allowed(self.tail[len(spelled) :])
            mask = torch.full_like(scores[row], float("-inf"))
            mask[allowed] = 0
            scores[row] = scores[row] + mask
        return scores

    def _allowed(self, rest: str) -> list[int]:
        """Tokens that spell all of `rest` and maybe more; only when none does, tokens that
        spell a part of it (re-spelling a word in pieces is what healing avoids)."""
        if rest not in self.cache:
            whole = [i for i, text in enumerate(self.texts) if text.startswith(rest)]
            self.cache[rest] = whole or [
                i for i, text in enumerate(self.texts) if text and rest.startswith(text)
            ]
        return self.cache[rest]


def _until(ids: list[int], end: int, pad: int | None) -> list[int]:
    """Generated ids up to and including the end token; padding after it dropped."""
    if end in ids:
        return ids[: ids.index(end) + 1]
    return [t for t in ids if t != pad] if pad is not None and pad != end else ids


def _rest(text: str, typed: str) -> str:
    """What `text` adds to `typed`, which may end in spaces the candidate no longer has."""
    return text[len(typed) :] if text.startswith(typed) else text[len(typed.rstrip()) :].lstrip()


def _whole_words(text: str) -> str:
    cut = text.rstrip()
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space].rstrip() if space > 0 else cut


_REPEAT = re.compile(r"(.{2,}?)\1{3,}", re.DOTALL)


def _next_turn(names: set[str], chat_format: ChatFormat) -> re.Pattern[str] | None:
    """A line that starts another person's message (`\nName: `): a model that has not learnt
    to end its message writes the next ones on, and only the first is the candidate."""
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    separator = re.escape(chat_format.speaker_separator.rstrip())
    return re.compile(rf"\n\s*(?:{alternatives}){separator}")


def _acceptable(text: str, messages: Sequence[Turn], prefix: str) -> bool:
    """Not empty, not an echo of a context message, not degenerate repetition."""
    if not text.strip() or (not text.startswith(prefix.strip()) and prefix.strip()):
        return False
    if prefix and _normalized(text) == _normalized(prefix):
        return False
    key = _normalized(text)
    if any(key == _normalized(turn.text) for turn in messages):
        return False
    if _REPEAT.search(text):
        return False
    words = text.split()
    return len(words) < 8 or len(set(words)) / len(words) >= 0.3


def _normalized(text: str) -> str:
    return " ".join(text.casefold().split())


def _load_weights(folder: Path, family: str, adapter: bool) -> Any:
    if adapter:
        from peft import AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM

        loader = AutoPeftModelForSeq2SeqLM if family == SEQ2SEQ else AutoPeftModelForCausalLM
    else:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        loader = AutoModelForSeq2SeqLM if family == SEQ2SEQ else AutoModelForCausalLM
    model = loader.from_pretrained(str(folder))
    # The adapter's extra matrices cost every generated token; merged in memory, the model gives
    # the same outputs at the base model's speed.
    return model.merge_and_unload() if adapter else model


def sampling_settings() -> dict[str, Any]:
    """The default sampling settings, as saved in a new run's `twinchat.json`."""
    return asdict(Sampling())
