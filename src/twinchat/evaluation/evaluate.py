"""`twinchat eval`: held-out metrics of a run against baselines, and a side-by-side report.

Every model answers through the same `suggest(messages, as_=, prefix=, n=)` call, so the
fine-tune, the untuned base model, a retrieval baseline and the speaker's frequent messages
are measured the same way on the same held-out examples:

* reply loss and perplexity of the real reply, teacher-forced after the speaker's name (models
  only);
* ROUGE-L and chrF of the best and of the first candidate against the real reply, distinct-1/2
  across each example's candidates;
* speaker accuracy: without `as_`, does the top candidate come from the real speaker;
* typeahead: ExactMatch@1/@3 words of the greedy completion at each word start, and keystroke
  savings of a user who accepts correct next-word suggestions as they type;
* style fidelity (`fidelity`): how often a "who wrote this?" classifier fitted on the training
  replies attributes the candidates written as a person to that person (and the real replies:
  the ceiling), and how far their length, punctuation, emoji and casing are from the person's;
  with `EvalOptions.odds`, also how often the run's own odds of who wrote a text put that
  person first (the `odds` module).

Every figure keeps each example's part, so each comes with a 95 % bootstrap interval over the
examples (`intervals`), and the verdict calls a difference only when the paired interval of the
difference excludes 0. Several dataset folders are measured at once, per chat and pooled.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from twinchat.data.example import Example, Turn
from twinchat.errors import TwinchatError
from twinchat.jsonl import read_jsonl

BASELINES = ("base", "retrieval", "frequent")
REAL = "real replies"
"""The column of the real held-out replies: the ceiling of the style figures."""
MIN_REPLIES = 20
"""Training replies a person needs to be in the style figures: fewer, and a classifier cannot
learn how they write."""
KEY_STYLE = ("style_accuracy",)
"""The style figure on which the fine-tune must beat the untuned model."""
ODDS = "style_odds_accuracy"
"""Style accuracy by the run's own odds (`EvalOptions.odds`)."""
CARD_FIGURES = ("reply_loss", "keystroke_savings", ODDS)
"""Also compared paired with every comparison, for the quality card's plain words."""


@dataclass
class EvalOptions:
    compare: Sequence[str] = BASELINES
    """Baselines (`base`, `retrieval`, `frequent`) and other run folders to compare with."""
    samples: int = 300
    """Held-out examples per chat. Measured (benchmarks/samples.py, docs/evaluation.md): 300
    tell ROUGE-L and chrF differences of 0.02 apart and give the run-minus-base reply loss an
    interval of about ±0.1 nats; ±0.05 would take about 850-1,600."""
    candidates: int = 5
    typeahead: int = 40
    """Examples whose replies are typed out for the typeahead figures (costly: many calls);
    40 give keystroke savings' difference an interval of about ±0.03."""
    seed: int = 0
    """Seeds the candidates' sampling and the bootstrap resamples."""
    min_replies: int = MIN_REPLIES
    """Training replies a person needs to be in the style figures."""
    backend: str | None = None
    """The engine of the run and its base: the folder's own, or `hf-int8` for a run's weights
    quantized as they load (batched on a CPU, the quickest evaluation of a run)."""
    odds: bool = False
    """Also measure style accuracy by the run's own odds of who wrote each text (costly: one
    batched scoring call per text, with one row per person)."""
    temperature: float | None = None
    """How every model's candidates are drawn; None keeps each run's own (saved by training):
    an evaluation can compare sampling settings on one run."""
    top_p: float | None = None
    greedy: bool = False
    """Candidates by beam search instead of sampling."""
    voices: bool = True
    """Each model reads the run's voice lines of a person before writing as them (the base
    model the run's own, so the comparison is of the training); False: the conversation
    alone."""
    force: bool = False

    def __post_init__(self) -> None:
        least = {"samples": 1, "candidates": 1, "typeahead": 0, "min_replies": 1}
        problems = [
            f"--{name.replace('_', '-')} must be at least {low}, not {getattr(self, name)}"
            for name, low in least.items()
            if getattr(self, name) < low
        ]
        if problems:
            raise TwinchatError("; ".join(problems))
        from twinchat.description import Sampling

        Sampling(**self.sampling)  # a wrong setting fails before any model loads

    @property
    def sampling(self) -> dict[str, float]:
        """The sampling settings given, to override the runs' own."""
        given = {"temperature": self.temperature, "top_p": self.top_p}
        return {name: value for name, value in given.items() if value is not None}


