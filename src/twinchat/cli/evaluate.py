"""`twinchat eval`: a run's held-out figures against baselines, as tables and a report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinchat.cli.console import err, out
from twinchat.cli.options import (
    BackendOpt,
    ForceOpt,
    OutputOpt,
    RunArg,
    SeedOpt,
    TemperatureOpt,
    TopPOpt,
    examples,
)
from twinchat.evaluation.evaluate import EvalOptions

app = typer.Typer()

EXAMPLES = examples(
    "twinchat eval runs/me --data data -o report",
    "twinchat eval runs/me --data chat-a --data chat-b -o report --compare base --compare runs/old",
    "twinchat eval runs/me --data data -o report --samples 300 --backend hf-int8 --force",
    "twinchat eval runs/me --data data -o report --compare base --odds",
    "twinchat eval runs/me --data data -o report-t05 --compare frequent --temperature 0.5",
)


@app.command("eval", epilog=EXAMPLES)
def evaluate(
    run: RunArg,
    data: Annotated[
        list[Path],
        typer.Option(
            help="A dataset folder the run was trained on; repeatable: each chat is reported "
            "alone and all pooled."
        ),
    ],
    output: OutputOpt,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="base, retrieval, frequent or a run folder (repeatable).",
            show_default=" ".join(EvalOptions.compare),
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option(help="Held-out examples to measure per chat.")
    ] = EvalOptions.samples,
    candidates: Annotated[
        int, typer.Option(help="Candidates per example and model.")
    ] = EvalOptions.candidates,
    typeahead: Annotated[
        int, typer.Option(help="Examples per chat typed out for the typeahead figures.")
    ] = EvalOptions.typeahead,
    min_replies: Annotated[
        int, typer.Option(help="Training replies a person needs to be in the style figures.")
    ] = EvalOptions.min_replies,
    odds: Annotated[
        bool,
        typer.Option(
            help="Also measure style accuracy by the run's own odds of who wrote each text "
            "(costly: one scoring pass per text, a row per person).",
        ),
    ] = EvalOptions.odds,
    temperature: TemperatureOpt = EvalOptions.temperature,
    top_p: TopPOpt = EvalOptions.top_p,
    greedy: Annotated[
        bool, typer.Option(help="Every model's candidates by beam search, not sampling.")
    ] = EvalOptions.greedy,
    voices: Annotated[
        bool,
        typer.Option(
            help="Read a person's voice lines (a few of their training replies, saved with "
            "the run) before writing as them; the base model reads the run's.",
        ),
    ] = EvalOptions.voices,
    seed: SeedOpt = EvalOptions.seed,
    backend: BackendOpt = EvalOptions.backend,
    force: ForceOpt = EvalOptions.force,
) -> None:
    """Held-out metrics of a run against baselines; report.html, blind.html, metrics.json.

    Reply loss, ROUGE-L and chrF of the candidates, distinct-1/2, speaker accuracy, typeahead
    exact match and keystroke savings, and style fidelity (who-wrote-this accuracy, style
    distance), for the run and each comparison, measured alike, each with its 95 % interval,
    written to OUTPUT. The backend serves the run and its untuned base: hf-int8 is the quickest
    on a CPU, but its reply losses run 0.1-0.4 nats high; quote those from an ort export.
    """
    from twinchat.evaluation.card import CARD, style_gaps
    from twinchat.evaluation.evaluate import evaluate as run_evaluate

    options = EvalOptions(
        compare=tuple(compare or EvalOptions.compare), samples=samples, candidates=candidates,
        typeahead=typeahead, seed=seed, min_replies=min_replies, odds=odds, backend=backend,
        temperature=temperature, top_p=top_p, greedy=greedy, voices=voices, force=force,
    )  # fmt: skip
    result = run_evaluate(run, data, output, options, console=err)
    title = f"held-out metrics · {output}/report.html"
    out.print(_figures_table(title, result.metrics, result.intervals), highlight=False)
    for chat, found in result.chats.items():
        title = f"{chat} · {found['examples']} examples"
        out.print(_figures_table(title, found["metrics"], found["intervals"]), highlight=False)
    if result.fidelity.get("people"):
        out.print(_fidelity_table(result.fidelity), highlight=False)
        for line in style_gaps(result.fidelity):
            out.print(line, highlight=False)
    out.print(result.verdict, highlight=False)
    out.print(f"in plain words: {output / CARD}", highlight=False)


def _figures_table(
    title: str,
    metrics: dict[str, dict[str, float | None]],
    spans: dict[str, dict[str, tuple[float, float] | None]],
) -> object:
    """Metric rows by model columns, each value with its [low, high] interval."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for name in metrics:
        table.add_column(name, justify="right")
    names: list[str] = []
    for figures in metrics.values():
        names += [m for m in figures if m not in names]
    for metric in names:
        cells = []
        for name in metrics:
            value, span = metrics[name].get(metric), spans.get(name, {}).get(metric)
            text = "–" if value is None else f"{value:.3f}"
            cells.append(text + (f" [{span[0]:.3f}, {span[1]:.3f}]" if span else ""))
        table.add_row(metric, *cells)
    return table


def _fidelity_table(fidelity: dict[str, dict]) -> object:
    """Per person: the share of texts attributed to them, real replies and each model's."""
    from rich.table import Table

    accuracy = fidelity["accuracy"]
    chance = fidelity.get("chance")
    table = Table(
        title="who wrote this? share attributed to the person"
        + (f" (chance {chance:.2f})" if chance else "")
    )
    for column in ("person", "train", "held-out", *accuracy):
        table.add_column(column, justify="left" if column == "person" else "right")
    for person, counts in fidelity["people"].items():
        cells = []
        for model in accuracy:
            value, low, high = accuracy[model].get(person) or (None, None, None)
            span = f" [{low:.2f}, {high:.2f}]" if low is not None else ""
            cells.append("–" if value is None else f"{value:.2f}{span}")
        table.add_row(
            person, str(counts["training replies"]), str(counts["held-out replies"]), *cells
        )
    return table
