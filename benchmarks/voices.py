"""Do voice lines make a clone sound like its person? Style accuracy and reply loss with and
without them, for a run and its untuned base, on the held-out replies of the people the
"who wrote this?" classifier knows (more of them than `twinchat eval --samples` spreads over).

    python benchmarks/voices.py RUN DATA [--replies 200] [--backend hf-int8]

RUN's own voice lines are used (a run trained before they existed gets them drawn from DATA's
training split, as `train` would); the base reads the same. Prints each figure with its 95 %
bootstrap interval and the paired differences. Each model and setting draws 5 candidates per
reply, seeded: about 4-8 minutes each on a 2-core CPU for 200 replies.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from twinchat.data.voices import pick_voices
from twinchat.errors import TwinchatError
from twinchat.evaluation import intervals
from twinchat.evaluation.evaluate import MIN_REPLIES, _examples, _spread
from twinchat.evaluation.fidelity import StyleClassifier, accuracy_parts
from twinchat.inference.suggester import Request, Suggester


def measure(model, held, classifier):
    """Style accuracy parts, reply loss parts and the candidates' texts."""
    texts, loss = [], {}
    for start in range(0, len(held), 8):
        batch = held[start : start + 8]
        drawn = model.suggest_many([Request(e.context, e.speaker) for e in batch], 5, seed=start)
        texts += [[c.text for c in found] for found in drawn]
    for i, example in enumerate(held):
        nll, tokens = model.reply_loss(example.context, example.speaker, example.text)
        if tokens:
            loss[i] = (nll, tokens)
    return accuracy_parts(classifier, [e.speaker for e in held], texts), loss, texts


def shown(parts) -> str:
    low, high = intervals.interval(parts)
    return f"{intervals.value(parts):.3f} [{low:.3f}, {high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--backend", default="hf-int8")
    args = parser.parse_args()
    if args.replies < 1:
        parser.error("--replies must be at least 1")
    train = _examples(args.data / "train.jsonl", "train")
    classifier = StyleClassifier(train, MIN_REPLIES)
    known = [
        e
        for e in _examples(args.data / "validation.jsonl", "validation")
        if e.context and e.text.strip() and e.speaker in classifier.replies
    ]
    held = _spread(known, args.replies)
    print(f"{len(held)} held-out replies by {len({e.speaker for e in held})} people")
    tuned = Suggester.load(args.run, args.backend)
    lines = tuned.voices or pick_voices((e.speaker, e.text) for e in train)
    base = Suggester.from_model(tuned.description.base_model, backend=args.backend)
    base.max_source_tokens = tuned.max_source_tokens
    found = {}
    for name, model in (("run", tuned), ("base", base)):
        model.open_speakers = True
        for setting in ("without", "with"):
            model.voices = lines if setting == "with" else {}
            began = time.perf_counter()
            style, loss, texts = found[name, setting] = measure(model, held, classifier)
            length = sum(len(t) for found_texts in texts for t in found_texts)
            print(
                f"{name:4} {setting:7} voice lines: style accuracy {shown(style)}, reply loss "
                f"{shown(loss)}, {length / max(1, sum(map(len, texts))):.0f} characters a "
                f"candidate ({time.perf_counter() - began:.0f} s)"
            )
    real = accuracy_parts(classifier, [e.speaker for e in held], [[e.text] for e in held])
    print(f"real replies: style accuracy {shown(real)}")
    for name in ("run", "base"):
        (style, loss, _), (style0, loss0, _) = found[name, "with"], found[name, "without"]
        print(f"{name} with minus without: style {intervals.difference(style, style0)}, "
              f"loss {intervals.difference(loss, loss0)}")  # fmt: skip
    difference = intervals.difference(found["run", "with"][0], found["base", "with"][0])
    print(f"run minus base, both with: style {difference}")


def guarded(main: Callable[[], None]) -> None:
    """`main`, a mistake in what it was given said in one line (no traceback)."""
    try:
        main()
    except TwinchatError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    guarded(main)