Span = tuple[float, float] | None
"""A 95 % interval (low, high), or None where there are too few examples."""


@dataclass
class Evaluation:
    """What `evaluate` measured; `metrics.json` holds the same."""

    models: list[str]
    """The run under test first, then the comparisons."""
    metrics: dict[str, dict[str, float | None]]
    """Model (and `REAL`) -> figure -> value, over every chat."""
    intervals: dict[str, dict[str, Span]]
    """The same shape: each value's 95 % bootstrap interval."""
    differences: dict[str, dict[str, tuple[float, float, float] | None]]
    """Comparison -> figure -> (run minus it, low, high), paired over the same examples."""
    chats: dict[str, dict[str, Any]]
    """Chat -> {"examples", "metrics", "intervals"}, with several dataset folders."""
    fidelity: dict[str, Any]
    """Per person: the style figures and profiles (see `_fidelity`)."""
    verdict: str

    def __getitem__(self, model: str) -> dict[str, float | None]:
        """`result[model]` is that model's figures, as when `evaluate` returned `metrics`."""
        return self.metrics[model]


@dataclass
class _Tally:
    """Each example's part of each of one model's figures: example index -> (numerator,
    denominator), so that figures of any subset of examples, and their intervals, follow."""

    parts: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)

    def add(self, name: str, index: int, value: float, weight: float = 1.0) -> None:
        self.parts.setdefault(name, {})[index] = (value * weight, weight)

    def result(
        self, seed: int, keep: Sequence[int] | None = None
    ) -> tuple[dict[str, float | None], dict[str, Span]]:
        """(figure -> value, figure -> interval) over the examples in `keep` (all by default)."""
        from twinchat.evaluation import intervals

        figures: dict[str, float | None] = {"reply_loss": None, "perplexity": None}
        spans: dict[str, Span] = {"reply_loss": None, "perplexity": None}
        for name, parts in self.parts.items():
            figures[name] = intervals.value(parts, keep)
            spans[name] = intervals.interval(parts, seed, keep)
        loss, span = figures["reply_loss"], spans["reply_loss"]
        if loss is not None:  # perplexity is monotone in the loss: its interval follows
            figures["perplexity"] = math.exp(min(loss, 50))
            spans["perplexity"] = span and (math.exp(min(span[0], 50)), math.exp(min(span[1], 50)))
        return figures, spans


def evaluate(
    run: str | Path,
    data: str | Path | Sequence[str | Path],
    out: str | Path,
    options: EvalOptions | None = None,
    console: Console | None = None,
) -> Evaluation:
    """Measure the run in `run` and the baselines on the validation split of `data` (one
    dataset folder or several: `options.samples` examples from each); write `out`.

    Raises:
        TwinchatError: no finished run, no validation examples, an unknown comparison.
    """
    options = options or EvalOptions()
    console = console or Console(stderr=True)
    folders = [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]
    run, out = Path(run), Path(out)
    chats, held = _chat_names(folders), []
    for folder, chat in zip(folders, chats, strict=True):
        found = _spread(_examples(folder / "validation.jsonl", "validation"), options.samples)
        held += [(chat, example) for example in found]
    train = [e for folder in folders for e in _examples(folder / "train.jsonl", "train")]
    with tempfile.TemporaryDirectory(prefix="twinchat-eval-") as scratch:
        models = _models(run, train, options, console, Path(scratch))
        return _evaluate(run, folders, out, models, held, train, options, console)


