"""How many held-out examples `twinchat eval` needs: the width of each figure's 95 % interval,
and of its paired difference with the untuned model, against the number of examples.

Run it by hand on a report `twinchat eval` wrote (its `figures.jsonl` holds every example's part
of every figure, so no model runs again)::

    twinchat eval RUN --data DATA -o report --samples 300 --backend hf-int8
    python benchmarks/samples.py report

For n examples out of those measured, the script draws `--draws` random subsets of n (without
replacement), computes the intervals as `twinchat eval` does (1,000 bootstrap resamples, paired
for a difference) and averages their widths. A bootstrap interval narrows as 1/sqrt(n): the fit
width = c / sqrt(n) over the sizes gives the n at which the interval of a difference is ±d, for
the difference d that matters (below), fitted on subsets of at most half the examples (`all`
is the interval over every example measured, and how many). At that n a true difference of d
is called about half the time; twice that n calls it about four times in five.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from twinchat.evaluation.intervals import difference, interval
from twinchat.jsonl import read_jsonl

MATTERS = {
    "reply_loss": 0.05,
    "keystroke_savings": 0.05,
    "exact_match@1": 0.05,
    "style_accuracy": 0.05,
    "rouge_l_best": 0.02,
    "chrf_best": 0.02,
}
"""The smallest difference worth telling apart, per figure: 0.05 nats is 5 % perplexity; five
points of keystrokes saved or of style accuracy; two of ROUGE-L or chrF."""
SIZES = (10, 25, 50, 100, 150, 250)
"""Subset sizes; a size is used up to half the examples measured (subsets of nearly all the
examples would be nearly the same, and their intervals too narrow)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a folder written by twinchat eval")
    parser.add_argument("--against", default="base", help="the comparison (default: base)")
    parser.add_argument("--draws", type=int, default=20, help="subsets drawn per size")
    options = parser.parse_args()
    lines = list(read_jsonl(options.report / "figures.jsonl"))
    run = json.loads((options.report / "metrics.json").read_text())["models"][0]
    print(f"{len(lines)} examples in {options.report}; run {run!r} against {options.against!r}")
    print(f"95 % interval widths, mean over {options.draws} subsets per size\n")
    head = "".join(f"{f'n={n}':>9}" for n in SIZES)
    print(f"{'figure':32}{'all':>9}{head}{'c':>8}{'±d':>7}{'n for ±d':>10}")
    rng = np.random.default_rng(0)
    for key in MATTERS:
        for label, parts in _series(lines, run, options.against, key):
            _row(label, key, parts, rng, options.draws)


def _series(lines: list[dict], run: str, against: str, key: str) -> list[tuple[str, tuple]]:
    """(label, (parts of the run, parts of the comparison or None)) for the figure alone and
    for the paired difference."""

    def parts(model: str) -> dict[int, tuple[float, float]]:
        return {
            line["index"]: tuple(line["figures"][model][key])
            for line in lines
            if key in line["figures"].get(model, {})
        }

    mine, theirs = parts(run), parts(against)
    found = [(f"{key} ({run})", (mine, None))] if mine else []
    if mine and theirs:
        found.append((f"{key} − {against}", (mine, theirs)))
    return found


def _row(label: str, key: str, parts: tuple, rng: np.random.Generator, draws: int) -> None:
    mine, theirs = parts
    indices = sorted(set(mine) & set(theirs) if theirs is not None else mine)
    cells, fits = [f"{_width(mine, theirs, indices, 0):>6.3f} /{len(indices)}"], []
    for n in SIZES:
        if 2 * n > len(indices):
            cells.append(f"{'–':>9}")
            continue
        widths = [
            _width(mine, theirs, list(rng.choice(indices, size=n, replace=False)), draw)
            for draw in range(draws)
        ]
        width = float(np.nanmean(widths))
        cells.append(f"{width:>9.3f}")
        fits.append(width * math.sqrt(n))
    c = float(np.mean(fits)) if fits else _width(mine, theirs, indices, 0) * math.sqrt(len(indices))
    d = MATTERS[key]
    needed = math.ceil((c / (2 * d)) ** 2) if theirs is not None and math.isfinite(c) else None
    shown = f"{needed:>10,}" if needed else f"{'':>10}"
    print(f"{label:32}{''.join(cells)}{c:>8.2f}{d:>7.2f}{shown}")


def _width(mine: dict, theirs: dict | None, keep: list[int], seed: int) -> float:
    """The width of the 95 % interval of the figure (or of the paired difference) over `keep`."""
    if theirs is None:
        span = interval(mine, seed=seed, keep=keep)
    else:
        found = difference(mine, theirs, seed=seed, keep=keep)
        span = found and found[1:]
    return span[1] - span[0] if span else math.nan


if __name__ == "__main__":
    sys.exit(main())
