"""`twinchat demo`: the whole path on the bundled example, offline, in a few minutes on a CPU.

Prepares the bundled Ubuntu IRC chat, fine-tunes all the weights of the bundled
SmolLM2-135M-Instruct, and shows the held-out reply loss and three held-out conversations with the
real reply beside suggestions before and after training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twinchat.data.example import Example

MODEL = "bundled:smollm2-135m"
SHOWN = 3
SHOWN_TOKENS = 24
"""A shown suggestion's length cap: a line of a chat; the untuned model, which rarely ends a
message, takes half the time it takes at the usual 48."""
HELD_FOR_LOSS = 32
"""Validation examples of the loss before and after training (each is a forward pass of the
untuned model before training starts: two thirds of the time 48 took)."""


def run_demo(folder: Path, minutes: float, console: Console) -> dict[str, Any]:
    """Everything goes into `folder`; returns the figures it printed."""
    from twinchat.data.options import PrepareOptions
    from twinchat.data.prepare import prepare
    from twinchat.inference.suggester import Suggester
    from twinchat.training.train import TrainConfig, train

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # it holds chat text
    data, run = folder / "data", folder / "run"
    console.print(f"[bold]1/4[/] preparing the bundled example into {data}")
    with console.status("reading the chat"):
        prepare(["bundled:ubuntu-irc"], data, PrepareOptions(force=True))
    shown = _held_out(data / "validation.jsonl", _speakers(data / "train.jsonl"))
    console.print(f"[bold]2/4[/] suggestions of the untuned {MODEL}")
    with console.status(f"loading {MODEL}"):
        untuned = Suggester.from_model(MODEL)
    before = _suggestions(untuned, shown, console)
    del untuned  # its memory goes to training
    console.print(f"[bold]3/4[/] fine-tuning for about {minutes:g} minutes")
    # The recipe of the sweep in docs/evaluation.md: at a fixed CPU budget, all the weights at
    # lr 1e-4 learnt more than LoRA at any rate tried, and short training contexts buy the most
    # steps while the run's suggestions still read 512 tokens of conversation.
    config = TrainConfig(
        model=MODEL,
        lora=False,
        lr=1e-4,
        keep_checkpoints=1,
        batch_size=8,
        max_source_tokens=96,
        max_target_tokens=32,
        epochs=1,
        eval_every=1_000,
        eval_samples=HELD_FOR_LOSS,
        eval_at_start=True,
        minutes=minutes,
        patience=0,
    )
    train(data, run, config, console=console)
    console.print("[bold]4/4[/] suggestions of the fine-tuned model")
    with console.status(f"loading {run}"):
        tuned = Suggester.load(run)
    tuned.open_speakers = True  # IRC: a held-out day may bring people training never saw
    after = _suggestions(tuned, shown, console)
    losses = _losses(run / "metrics.jsonl")
    _show(console, shown, before, after, losses)
    console.print(f"\nEverything is in {folder}")
    return {"loss_before": losses[0], "loss_after": losses[1], "folder": str(folder)}


def _speakers(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as lines:
        return {json.loads(line)["speaker"] for line in lines}


def _held_out(path: Path, known: set[str]) -> list[Example]:
    """Three held-out examples with some context and a reply of a few words, spread out; by
    people the model trains on, when there are enough."""
    examples = [Example.from_dict(json.loads(line)) for line in path.open(encoding="utf-8")]
    fitting = [e for e in examples if len(e.context) >= 4 and 15 <= len(e.text) <= 80]
    if sum(1 for e in fitting if e.speaker in known) >= SHOWN:
        fitting = [e for e in fitting if e.speaker in known]
    step = max(1, len(fitting) // SHOWN)
    return fitting[::step][:SHOWN]


def _suggestions(suggester: Any, examples: list[Example], console: Console) -> list[list[str]]:
    shown = []
    with console.status("") as status:
        for i, e in enumerate(examples, 1):
            status.update(f"suggesting replies to conversation {i} of {len(examples)}")
            candidates = suggester.suggest(
                e.context[-6:], as_=e.speaker, n=2, seed=0, max_new_tokens=SHOWN_TOKENS
            )
            shown.append([c.text for c in candidates])
    return shown


def _losses(metrics: Path) -> tuple[float | None, float | None]:
    records = [json.loads(line) for line in metrics.open() if "eval_loss" in line]
    if not records:
        return None, None
    return records[0]["eval_loss"], min(r["eval_loss"] for r in records)


def _show(
    console: Console,
    examples: list[Example],
    before: list[list[str]],
    after: list[list[str]],
    losses: tuple[float | None, float | None],
) -> None:
    first, best = losses
    if first is not None and best is not None:
        console.print(f"\nheld-out reply loss: {first:.3f} before → {best:.3f} after training")
    for example, old, new in zip(examples, before, after, strict=True):
        table = Table(show_header=False, box=None, padding=(0, 1))
        table.add_column(style="dim", justify="right")
        table.add_column()
        for turn in example.context[-4:]:
            table.add_row(turn.sender, turn.text)
        table.add_row(f"[bold]{example.speaker}[/]", f"[bold]{example.text}[/] (real reply)")
        for text in old:
            table.add_row("before", text or "(empty)")
        for text in new:
            table.add_row("[green]after[/]", f"[green]{text or '(empty)'}[/]")
        console.print()
        console.print(table)