def _chat_names(folders: list[Path]) -> list[str]:
    """A name for each dataset folder: its own, or its path where two share a name."""
    names = [f.resolve().name or str(f) for f in folders]
    return [str(f) if names.count(n) > 1 else n for f, n in zip(folders, names, strict=True)]


def _evaluate(
    run: Path,
    folders: list[Path],
    out: Path,
    models: dict[str, Any],
    held: list[tuple[str, Example]],
    train: list[Example],
    options: EvalOptions,
    console: Console,
) -> Evaluation:
    from twinchat.atomic import staged_folder
    from twinchat.evaluation.card import write_card
    from twinchat.evaluation.report import KEY_METRICS, verdict, write_blind, write_report
    from twinchat.progress import progress_bar

    names = list(models)
    examples = [example for _, example in held]
    rows = [{**_row(e), "chat": chat} for chat, e in held]
    positions = _positions([chat for chat, _ in held])
    tallies = {name: _Tally() for name in names}
    with progress_bar(console) as report:
        for name, model in models.items():
            done = 0
            for batch in _batches(examples):
                drawn = _draw(model, [examples[i] for i in batch], batch[0], options)
                for index, (candidates, guess) in zip(batch, drawn, strict=True):
                    report(f"evaluating {name}", done, len(held))
                    texts = _measure(
                        model, examples[index], index, positions[index], options,
                        tallies[name], candidates, guess,
                    )  # fmt: skip
                    rows[index]["candidates"][name] = texts
                    done += 1
            report(f"evaluating {name}", len(held), len(held))
    with console.status("measuring style fidelity"):
        judge = models[names[0]]
        fidelity, profiles = _fidelity(names, examples, rows, train, tallies, options, judge)
    metrics, spans = _summary(tallies, profiles, options.seed)
    differences = {
        other: {
            key: _difference(tallies[names[0]], tallies[other], key, options.seed)
            for key in (*KEY_METRICS, *KEY_STYLE, *CARD_FIGURES)
        }
        for other in names[1:]
    }
    sentence = verdict(names, metrics, differences=differences)
    if "base" in names[1:] and metrics[names[0]].get("style_accuracy") is not None:
        style = verdict([names[0], "base"], metrics, KEY_STYLE, differences=differences)
        sentence = f"{sentence} {style}"
    chats = _per_chat(tallies, profiles, held, options.seed) if len(folders) > 1 else {}
    settings = {
        "run": str(run), "data": ", ".join(str(f) for f in folders), "samples": len(held),
        "candidates": options.candidates, "typeahead examples per chat": options.typeahead,
        "seed": options.seed,
        "sampling": _sampling_text(models[names[0]], options),
        "engine": models[names[0]].backend.name,
        "conversation tokens read": models[names[0]].max_source_tokens,
        "replies by people not in training": _new_speakers(models, examples),
        "intervals": "95 %, bootstrap over examples (1,000 resamples, seeded)",
    }  # fmt: skip
    result = Evaluation(names, metrics, spans, differences, chats, fidelity, sentence)
    with staged_folder(out, force=options.force) as staging:
        write_report(
            staging, names, metrics, _curve(run), rows, settings,
            intervals=spans, differences=differences, chats=chats, fidelity=fidelity,
            verdict_text=sentence,
        )  # fmt: skip
        write_blind(staging, names, rows, seed=options.seed, settings=settings)
        write_card(staging, result, settings)
        _write_parts(staging / PARTS, held, tallies)
    return result


def _sampling_text(run: Any, options: EvalOptions) -> str:
    from dataclasses import replace

    voices = "; voice lines read" if options.voices and run.voices else "; no voice lines"
    if options.greedy:
        return f"beam search (given){voices}"
    settings = replace(run.sampling, **options.sampling)
    source = "given" if options.sampling else "the run's"
    return f"temperature {settings.temperature:g}, top p {settings.top_p:g} ({source}){voices}"


