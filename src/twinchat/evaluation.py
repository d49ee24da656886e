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
  savings of a user who accepts correct next-word suggestions as they type.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from twinchat.errors import TwinchatError
from twinchat.example import Example, Turn

BASELINES = ("base", "retrieval", "frequent")


@dataclass
class EvalOptions:
    compare: Sequence[str] = BASELINES
    """Baselines (`base`, `retrieval`, `frequent`) and other run folders to compare with."""
    samples: int = 100
    candidates: int = 5
    typeahead: int = 20
    """Examples whose replies are typed out for the typeahead figures (costly: many calls)."""
    seed: int = 0
    force: bool = False


@dataclass
class _Tally:
    """Running sums of one model's figures."""

    nll: float = 0.0
    tokens: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: float, weight: float = 1.0) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + value * weight
        self.counts[name] = self.counts.get(name, 0.0) + weight

    def result(self) -> dict[str, float | None]:
        figures: dict[str, float | None] = {"reply_loss": None, "perplexity": None}
        if self.tokens:
            loss = self.nll / self.tokens
            figures.update(reply_loss=loss, perplexity=math.exp(min(loss, 50)))
        for name, total in self.sums.items():
            figures[name] = total / self.counts[name] if self.counts[name] else None
        return figures


def evaluate(
    run: str | Path,
    data: str | Path,
    out: str | Path,
    options: EvalOptions | None = None,
    console: Console | None = None,
) -> dict[str, dict[str, float | None]]:
    """Measure the run in `run` and the baselines on `data`'s validation split; write `out`.

    Raises:
        TwinchatError: no finished run, no validation examples, an unknown comparison.
    """
    options = options or EvalOptions()
    console = console or Console(stderr=True)
    run, data, out = Path(run), Path(data), Path(out)
    held = _spread(_examples(data / "validation.jsonl", "validation"), options.samples)
    with tempfile.TemporaryDirectory(prefix="twinchat-eval-") as scratch:
        models = _models(run, data, options.compare, console, Path(scratch))
        return _evaluate(run, data, out, models, held, options, console)


def _evaluate(
    run: Path,
    data: Path,
    out: Path,
    models: dict[str, Any],
    held: list[Example],
    options: EvalOptions,
    console: Console,
) -> dict[str, dict[str, float | None]]:
    from twinchat.atomic import staged_folder
    from twinchat.evalreport import verdict, write_blind, write_report
    from twinchat.progress import progress_bar

    names = list(models)
    rows = [_row(e) for e in held]
    tallies = {name: _Tally() for name in names}
    with progress_bar(console) as report:
        for name, model in models.items():
            for index, example in enumerate(held):
                report(f"evaluating {name}", index, len(held))
                texts = _measure(model, example, index, options, tallies[name])
                rows[index]["candidates"][name] = texts
            report(f"evaluating {name}", len(held), len(held))
    metrics = {name: tallies[name].result() for name in names}
    settings = {
        "run": str(run), "data": str(data), "samples": len(held),
        "candidates": options.candidates, "typeahead examples": min(options.typeahead, len(held)),
        "seed": options.seed,
        "replies by people not in training": _new_speakers(models, held),
    }  # fmt: skip
    with staged_folder(out, force=options.force) as staging:
        write_report(staging, names, metrics, _curve(run), rows, settings)
        write_blind(staging, names, rows, seed=options.seed, settings=settings)
    console.print(verdict(names, metrics), highlight=False)
    return metrics


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
    with path.open(encoding="utf-8") as handle:
        return [Example.from_dict(json.loads(line)) for line in handle if line.strip()]


def _spread(examples: list[Example], count: int) -> list[Example]:
    """`count` examples spread evenly over the split (it is in time order)."""
    fitting = [e for e in examples if e.context and e.text.strip()]
    if len(fitting) <= count:
        return fitting
    step = len(fitting) / count
    return [fitting[int(i * step)] for i in range(count)]


