"""Benchmark reply suggestions: a run's transformers model (`hf`) against its CTranslate2 int8
export (`ct2`), in the same run, on the bundled example's held-out conversations.

Run it by hand from the repository root (needs `pip install 'twinchat[fast]'`)::

    python benchmarks/suggest.py                      # both models, 20 conversations
    python benchmarks/suggest.py --contexts 8         # quicker
    python benchmarks/suggest.py --workdir /tmp/twinchat-bench-suggest   # keep the runs

Models, no download: a **flan-t5-small shape** (benchmarks/subjects.py: FLAN-T5-small's layers,
widths and 32,128-token vocabulary, random weights) and **SmolLM2-135M-Instruct**, the bundled
model. Each becomes a twinchat run by one training step (`twinchat train --max-steps 1`, LoRA
for SmolLM2), loaded as users' runs are, and is exported with `twinchat export --to ct2
--quantization int8`. Both backends run on every core of the machine.

**Suggestions**: for each held-out conversation, `suggest(context, as_=the real replier, n=5,
seed=i, rounds=1)`: one draw of 15 candidates (3 × 5, to keep 5 after curation) and the pass
that scores them. A call whose curation leaves fewer than 5 draws again, on either backend; one
round is timed, so both do the same work. p50 and p90 latency, and hf / ct2. Goal on the 2-core
CPU: ct2 at least 4× faster.

**Typeahead**: a user types a 30-character reply to a ~150-token held-out conversation, one
keystroke at a time. A keystroke still matching the suggestion on show is served from it, as the
page does (it costs the check); any other asks for the greedy completion of up to 8 tokens
(`complete`). Every keystroke's latency counts. Goal: p90 under 60 ms.

The flan-t5-small shape has random weights: its text is noise that rarely ends before the length
cap, so its calls cost more than a trained model's, on both backends alike, and its completions
never match what the user goes on to type, so every keystroke asks again: typeahead's worst case.
SmolLM2 is a real model, so its numbers are nearer to use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subjects import flan_t5_shaped, prepared

TYPED = 30
"""Characters of the reply typed in the typeahead case."""
CONTEXT_TOKENS = 150


@dataclass
class Subject:
    name: str
    run: Path
    export: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contexts", type=int, default=20, help="held-out conversations")
    parser.add_argument("--models", nargs="+", default=["t5", "smollm2"], choices=["t5", "smollm2"])
    parser.add_argument("--workdir", type=Path, help="keep the data, runs and exports here")
    options = parser.parse_args()

    warnings.filterwarnings("ignore")
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="twinchat-bench-suggest-"))
    try:
        data = prepared(work)
        examples = _held_out(data, options.contexts)
        rows = []
        for key in options.models:
            subject = _subject(key, work, data)
            rows += _measure(subject, data, examples)
        _report(rows)
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _subject(key: str, work: Path, data: Path) -> Subject:
    """A one-step run of the model and its int8 export (made once in `work`)."""
    from twinchat.export import export_run
    from twinchat.training import TrainConfig, train

    if key == "t5":
        name, model, lora = "flan-t5-small shape", flan_t5_shaped(work / "t5", "small", data), False
    else:
        name, model, lora = "SmolLM2-135M", "bundled:smollm2-135m", True
    run, export = work / f"{key}-run", work / f"{key}-ct2"
    if not (run / "twinchat.json").exists():
        print(f"{name}: one training step to make a run", flush=True)
        config = TrainConfig(
            model=str(model), lora=lora, max_steps=1, batch_size=2, eval_every=1_000_000,
            eval_samples=8, patience=0, seed=0,
        )  # fmt: skip
        train(data, run, config)
    if not (export / "twinchat.json").exists():
        export_run(run, export, quantization="int8", force=True)
    return Subject(name, run, export)


def _held_out(data: Path, count: int) -> list[Any]:
    """`count` held-out examples with some context, spread over the validation set."""
    from twinchat.example import Example

    lines = (data / "validation.jsonl").open(encoding="utf-8")
    examples = [Example.from_dict(json.loads(line)) for line in lines]
    fitting = [e for e in examples if len(e.context) >= 4]
    return fitting[:: max(1, len(fitting) // count)][:count]


def _load(folder: Path) -> Any:
    from twinchat.suggest import Suggester

    suggester = Suggester.load(folder)
    suggester.open_speakers = True  # held-out days bring people the one step never saw
    return suggester


def _measure(subject: Subject, data: Path, examples: list[Any]) -> list[dict[str, Any]]:
    rows = []
    conversation, reply = _typing_case(_load(subject.run), data)
    for backend, folder in (("hf", subject.run), ("ct2", subject.export)):
        suggester = _load(folder)
        print(f"{subject.name}, {backend}: suggestions", flush=True)
        suggest = _suggest_latencies(suggester, examples)
        print(f"{subject.name}, {backend}: typeahead", flush=True)
        typing, served = _typing_latencies(suggester, conversation, reply)
        rows.append(
            {"model": subject.name, "backend": backend, "suggest": suggest, "typing": typing,
             "served": served}
        )  # fmt: skip
    return rows


def _suggest_latencies(suggester: Any, examples: list[Any]) -> list[float]:
    for example in examples[:2]:  # warm-up: first calls allocate and build caches
        suggester.suggest(example.context, as_=example.speaker, n=5, seed=0, rounds=1)
    latencies = []
    for i, example in enumerate(examples):
        start = time.perf_counter()
        suggester.suggest(example.context, as_=example.speaker, n=5, seed=i, rounds=1)
        latencies.append(time.perf_counter() - start)
    return latencies


def _typing_case(suggester: Any, data: Path) -> tuple[Any, str]:
    """The held-out example with a reply of at least 30 characters whose conversation is
    nearest to 150 tokens, and the 30 characters typed."""
    from twinchat.example import Example

    lines = (data / "validation.jsonl").open(encoding="utf-8")
    examples = [Example.from_dict(json.loads(line)) for line in lines]

    def distance(example: Example) -> int:
        source = suggester.format.source(example.context)
        return abs(len(suggester.tokenizer(source)["input_ids"]) - CONTEXT_TOKENS)

    best = min((e for e in examples if len(e.text) >= TYPED), key=distance)
    return best, best.text[:TYPED]


def _typing_latencies(suggester: Any, example: Any, reply: str) -> tuple[list[float], int]:
    """Each keystroke's latency; and how many were served from the suggestion shown."""
    # Warm up on another conversation: the first keystroke pays for reading this one.
    suggester.complete([], example.speaker, reply[:1])
    shown, latencies, served = "", [], 0
    for end in range(1, len(reply) + 1):
        typed = reply[:end]
        start = time.perf_counter()
        if shown.startswith(typed) and len(shown) > len(typed):
            served += 1  # the page shrinks the ghost text and asks nothing
        else:
            completion = suggester.complete(example.context, example.speaker, typed)
            if completion:
                shown = typed + completion
        latencies.append(time.perf_counter() - start)
    return latencies, served


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _report(rows: list[dict[str, Any]]) -> None:
    import torch

    print(f"\nCPU, {torch.get_num_threads()} threads; latency in ms")
    print(f"{'model':22} {'backend':8} {'suggest 5 p50':>14} {'p90':>8} "
          f"{'keystroke p50':>14} {'p90':>8} {'served':>7}")  # fmt: skip
    for row in rows:
        s, t = row["suggest"], row["typing"]
        print(f"{row['model']:22} {row['backend']:8} {_percentile(s, .5) * 1e3:>14.0f} "
              f"{_percentile(s, .9) * 1e3:>8.0f} {_percentile(t, .5) * 1e3:>14.1f} "
              f"{_percentile(t, .9) * 1e3:>8.1f} {row['served']:>4}/{len(t)}")  # fmt: skip
    for model in dict.fromkeys(row["model"] for row in rows):
        hf, ct2 = (next(r for r in rows if r["model"] == model and r["backend"] == b)
                   for b in ("hf", "ct2"))  # fmt: skip
        ratios = [
            _percentile(hf[kind], share) / _percentile(ct2[kind], share)
            for kind in ("suggest", "typing")
            for share in (0.5, 0.9)
        ]
        print(f"{model}: hf / ct2 suggest p50 {ratios[0]:.2f}×, p90 {ratios[1]:.2f}× "
              f"(goal ≥ 4×); typeahead p50 {ratios[2]:.2f}×, p90 {ratios[3]:.2f}×; "
              f"ct2 typeahead p90 {_percentile(ct2['typing'], .9) * 1e3:.1f} ms "
              f"(goal < 60 ms)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