PARTS = "figures.jsonl"
"""Each held-out example's part of every figure: its intervals, or those of any subset (how
many examples a figure needs), can be computed again without running the models."""


def _write_parts(path: Path, held: list[tuple[str, Example]], tallies: dict[str, _Tally]) -> None:
    from twinchat.atomic import private_open
    from twinchat.jsonl import encode_line

    with private_open(path, "wb") as handle:
        for index, (chat, example) in enumerate(held):
            figures = {
                name: {key: list(parts[index]) for key, parts in tally.parts.items()
                       if index in parts}
                for name, tally in tallies.items()
            }  # fmt: skip
            line = {"index": index, "id": example.id, "chat": chat, "speaker": example.speaker,
                    "figures": figures}  # fmt: skip
            handle.write(encode_line(line))


def _positions(chats: list[str]) -> list[int]:
    """Each example's position within its own chat (the typeahead takes each chat's first)."""
    seen: dict[str, int] = {}
    found = []
    for chat in chats:
        found.append(seen.get(chat, 0))
        seen[chat] = found[-1] + 1
    return found


def _difference(
    first: _Tally, other: _Tally, key: str, seed: int
) -> tuple[float, float, float] | None:
    from twinchat.evaluation import intervals

    if key not in first.parts or key not in other.parts:
        return None
    return intervals.difference(first.parts[key], other.parts[key], seed)


def _fidelity(
    names: list[str],
    examples: list[Example],
    rows: list[dict[str, Any]],
    train: list[Example],
    tallies: dict[str, _Tally],
    options: EvalOptions,
    judge: Any = None,
) -> tuple[dict[str, Any], Any]:
    """Style accuracy (into each tally, and a `REAL` one), by the odds of `judge` (the run under
    test) too with `options.odds`, and profiles; the per-person figures for the report and the
    profiles (None when no one has enough training replies)."""
    from twinchat.evaluation import intervals
    from twinchat.evaluation.fidelity import (
        StyleClassifier,
        StyleProfiles,
        accuracy_parts,
        profile_parts,
    )

    classifier = StyleClassifier(train, options.min_replies)
    speakers = [e.speaker for e in examples]
    written = {name: [row["candidates"][name] for row in rows] for name in names}
    written[REAL] = [[e.text] for e in examples]
    tallies[REAL] = _Tally()
    for name, texts in written.items():
        found = accuracy_parts(classifier, speakers, texts) if classifier.model else {}
        if found:
            tallies[name].parts["style_accuracy"] = dict(found)
    if options.odds and classifier.model is not None:
        _odds(judge, examples, written, classifier.speakers, tallies)
    known = [s if s in classifier.replies else None for s in speakers]
    people = sorted({s for s in known if s is not None})
    fidelity: dict[str, Any] = {
        "min_replies": options.min_replies,
        "people": {
            p: {"training replies": classifier.replies[p], "held-out replies": known.count(p)}
            for p in people
        },
        "chance": 1 / len(classifier.speakers) if classifier.model is not None else None,
        "accuracy": {},
        **({"odds accuracy": {}} if options.odds else {}),
        "profiles": {},
        "distance": {},
        "feature distance": {},
    }
    if not people:
        return fidelity, None
    profiles = StyleProfiles(
        known,
        [profile_parts(t) for t in written[REAL]],
        {name: [profile_parts(t) for t in written[name]] for name in names},
    )
    for name in [REAL, *names]:
        for key, figure in (("accuracy", "style_accuracy"), ("odds accuracy", ODDS)):
            parts = tallies[name].parts.get(figure, {})
            if parts:
                fidelity[key][name] = {
                    p: _triple(
                        intervals.value(parts, mine), intervals.interval(parts, options.seed, mine)
                    )
                    for p in people
                    if (mine := [i for i, s in enumerate(known) if s == p])
                }
        fidelity["profiles"][name] = profiles.profiles(None if name == REAL else name)
        if name != REAL:
            found = profiles.distances(name, options.seed)
            fidelity["distance"][name] = {p: list(v) for p, v in found["people"].items()}
            fidelity["feature distance"][name] = found["features"]
    return fidelity, profiles


