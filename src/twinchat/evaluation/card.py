"""The quality card: `twinchat eval`'s headline figures, with their intervals, in plain words.

`quality.md` sits beside `report.html` and `metrics.json` and says what a user asks of a clone:
does it predict their replies better than the untuned model, does it save keystrokes, and does
it sound like each person, told apart from the others as often as their real messages are. A
difference is called only when its paired 95 % interval excludes 0; otherwise the card says the
two are not told apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twinchat.atomic import write_private
from twinchat.evaluation.fidelity import FAR
from twinchat.evaluation.fidelity import FEATURES as PROFILE_FEATURES
from twinchat.evaluation.report import lower_better

REAL = "real replies"
CARD = "quality.md"
HEADLINE = (
    ("reply_loss", "reply loss (nats / token)"),
    ("perplexity", "perplexity"),
    ("keystroke_savings", "keystroke savings"),
    ("exact_match@1", "next word right (typeahead)"),
    ("style_accuracy", "style accuracy (who wrote this?)"),
    ("style_odds_accuracy", "style accuracy by the run's own odds"),
    ("style_distance", "style distance"),
    ("rouge_l_best", "ROUGE-L, best candidate"),
    ("chrf_best", "chrF, best candidate"),
)
"""The card's table, in this order; a figure no model has is left out."""
SHARES = ("keystroke_savings", "exact_match@1", "style_accuracy", "style_odds_accuracy")
"""Figures shown as percentages."""
QUANTIZED = (
    "**Measured on hf-int8** (the weights quantized as they load): it raises reply losses "
    "unevenly, by 0.1-0.4 nats, and can make a run look better than its base where float32 "
    "sees no difference. Quote the reply loss, and its comparison, from an ort export or "
    "float32 (`--backend hf`)."
)


def write_card(folder: Path, evaluation: Any, settings: Mapping[str, Any]) -> None:
    """Write `folder/quality.md` (0600) from an `Evaluation` and the eval's settings."""
    write_private(folder / CARD, render_card(evaluation, settings))


def render_card(evaluation: Any, settings: Mapping[str, Any]) -> str:
    """The card as Markdown."""
    models = list(evaluation.models)
    run = models[0]
    lines = [
        f"# Quality card: {run}",
        "",
        f"Measured by `twinchat eval` on {settings.get('samples')} held-out examples of "
        f"{settings.get('data')} ({settings.get('candidates')} candidates each; replies by "
        f"people the run never saw: {settings.get('replies by people not in training')}). "
        + _budget(settings)
        + "Every figure carries its 95 % interval over the examples; a difference is called "
        "only when its paired interval excludes 0.",
        *(["", QUANTIZED] if settings.get("engine") == "hf-int8" else []),
        "",
        "## Headline",
        "",
        *_headline(evaluation.metrics, evaluation.intervals),
        "",
        "## In plain words",
        "",
        *(f"- {line}" for line in plain_words(run, evaluation)),
        "",
    ]
    people = person_lines(run, evaluation.fidelity)
    if people:
        lines += ["## Person by person", "", *(f"- {line}" for line in people), ""]
    lines += [f"Verdict: {evaluation.verdict}", "", "The full report: [report.html](report.html)."]
    return "\n".join(lines) + "\n"


def _budget(settings: Mapping[str, Any]) -> str:
    read = settings.get("conversation tokens read")
    if read is None:
        return ""
    return f"The language models read the last {read} tokens of each conversation. "


