"""Keystroke savings of typeahead, quicker than `twinchat eval`: the same simulated user on the
same held-out replies (the first `--replies` of the 300 that `eval` spreads over the
validation split, as `eval --typeahead N` takes them), without the candidates, losses and
style figures, for one or more runs, with the paired differences.

    python benchmarks/typeahead.py DATA RUN [RUN ...] [--replies 60] [--backend hf-int8]
        [--no-voices]

Prints each run's keystroke savings and exact match of the next word with their 95 %
bootstrap intervals, then every other run minus the first, paired over the same replies. About
3 minutes a run for 60 replies with hf-int8 on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from voices import guarded, shown

from twinchat.evaluation import intervals
from twinchat.evaluation.evaluate import _examples, _spread, _Tally, _typeahead
from twinchat.inference.suggester import Suggester

SPREAD = 300
"""`twinchat eval --samples`' default: the replies are taken from the same spread."""


def measure(model, held):
    """Keystroke savings and exact-match@1 parts (numerator, denominator) per reply, as `eval`
    tallies them."""
    tally = _Tally()
    for i, example in enumerate(held):
        _typeahead(model, example, i, tally)
    return tally.parts["keystroke_savings"], tally.parts.get("exact_match@1", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--replies", type=int, default=60)
    parser.add_argument("--backend", default="hf-int8")
    parser.add_argument("--no-voices", action="store_true", help="read no voice lines")
    args = parser.parse_args()
    if args.replies < 1:
        parser.error("--replies must be at least 1")
    validation = _examples(args.data / "validation.jsonl", "validation")
    held = _spread(validation, SPREAD)[: args.replies]
    print(f"{len(held)} held-out replies, {sum(len(e.text) for e in held):,} characters")
    found = []
    for run in args.runs:
        model = Suggester.load(run, args.backend)
        model.open_speakers = True  # replies by people the run has not seen are typed too
        if args.no_voices:
            model.voices = {}
        began = time.perf_counter()
        saved, matched = measure(model, held)
        found.append(saved)
        print(
            f"{run}: keystroke savings {shown(saved)}, exact match@1 {shown(matched)} "
            f"({time.perf_counter() - began:.0f} s)"
        )
    for run, saved in zip(args.runs[1:], found[1:], strict=True):
        point, low, high = intervals.difference(saved, found[0])
        print(
            f"{run} minus {args.runs[0]}: keystroke savings {point:+.3f} [{low:+.3f}, {high:+.3f}]"
        )


if __name__ == "__main__":
    guarded(main)