def _odds(
    judge: Any,
    examples: list[Example],
    written: dict[str, list[list[str]]],
    people: list[str],
    tallies: dict[str, _Tally],
) -> None:
    """Style accuracy by the judge's own odds, over the people the classifier chooses among,
    into each tally. The judge drew its own candidates as the person, so its odds favour its
    own texts: the real replies' share, which no model wrote, is the honest reference.

    Raises:
        TwinchatError: the run under test cannot give odds (a baseline has no model).
    """
    from twinchat.evaluation.odds import odds_parts

    if not hasattr(judge, "speaker_odds"):
        raise TwinchatError("--odds needs a model to judge: the run under test has no odds")
    for name, texts in written.items():
        found = odds_parts(judge, examples, texts, people)
        if found:
            tallies[name].parts[ODDS] = dict(found)


def _triple(point: float | None, span: Span) -> list[float | None]:
    return [point, *(span or (None, None))]


def _summary(
    tallies: dict[str, _Tally], profiles: Any, seed: int, keep: Sequence[int] | None = None
) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, Span]]]:
    """Model -> figure -> value, and -> interval, over the examples in `keep`."""
    metrics, spans = {}, {}
    for name, tally in tallies.items():
        metrics[name], spans[name] = tally.result(seed, keep)
        if name == REAL:  # only the style figures mean anything for the real replies
            metrics[name] = {k: v for k, v in metrics[name].items() if k.startswith("style")}
            spans[name] = {k: v for k, v in spans[name].items() if k.startswith("style")}
            if not metrics[name]:
                del metrics[name], spans[name]
        elif profiles is not None:
            value, low, high = profiles.distances(name, seed, keep)["overall"]
            metrics[name]["style_distance"] = value
            spans[name]["style_distance"] = None if low is None else (low, high)
    return metrics, spans


def _per_chat(
    tallies: dict[str, _Tally], profiles: Any, held: list[tuple[str, Example]], seed: int
) -> dict[str, dict[str, Any]]:
    chats: dict[str, list[int]] = {}
    for index, (chat, _) in enumerate(held):
        chats.setdefault(chat, []).append(index)
    found = {}
    for chat, keep in chats.items():
        metrics, spans = _summary(tallies, profiles, seed, keep)
        found[chat] = {"examples": len(keep), "metrics": metrics, "intervals": spans}
    return found


def _new_speakers(models: dict[str, Any], held: list[Example]) -> str:
    """The share of measured replies whose author the run never saw: neither a model nor a
    baseline can know how a new person writes."""
    known = set(next(iter(models.values())).speakers)
    new = sum(1 for e in held if e.speaker not in known)
    return f"{new} of {len(held)}"


def _examples(path: Path, split: str) -> list[Example]:
    if not path.is_file() or not path.stat().st_size:
        raise TwinchatError(
            f"{path} is missing or empty: prepare the data with a {split} split "
            f"(twinchat prepare EXPORT -o {path.parent})"
        )
    return [Example.from_dict(record) for record in read_jsonl(path)]


def _spread(examples: list[Example], count: int) -> list[Example]:
    """`count` examples spread evenly over the split (it is in time order)."""
    fitting = [e for e in examples if e.context and e.text.strip()]
    if len(fitting) <= count:
        return fitting
    step = len(fitting) / count
    return [fitting[int(i * step)] for i in range(count)]


