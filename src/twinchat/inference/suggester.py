"""Reply candidates from a trained run (or an untuned model), as anyone in the chat.

    from twinchat.inference.suggester import Suggester
    suggester = Suggester.load("runs/me")
    for candidate in suggester.suggest(turns, as_="Jamie", prefix="see y", n=5):
        print(candidate.score, candidate.text)

The conversation is rendered with the format saved in the run, so inference cannot drift from
training; a speaker name (and any text already typed) is forced as the start of the reply.
Typed text that ends mid-word is healed: its last token is backed off and the first generated
tokens are constrained to spell it out, so the model may pick `you` rather than continue a
token `y` it never saw alone. A few more candidates than asked for are drawn, from one reading
of the conversation, each row stopping at the end of the message; they are curated as the
reference did by hand (duplicates, empty, echoes of the context, degenerate repetition dropped),
drawn again only for what curation left missing. The `n` with the highest mean log-probability
per token (taken from the draw itself) are kept, and shown in order of consensus: the candidate
most like everything drawn first (minimum Bayes risk, chrF both ways, a text drawn twice
counting twice). The most probable line is a short, generic one: on 300 held-out IRC replies
the probability order's first candidate was no closer to the real reply than a random one, the
consensus order's first is closer by chrF (+0.015 [+0.008, +0.022]) and no different by
ROUGE-L (docs/evaluation.md).

The model itself is a backend (`twinchat.inference.backends`): transformers weights (`hf`), a
CTranslate2 export (`ct2`, from `twinchat export RUN --to ct2`) or an onnxruntime-genai one
(`ort`, `--to ort`, causal models); a folder names its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from twinchat.data.example import Turn, text_key
from twinchat.data.formats import ChatFormat, format_for
from twinchat.description import MAX_SOURCE_TOKENS, RunDescription, Sampling
from twinchat.errors import TwinchatError
from twinchat.inference.backends import BACKENDS, Backend, Prompt, Speller
from twinchat.models import SEQ2SEQ

CANDIDATES = 5
"""Candidates a suggestion offers unless asked for another number."""


@dataclass(frozen=True)
class Candidate:
    """One suggested reply; `score` is the mean log-probability of its tokens."""

    text: str
    speaker: str | None
    score: float


class Suggester:
    """A model (behind a backend), its tokenizer and its chat format, ready to suggest replies."""

    def __init__(
        self,
        backend: Backend,
        tokenizer: Any,
        chat_format: ChatFormat,
        speakers: Sequence[str] = (),
        sampling: Sampling | None = None,
        max_source_tokens: int = MAX_SOURCE_TOKENS,
        description: RunDescription | None = None,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.format = chat_format
        self.speakers = list(speakers)
        self.open_speakers = False
        """Accept names the model never saw (evaluation: held-out sessions bring new people)."""
        self.sampling = sampling or Sampling()
        self.max_source_tokens = max_source_tokens
        """Context tokens kept, newest first, as in training."""
        self.description = description or RunDescription()
        """What the run says about itself: the apps read the context window here."""
        self.voices: dict[str, list[str]] = dict(self.description.voices)
        """Each person's voice lines (`twinchat.data.voices`), read first when writing as
        them; empty to read the conversation alone."""
        self._voice_cache: dict[tuple[Any, ...], list[int]] = {}
        self._texts: list[str] | None = None
        self._speller: Speller | None = None

    @property
    def model(self) -> Any:
        """The backend's model: a transformers module, a CTranslate2 Translator/Generator, or
        an onnxruntime-genai Model."""
        return self.backend.model

    @classmethod
    def load(cls, run: str | Path, backend: str | None = None) -> Suggester:
        """A trained run (merged weights when there are some, else the adapter on its base) or
        its export; `backend` (hf, ct2, ort) defaults to the folder's own. `hf-int8` runs a
        run's transformers weights quantized to int8 as they load: the fastest typeahead for a
        T5 (its decoder state kept between keystrokes, a step at half the cost).

        Raises:
            TwinchatError: not a finished run or export, or one the backend cannot run.
        """
        run = Path(run)
        description = RunDescription.read(run)
        own = description.backend
        backend = backend or own
        if backend not in BACKENDS:
            raise TwinchatError(f"unknown backend '{backend}'; choose {', '.join(BACKENDS)}")
        if backend != own and not (backend == "hf-int8" and own == "hf"):
            raise TwinchatError(_mismatch(run, own, description))
        chat_format = _run_format(run, description)
        folder = run / description.merged if description.merged else run
        tokenizer = _load_tokenizer(folder, backend)
        if backend in ("hf", "hf-int8"):
            from twinchat.inference.backends.hf import HFBackend, load_weights, quantized

            adapter = not description.merged and description.adapter
            model = load_weights(folder, chat_format.family, adapter=bool(adapter))
            if backend == "hf-int8":
                model = quantized(model)
            engine: Backend = HFBackend(model, tokenizer, chat_format)
            engine.name = backend
        else:
            engine = _exported(backend, run, tokenizer, chat_format, description)
        return cls(
            engine,
            tokenizer,
            chat_format,
            list(description.speakers),
            description.sampling,
            description.max_source_tokens,
            description,
        )

    @classmethod
    def from_model(cls, spec: str, export: Path | None = None, backend: str = "hf") -> Suggester:
        """An untuned model, rendered with the format its family would be trained with; run by
        transformers (`backend` hf, or hf-int8 quantized as it loads), or from its
        `export_model` folder by that engine."""
        from twinchat.models import family_of, load_config, load_model, load_tokenizer

        family = family_of(load_config(spec))
        tokenizer = load_tokenizer(spec, family)
        chat_format = format_for(family, tokenizer)
        described = RunDescription(family=family, base_model=spec, format=chat_format)
        if export is not None:
            exported = RunDescription.read(export)
            engine = _exported(exported.backend, export, tokenizer, chat_format, exported)
            described = replace(exported, family=family, base_model=spec, format=chat_format)
        else:
            from twinchat.inference.backends.hf import HFBackend, quantized

            model = load_model(spec, family, tokenizer)
            model = quantized(model) if backend == "hf-int8" else model
            engine = HFBackend(model, tokenizer, chat_format)
            engine.name = backend
        return cls(engine, tokenizer, chat_format, description=described)

    def suggest(
        self,
        messages: Sequence[Turn],
        as_: str | None = None,
        prefix: str = "",
        n: int = CANDIDATES,
        greedy: bool = False,
        seed: int | None = None,
        **sampling: Any,
    ) -> list[Candidate]:
        """Up to `n` distinct candidates for the next message, best first; `sampling` overrides
        the run's `Sampling` settings (temperature, top_p, max_new_tokens…).

        Raises:
            TwinchatError: `as_` is a name the model was not trained on, or `n` below 1.
        """
        request = Request(messages, as_, prefix)
        return self.suggest_many([request], n, greedy, seed, **sampling)[0]

    def suggest_many(
        self,
        requests: Sequence[Request],
        n: int = CANDIDATES,
        greedy: bool = False,
        seed: int | None = None,
        **sampling: Any,
    ) -> list[list[Candidate]]:
        """`suggest` for several conversations at once: each round of draws is one batch over
        every conversation still short of `n` candidates, where the backend batches
        (transformers); one after the other otherwise. Candidates are not those of separate
        calls with the same seed: the rows share one random stream.

        Raises:
            TwinchatError: as `suggest`.
        """
        if n < 1:
            raise TwinchatError("-n must be at least 1")
        for request in requests:
            self._check_speaker(request.as_)
        settings = replace(self.sampling, **sampling)
        if seed is not None:
            self.backend.seed(seed)
        picks = [_Picking(self, r.messages, r.as_, r.prefix) for r in requests]
        self._draw(picks, n, greedy, settings)
        return [pick.best(n, greedy) for pick in picks]

    def _candidates(
        self,
        messages: Sequence[Turn],
        as_: str | None,
        prefix: str,
        n: int,
        greedy: bool,
        settings: Sampling,
    ) -> list[Candidate]:
        pick = _Picking(self, messages, as_, prefix)
        self._draw([pick], n, greedy, settings)
        return pick.best(n, greedy)

    def _draw(self, picks: list[_Picking], n: int, greedy: bool, settings: Sampling) -> None:
        """Rounds of draws, curated, until each pick has `n` candidates or the rounds run out."""
        from twinchat.inference.backends import Job, draw_many

        for _ in range(1 if greedy else settings.rounds):
            short = [pick for pick in picks if len(pick.kept) < n]
            if not short:
                break
            counts = [
                n if greedy else math.ceil((n - len(pick.kept)) * (1 + settings.overdraw))
                for pick in short
            ]
            jobs = [Job(p.prompt, c, p.stops) for p, c in zip(short, counts, strict=True)]
            drawn = draw_many(self.backend, jobs, greedy, settings, self.speller())
            for pick, draws in zip(short, drawn, strict=True):
                pick.take(draws, settings)

    def complete(
        self, messages: Sequence[Turn], as_: str | None, typed: str, max_new_tokens: int = 8
    ) -> str:
        """The greedy continuation of `typed` (typeahead): what would follow it, or ""."""
        self._check_speaker(as_)
        settings = replace(self.sampling, max_new_tokens=max_new_tokens, rounds=1)
        best = self._candidates(messages, as_, typed, 1, greedy=True, settings=settings)
        if not best or not best[0].text.startswith(typed.strip()):
            return ""
        return _rest(best[0].text, typed)

    def reply_loss(self, messages: Sequence[Turn], speaker: str, text: str) -> tuple[float, int]:
        """Negative log-likelihood (summed) and token count of a real reply by `speaker`,
        teacher-forced after the speaker's name, end token included."""
        target = self.tokenizer(self.format.target(speaker, text), add_special_tokens=False)
        ids = target["input_ids"]
        start = self.format.name_tokens(self.tokenizer, speaker, ids)
        prompt = self._prompt(messages, "", "", speaker)
        prompt = Prompt(prompt.context, ids[:start], "", "")
        rest = ids[start:]
        if not rest:
            return 0.0, 0
        (mean,) = self.backend.score(prompt, [rest])
        return -mean * len(rest), len(rest)

    def next_speakers(self, messages: Sequence[Turn], among: Sequence[str]) -> dict[str, float]:
        """The model's probability that each of `among` writes the next message: that of their
        name and separator starting it, teacher-forced (one batched pass). What is left of 1 is
        the chance that someone else does; normalize over `among` for a draw among them alone."""
        names = list(dict.fromkeys(among))
        heads = [
            self.tokenizer(self.format.reply_prefix(name), add_special_tokens=False)["input_ids"]
            for name in names
        ]
        means = self.backend.score(self._prompt(messages, "", ""), heads)
        # score gives the mean per token: a name's probability is that of all its tokens
        return {
            name: math.exp(mean * len(ids))
            for name, mean, ids in zip(names, means, heads, strict=True)
        }

    def speaker_odds(
        self, messages: Sequence[Turn], text: str, among: Sequence[str]
    ) -> dict[str, float]:
        """The model's probability that each of `among` wrote `text` as the next message:
        P(name: text, end) for each, teacher-forced in one batched pass, normalized over
        `among`. Empty when `among` is."""
        names = list(dict.fromkeys(among))
        if not names:
            return {}
        rows = [
            self.tokenizer(self.format.target(name, text), add_special_tokens=False)["input_ids"]
            for name in names
        ]
        means = self.backend.score(self._prompt(messages, "", ""), rows)
        # score gives the mean per token: a row's log-probability is that times its length
        logs = [mean * len(ids) for mean, ids in zip(means, rows, strict=True)]
        top = max(logs)  # log-sum-exp from the largest: long rows underflow exp() alone
        total = top + math.log(sum(math.exp(log - top) for log in logs))
        return {name: math.exp(log - total) for name, log in zip(names, logs, strict=True)}

    def _check_speaker(self, name: str | None) -> None:
        if name is None or self.open_speakers or not self.speakers or name in self.speakers:
            return
        raise TwinchatError(
            f"the model was not trained on replies by '{name}'; known speakers: "
            f"{listed(self.speakers)}"
        )

    def voice(self, speaker: str | None) -> list[Turn]:
        """The voice lines read before a reply written as `speaker`, as their turns."""
        return [Turn(speaker, line) for line in self.voices.get(speaker, ())] if speaker else []

    def _prompt(
        self, messages: Sequence[Turn], forced: str, typed: str, speaker: str | None = None
    ) -> Prompt:
        """Token ids of `speaker`'s voice lines and the conversation, and of the forced reply
        start, its tail healed."""
        causal = self.format.family != SEQ2SEQ
        voice = self._voice_ids(speaker)
        source = self.format.source(messages)
        specials = causal and not voice  # a causal model's start token goes before the voice
        context = self.tokenizer(source, add_special_tokens=specials)["input_ids"] if source else []
        context = voice + context[_cut(len(context), self.max_source_tokens - len(voice)) :]
        if causal and not context and self.tokenizer.bos_token_id is not None:
            context = [self.tokenizer.bos_token_id]
        elif not causal and not context:
            # No conversation yet (training always has one). CTranslate2 skips a T5 input of
            # the end token alone as empty, so both backends read two.
            context = [self.tokenizer.convert_tokens_to_ids(self.format.end)] * 2
        forced_ids = self.tokenizer(forced, add_special_tokens=False)["input_ids"] if forced else []
        kept, tail = self._heal(forced, forced_ids, typed) if typed else (forced_ids, "")
        return Prompt(context=context, forced=kept, forced_text=forced, tail=tail)

    def _voice_ids(self, speaker: str | None) -> list[int]:
        """The tokens of `speaker`'s voice lines, as many of the first as fit in a quarter of
        the context (the conversation keeps the rest)."""
        turns = self.voice(speaker)
        key = (self.max_source_tokens, *turns)
        if key not in self._voice_cache:
            causal = self.format.family != SEQ2SEQ
            ids: list[int] = []
            while turns:
                source = self.format.source(turns)
                ids = self.tokenizer(source, add_special_tokens=causal)["input_ids"]
                if len(ids) <= self.max_source_tokens // 4:
                    break
                turns, ids = turns[:-1], []
            self._voice_cache[key] = ids
        return self._voice_cache[key]

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
                if not self.speller().allowed(tail):
                    break  # no token sequence spells it (é in byte pieces): keep the typed ids
                return ids[:-back], tail
        return ids, ""

    def _candidate(
        self, prompt: Prompt, ids: list[int], score: float, as_: str | None, settings: Sampling
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
        if as_ is not None and speaker != self.format.name(as_).strip():
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

    def _token_text(self, token: int) -> str:
        """What one token id spells, as `token_texts` gives it."""
        if self._texts is not None:
            return self._texts[token] if token < len(self._texts) else ""
        if token >= len(self.tokenizer):  # the model's rows past the vocabulary spell nothing
            return ""
        anchor = self._anchor()
        base = self.tokenizer.decode([anchor], skip_special_tokens=False)
        text = self.tokenizer.decode([anchor, token], skip_special_tokens=False)
        return text[len(base) :] if text.startswith(base) else ""

    def speller(self) -> Speller:
        """What may come next while a typed tail is spelled out (built once, for healing)."""
        if self._speller is None:
            self._speller = Speller(self.token_texts, self._token_text)
        return self._speller


@dataclass(frozen=True)
class Request:
    """One conversation of `Suggester.suggest_many`: whose reply, and what was typed."""

    messages: Sequence[Turn]
    as_: str | None = None
    prefix: str = ""


class _Picking:
    """One conversation's candidates as they are drawn: its prompt, where a message ends, and
    the curated candidates kept so far by their normalized text."""

    def __init__(
        self, suggester: Suggester, messages: Sequence[Turn], as_: str | None, prefix: str
    ):
        self.suggester = suggester
        self.messages, self.as_, self.prefix = messages, as_, prefix
        chat_format = suggester.format
        self.prompt = suggester._prompt(
            messages, chat_format.reply_prefix(as_, prefix), prefix, as_
        )
        # The replier is a name too: a new line in their name starts their next message.
        names = {t.sender for t in messages} | set(suggester.speakers) | ({as_} if as_ else set())
        self.turn = _next_turn(names, chat_format)
        separator = chat_format.speaker_separator.rstrip()
        self.stops = tuple(f"\n{name}{separator}" for name in sorted(names))
        self.kept: dict[str, Candidate] = {}
        self.times: Counter[str] = Counter()  # how often each kept text was drawn

    def take(self, draws: Sequence[Any], settings: Sampling) -> None:
        for draw in draws:
            candidate = self.suggester._candidate(
                self.prompt, draw.ids, draw.score, self.as_, settings
            )
            if candidate is not None and self.turn is not None:
                candidate = replace(candidate, text=self.turn.split(candidate.text)[0].rstrip())
            if candidate is None or not _acceptable(candidate.text, self.messages, self.prefix):
                continue
            key = text_key(candidate.text)
            self.times[key] += 1
            if key not in self.kept or self.kept[key].score < candidate.score:
                self.kept[key] = candidate

    def best(self, n: int, greedy: bool) -> list[Candidate]:
        """The `n` most probable; sampled ones in consensus order, beams (which are not draws
        from the model, so their agreement means nothing) by probability."""
        best = sorted(self.kept.values(), key=lambda c: -c.score)[:n]
        if greedy:
            return best
        return by_consensus(best, {self.kept[k].text: times for k, times in self.times.items()})


def by_consensus(
    candidates: Sequence[Candidate], drawn: Mapping[str, int] | None = None
) -> list[Candidate]:
    """`candidates` ordered by their expected similarity to what the model writes (minimum
    Bayes risk): the summed chrF, averaged both ways, to every text `drawn` (text -> times it
    was drawn; the candidates once each by default), themselves excluded once. Most alike
    first; ties keep their order."""
    drawn = dict(drawn) if drawn is not None else {c.text: 1 for c in candidates}
    if len(candidates) < 2 or sum(drawn.values()) < 3:
        return list(candidates)
    from sacrebleu.metrics import CHRF

    metric = CHRF()

    def similarity(first: str, second: str) -> float:
        if first == second:
            return 200.0
        score = metric.sentence_score(first, [second]).score
        return score + metric.sentence_score(second, [first]).score

    def expected(text: str) -> float:
        total = sum(times * similarity(text, other) for other, times in drawn.items())
        return total - similarity(text, text)

    totals = [expected(c.text) for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -totals[i])
    return [candidates[i] for i in order]


def _exported(
    backend: str,
    folder: Path,
    tokenizer: Any,
    chat_format: ChatFormat,
    described: RunDescription,
) -> Backend:
    """The engine of an export folder."""
    if backend == "ort":
        from twinchat.inference.backends.ort import OrtBackend

        return OrtBackend.load(folder, tokenizer, chat_format, described.generation)
    from twinchat.inference.backends.ct2 import CT2Backend

    return CT2Backend.load(
        folder,
        tokenizer,
        chat_format,
        quantization=described.quantization,
        generation=described.generation,
    )


def _run_format(run: Path, description: RunDescription) -> ChatFormat:
    """The format the run was trained with; an untuned model's export has none.

    Raises:
        TwinchatError: the folder is an untuned model's export.
    """
    if description.format is None:
        model = description.source_model or "an untuned model"
        raise TwinchatError(
            f"{run} is an export of {model}, not of a run; load a run folder or its export"
        )
    return description.format


def _load_tokenizer(folder: Path, backend: str) -> Any:
    """The run's tokenizer. For an export, straight from its `tokenizer.json` when it has one:
    the same tokens, without the 2 s of importing torch that AutoTokenizer costs."""
    if backend not in ("hf", "hf-int8") and (folder / "tokenizer.json").is_file():
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(str(folder))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def listed(names: Sequence[str], most: int = 15) -> str:
    """The first `most` names for an error message, "…" when there are more."""
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")


CUT_STEP = 64
"""Context tokens dropped at a time once a conversation outgrows the limit."""


def _cut(length: int, limit: int) -> int:
    """Where a context of `length` tokens starts: the oldest go first, as in training, but a
    whole `CUT_STEP` at a time, so that the start stays put while a few messages come in and a
    kept reading of the conversation still serves (one token at a time, every new message
    would move it and the whole conversation would be read again)."""
    over = length - limit
    step = max(1, min(CUT_STEP, limit // 8))
    return 0 if over <= 0 else math.ceil(over / step) * step


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
    if prefix and text_key(text) == text_key(prefix):
        return False
    key = text_key(text)
    if any(key == text_key(turn.text) for turn in messages):
        return False
    if _REPEAT.search(text) or _counting(text):
        return False
    words = text.split()
    return len(words) < 8 or len(set(words)) / len(words) >= 0.3


def _counting(text: str) -> bool:
    """Three or more pieces that differ only in their digits and hold nothing else (`#11 #12
    #13`, `1. 2. 3.`): a model numbering lines, not a message."""
    pieces = text.split()
    if len(pieces) < 3 or any(c.isalpha() for c in text):
        return False
    shapes = {re.sub(r"\d+", "0", piece) for piece in pieces}
    return len(shapes) == 1 and "0" in next(iter(shapes))


def _mismatch(run: Path, own: str, description: RunDescription) -> str:
    if own != "hf":
        source = description.source_run or "the run it came from"
        engine = {"ct2": "a CTranslate2", "ort": "an onnxruntime-genai"}.get(own, f"a {own}")
        return f"{run} is {engine} export; load it with --backend {own}, or load {source}"
    return (
        f"{run} holds transformers weights; export them first: "
        f"twinchat export {run} --to ct2 -o {run}-ct2 (or --to ort for a causal model)"
    )