def _models(
    run: Path, data: Path, compare: Sequence[str], console: Console, scratch: Path
) -> dict[str, Any]:
    from twinchat.baselines import Frequent, Retrieval
    from twinchat.suggest import Suggester

    tuned = Suggester.load(run)
    models: dict[str, Any] = {run.name or "run": tuned}
    train: list[Example] | None = None
    for name in compare:
        if name == "base":
            models["base"] = _base(run, tuned, console, scratch)
        elif name in ("retrieval", "frequent"):
            train = train if train is not None else _examples(data / "train.jsonl", "train")
            models[name] = Retrieval(train) if name == "retrieval" else Frequent(train)
        elif Path(name).is_dir():
            other = Path(name)
            label = other.name if other.name not in models else str(other)
            models[label] = Suggester.load(other)
        else:
            raise TwinchatError(
                f"cannot compare with '{name}': give base, retrieval, frequent or a run folder"
            )
    for model in models.values():
        if hasattr(model, "open_speakers"):
            model.open_speakers = True  # held-out sessions may bring people training never saw
    return models


def _base(run: Path, tuned: Any, console: Console, scratch: Path) -> Any:
    """The untuned base model, on the engine of the run's export (its quantization too): the
    comparison is of the training, not of the engines; and a fast export stays fast."""
    from twinchat.description import RunDescription
    from twinchat.export import export_model
    from twinchat.suggest import Suggester

    described = RunDescription.read(run)
    base = described.base_model
    engine = tuned.backend.name
    if engine != "ort":  # CTranslate2's T5 would lack the newline token training adds
        console.print(f"loading the untuned base model {base}", highlight=False)
        return Suggester.from_model(base)
    with console.status(f"converting the untuned base model {base} for {engine}"):
        quantization = described.quantization or "int8"
        folder = export_model(base, scratch / "base", engine, quantization)
        return Suggester.from_model(base, export=folder)


def _row(example: Example) -> dict[str, Any]:
    return {
        "id": example.id,
        "context": [{"sender": t.sender, "text": t.text} for t in example.context],
        "speaker": example.speaker,
        "real": example.text,
        "candidates": {},
    }


def _measure(model: Any, example: Example, index: int, options: EvalOptions, tally: _Tally):
    """One model on one example: adds to `tally`, returns the candidates' texts."""
    from twinchat import scoring

    context, real = example.context, example.text
    candidates = model.suggest(
        context, as_=example.speaker, n=options.candidates, seed=options.seed + index
    )
    texts = [c.text for c in candidates]
    if hasattr(model, "reply_loss"):
        nll, tokens = model.reply_loss(context, example.speaker, real)
        tally.nll, tally.tokens = tally.nll + nll, tally.tokens + tokens
    tally.add("rouge_l_best", scoring.best_of(texts, real, scoring.rouge_l))
    tally.add("rouge_l_first", scoring.rouge_l(texts[0], real) if texts else 0.0)
    tally.add("chrf_best", scoring.best_of(texts, real, scoring.chrf))
    tally.add("chrf_first", scoring.chrf(texts[0], real) if texts else 0.0)
    if len(texts) > 1:
        tally.add("distinct_1", scoring.distinct_n(texts, 1))
        tally.add("distinct_2", scoring.distinct_n(texts, 2))
    # Who speaks is the greedy reply's first tokens, the same in a shorter greedy reply.
    guess = model.suggest(context, n=1, greedy=True, seed=options.seed + index, max_new_tokens=16)
    if len(getattr(model, "speakers", [])) != 1:
        tally.add("speaker_accuracy", float(bool(guess) and guess[0].speaker == example.speaker))
    if index < options.typeahead:
        _typeahead(model, example, tally)
    return texts


def _typeahead(model: Any, example: Example, tally: _Tally) -> None:
    from twinchat import scoring

    complete = _Completer(model, example.context, example.speaker)
    real = example.text
    cuts = scoring.cut_points(real)
    if cuts:  # one walk through the reply gives the exact matches and the keystrokes
        figures = scoring.typeahead_scores([real], complete)
        for name in ("exact_match@1", "exact_match@3"):
            tally.add(name, figures[name], weight=len(cuts))
        saved = figures["keystroke_savings"]
    else:
        saved = scoring.keystroke_savings(real, complete)
    tally.add("keystroke_savings", saved, weight=len(real))


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
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