def _models(
    run: Path, train: list[Example], options: EvalOptions, console: Console, scratch: Path
) -> dict[str, Any]:
    from twinchat.evaluation.baselines import Frequent, Retrieval
    from twinchat.inference.suggester import Suggester

    backend = options.backend
    tuned = Suggester.load(run, backend=backend)
    models: dict[str, Any] = {run.name or "run": tuned}
    for name in options.compare:
        if name == "base":
            models["base"] = _base(run, tuned, console, scratch)
        elif name in ("retrieval", "frequent"):
            models[name] = Retrieval(train) if name == "retrieval" else Frequent(train)
        elif Path(name).is_dir():
            other = Path(name)
            label = other.name if other.name not in models else str(other)
            models[label] = Suggester.load(other, backend=backend)
        else:
            raise TwinchatError(
                f"cannot compare with '{name}': give base, retrieval, frequent or a run folder"
            )
    for model in models.values():
        if hasattr(model, "open_speakers"):
            model.open_speakers = True  # held-out sessions may bring people training never saw
            if not options.voices:  # the baselines quote training replies anyway
                model.voices = {}
    return models


def _base(run: Path, tuned: Any, console: Console, scratch: Path) -> Any:
    """The untuned base model, on the engine of the run's export (its quantization too) and
    reading as much of each conversation as the run: the comparison is of the training, not of
    the engines or the context budget; and a fast export stays fast."""
    from twinchat.description import RunDescription
    from twinchat.inference.export import export_model
    from twinchat.inference.suggester import Suggester

    described = RunDescription.read(run)
    base = described.base_model
    engine = tuned.backend.name
    if engine != "ort":  # CTranslate2's T5 would lack the newline token training adds
        console.print(f"loading the untuned base model {base}", highlight=False)
        model = Suggester.from_model(base, backend="hf-int8" if engine == "hf-int8" else "hf")
    else:
        with console.status(f"converting the untuned base model {base} for {engine}"):
            quantization = described.quantization or "int8"
            folder = export_model(base, scratch / "base", engine, quantization)
            model = Suggester.from_model(base, export=folder)
    # A run reading 96 tokens of conversation against a base reading 512 would measure the
    # context budget more than the training (0.34 nats of reply loss on the demo's run).
    # The same voice lines of each person read first, for the same reason.
    model.max_source_tokens, model.voices = tuned.max_source_tokens, dict(tuned.voices)
    return model


def _row(example: Example) -> dict[str, Any]:
    return {
        "id": example.id,
        "context": [{"sender": t.sender, "text": t.text} for t in example.context],
        "speaker": example.speaker,
        "real": example.text,
        "candidates": {},
    }


BATCH = 8
"""Held-out examples drawn for in one batch. On the 2-core CPU a decoding step of SmolLM2-135M
(int8) costs 31.6 ms for one example's 7 rows and 53.6 ms for five examples' 35: batches pay
up to about that size, and on a GPU far more."""


def _batches(examples: list[Example]) -> list[list[int]]:
    """Example indices in batches of `BATCH`, conversations of like length together (a batch
    is padded to its longest)."""
    order = sorted(
        range(len(examples)), key=lambda i: sum(len(t.text) for t in examples[i].context)
    )
    return [order[start : start + BATCH] for start in range(0, len(order), BATCH)]


def _draw(
    model: Any, examples: list[Example], first: int, options: EvalOptions
) -> list[tuple[list[Any], list[Any]]]:
    """Each example's candidates as its speaker, and the greedy guess of who speaks next (its
    first tokens, the same in a shorter reply): two batched calls for the batch."""
    from twinchat.inference.suggester import Request

    seed = options.seed + first
    asked = [Request(e.context, e.speaker) for e in examples]
    candidates = _suggest_many(
        model, asked, n=options.candidates, greedy=options.greedy, seed=seed, **options.sampling
    )
    anyone = [Request(e.context) for e in examples]
    guesses = _suggest_many(model, anyone, n=1, greedy=True, seed=seed, max_new_tokens=16)
    return list(zip(candidates, guesses, strict=True))