def _headline(
    metrics: Mapping[str, Mapping[str, float | None]],
    spans: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    columns = list(metrics)
    rows = [f"| figure | {' | '.join(columns)} |", "| --- |" + " --- |" * len(columns)]
    for key, label in HEADLINE:
        cells = [figure(key, metrics[m].get(key), spans.get(m, {}).get(key)) for m in columns]
        if any(cell != "–" for cell in cells):
            rows.append(f"| {label} | {' | '.join(cells)} |")
    return rows


def figure(key: str, value: float | None, span: Any = None) -> str:
    """`value [low, high]`, as a percentage for shares."""
    if value is None:
        return "–"
    text = _number(key, value)
    if span and None not in span:
        text += f" [{_number(key, span[0])}, {_number(key, span[1])}]"
    return text


def _number(key: str, value: float) -> str:
    if key in SHARES:
        return f"{value:.0%}"
    return f"{value:.1f}" if key == "perplexity" else f"{value:.3f}"


def plain_words(run: str, evaluation: Any) -> list[str]:
    """The headline comparisons with the untuned model, one sentence each."""
    metrics, spans, differences = evaluation.metrics, evaluation.intervals, evaluation.differences
    base = "base" if "base" in metrics else None
    lines = []
    if base and metrics[run].get("perplexity") is not None:
        said = compare("reply_loss", (differences.get(base) or {}).get("reply_loss"))
        lines.append(
            f"Predicting the real replies, {run} is {said} the untuned model: perplexity "
            f"{figure('perplexity', metrics[run]['perplexity'], spans[run].get('perplexity'))} "
            f"against {figure('perplexity', metrics[base].get('perplexity'))}."
        )
    if metrics[run].get("keystroke_savings") is not None:
        saved = figure("keystroke_savings", metrics[run]["keystroke_savings"],
                       spans[run].get("keystroke_savings"))  # fmt: skip
        line = f"Typing the real replies with its typeahead saves {saved} of keystrokes"
        if base and metrics[base].get("keystroke_savings") is not None:
            said = compare("keystroke_savings", (differences.get(base) or {}).get(
                "keystroke_savings"))  # fmt: skip
            line += (f" ({figure('keystroke_savings', metrics[base]['keystroke_savings'])} "
                     f"with the untuned model: {said} it)")  # fmt: skip
        lines.append(line + ".")
    lines += _style_words(run, base, evaluation)
    return lines


def _style_words(run: str, base: str | None, evaluation: Any) -> list[str]:
    metrics, spans = evaluation.metrics, evaluation.intervals
    mine, real = metrics[run].get("style_accuracy"), metrics.get(REAL, {}).get("style_accuracy")
    if mine is None or real is None:
        return ["No held-out reply is by a person with enough training replies to measure style."]
    chance = evaluation.fidelity.get("chance")
    people = len(evaluation.fidelity.get("people") or {})
    clone = figure("style_accuracy", mine, spans[run].get("style_accuracy"))
    ceiling = figure("style_accuracy", real, spans[REAL].get("style_accuracy"))
    line = (
        f"Written as its person, {run}'s candidates are attributed to that person by a "
        f"who-wrote-this classifier {clone} of the time; the real held-out replies {ceiling}"
    )
    if chance:
        line += f" (chance {chance:.0%}, {people} people measured)"
    if real:
        line += f": {mine / real:.0%} of the real replies' share"
    if base and metrics[base].get("style_accuracy") is not None:
        said = compare("style_accuracy", (evaluation.differences.get(base) or {}).get(
            "style_accuracy"))  # fmt: skip
        untuned = figure("style_accuracy", metrics[base]["style_accuracy"])
        line += f"; the untuned model's {untuned}, so {run} is {said} it"
    return [line + "."]


def compare(key: str, found: Sequence[float | None] | None) -> str:
    """'better than', 'worse than' or 'not told apart from', by the paired interval of the
    difference (run minus the other)."""
    if not found or any(x is None for x in found):
        return "not compared with"
    diff, low, high = found
    lower = lower_better(key)
    better = (high < 0) if lower else (low > 0)  # type: ignore[operator]
    worse = (low > 0) if lower else (high < 0)  # type: ignore[operator]
    shown = f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]"
    if better:
        return f"better than ({shown})"
    if worse:
        return f"worse than ({shown})"
    return f"not told apart from ({shown})"


def person_lines(run: str, fidelity: Mapping[str, Any]) -> list[str]:
    """Per person: how often their clone and their real replies are told apart as theirs, and
    the style gaps of the clone."""
    accuracy = fidelity.get("accuracy") or {}
    lines = []
    for person, counts in (fidelity.get("people") or {}).items():
        clone = (accuracy.get(run) or {}).get(person)
        real = (accuracy.get(REAL) or {}).get(person)
        if not clone or clone[0] is None:
            continue
        line = (
            f"{person}'s clone is told apart as {person} {figure('style_accuracy', *_split(clone))}"
            f" of the time"
        )
        if real and real[0] is not None:
            line += f"; {person}'s real messages {figure('style_accuracy', *_split(real))}"
        line += f" ({counts.get('held-out replies', 0)} held-out replies)."
        gaps = _gaps(fidelity, run, person)
        lines.append(line + (f" Style gaps: {gaps}." if gaps else ""))
    return lines


def _split(triple: Sequence[float | None]) -> tuple[float | None, Any]:
    value, low, high = triple
    return value, None if low is None else (low, high)


def style_gaps(fidelity: Mapping[str, Any]) -> list[str]:
    """One line per person and model whose style profile is far from the person's real one."""
    lines = []
    for model, people in (fidelity.get("feature distance") or {}).items():
        for person in people:
            gaps = _gaps(fidelity, model, person)
            if gaps:
                lines.append(f"style gap · {person} as written by {model}: {gaps}")
    return lines


def _gaps(fidelity: Mapping[str, Any], model: str, person: str) -> str:
    """`lowercase 8% (real 100%), …` for the features `FAR` or more off; '' when none."""
    distances = ((fidelity.get("feature distance") or {}).get(model) or {}).get(person) or {}
    profiles = fidelity.get("profiles") or {}
    mine = (profiles.get(model) or {}).get(person) or {}
    real = (profiles.get(REAL) or {}).get(person) or {}
    far = [f for f in PROFILE_FEATURES if (distances.get(f) or 0) >= FAR]
    return ", ".join(f"{f} {_share(f, mine.get(f))} (real {_share(f, real.get(f))})" for f in far)


def _share(feature: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} characters" if feature == "length" else f"{value:.0%}"