def _suggest_many(model: Any, requests: list[Any], **options: Any) -> list[list[Any]]:
    """A model's `suggest_many`, or its `suggest` per request (the baselines)."""
    if hasattr(model, "suggest_many"):
        return model.suggest_many(requests, **options)
    return [model.suggest(r.messages, as_=r.as_, prefix=r.prefix, **options) for r in requests]


def _measure(
    model: Any,
    example: Example,
    index: int,
    position: int,
    options: EvalOptions,
    tally: _Tally,
    candidates: list[Any],
    guess: list[Any],
) -> list[str]:
    """One model's `candidates` and greedy `guess` for example `index` (`position` in its
    chat), and its reply loss and typeahead: adds to `tally`, returns the candidates' texts."""
    from twinchat.evaluation import scoring

    context, real = example.context, example.text
    texts = [c.text for c in candidates]
    if hasattr(model, "reply_loss"):
        nll, tokens = model.reply_loss(context, example.speaker, real)
        if tokens:  # the loss is per token: each example weighs its tokens
            tally.add("reply_loss", index, nll / tokens, tokens)
    tally.add("rouge_l_best", index, scoring.best_of(texts, real, scoring.rouge_l))
    tally.add("rouge_l_first", index, scoring.rouge_l(texts[0], real) if texts else 0.0)
    tally.add("chrf_best", index, scoring.best_of(texts, real, scoring.chrf))
    tally.add("chrf_first", index, scoring.chrf(texts[0], real) if texts else 0.0)
    if len(texts) > 1:
        tally.add("distinct_1", index, scoring.distinct_n(texts, 1))
        tally.add("distinct_2", index, scoring.distinct_n(texts, 2))
    if len(getattr(model, "speakers", [])) != 1:
        right = float(bool(guess) and guess[0].speaker == example.speaker)
        tally.add("speaker_accuracy", index, right)
    if position < options.typeahead:
        _typeahead(model, example, index, tally)
    return texts


def _typeahead(model: Any, example: Example, index: int, tally: _Tally) -> None:
    from twinchat.evaluation import scoring

    complete = _Completer(model, example.context, example.speaker)
    real = example.text
    cuts = scoring.cut_points(real)
    if cuts:  # one walk through the reply gives the exact matches and the keystrokes
        figures = scoring.typeahead_scores([real], complete)
        for name in ("exact_match@1", "exact_match@3"):
            tally.add(name, index, figures[name], weight=len(cuts))
        saved = figures["keystroke_savings"]
    else:
        saved = scoring.keystroke_savings(real, complete)
    tally.add("keystroke_savings", index, saved, weight=len(real))


class _Completer:
    """`complete(typed)` for one reply, as a typeahead box behaves: a suggestion stays shown
    while the user types what it says, and is asked for again once they leave it."""

    def __init__(self, model: Any, context: list[Turn], speaker: str):
        self.model, self.context, self.speaker = model, context, speaker
        self.shown: tuple[str, str] | None = None
        self.asked: dict[str, str] = {}
        """Completions already computed: the exact-match walk and the keystroke walk ask for
        the same typed texts, and a greedy completion is the same every time."""

    def __call__(self, typed: str) -> str:
        if self.shown is not None:
            before, suggestion = self.shown
            if typed.startswith(before) and suggestion.startswith(typed[len(before) :]):
                rest = suggestion[len(typed) - len(before) :]
                if rest:
                    return rest
        suggestion = self._ask(typed)
        self.shown = (typed, suggestion)
        return suggestion

    def _ask(self, typed: str) -> str:
        if typed not in self.asked:
            self.asked[typed] = self._complete(typed)
        return self.asked[typed]

    def _complete(self, typed: str) -> str:
        if hasattr(self.model, "complete"):
            return self.model.complete(self.context, self.speaker, typed)
        best = self.model.suggest(self.context, as_=self.speaker, prefix=typed, n=1)
        return best[0].text[len(typed) :] if best and best[0].text.startswith(typed) else ""


def _curve(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    return list(read_jsonl(path))
