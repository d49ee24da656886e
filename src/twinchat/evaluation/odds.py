"""Style fidelity by a run's own odds: would the model itself say the text is the person's?

Beside the "who wrote this?" classifier (`fidelity`), the run under test is the judge: for a
text written as X after a held-out context, `Suggester.speaker_odds` gives each person's
probability of having written it next, and the text counts when X comes first, strictly (a tie
counts as wrong). The share is "odds accuracy", with each example's part kept for its interval.

The judge is biased towards its own texts: its candidates were drawn from its own distribution
written as X, so its odds favour X for them more than for another model's texts. Compare a
model's share with the real held-out replies' share, which no model wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twinchat.data.example import Example
from twinchat.evaluation.intervals import Parts


def odds_parts(
    judge: Any, examples: Sequence[Example], texts: Sequence[Sequence[str]], people: Sequence[str]
) -> Parts:
    """Example index -> (texts whose odds put the example's speaker first, texts), for the
    examples whose speaker is one of `people`; `judge.speaker_odds` weighs `people` alone. No
    text at all counts as one text not attributed, as the classifier counts it."""
    among = list(dict.fromkeys(people))
    parts = {}
    for i, (example, written) in enumerate(zip(examples, texts, strict=True)):
        if example.speaker not in among:
            continue
        if not written:
            parts[i] = (0.0, 1.0)
            continue
        first = sum(
            _first(judge.speaker_odds(example.context, text, among), example.speaker)
            for text in written
        )
        parts[i] = (float(first), float(len(written)))
    return parts


def _first(odds: dict[str, float], speaker: str) -> bool:
    """Whether `speaker` has strictly the highest odds."""
    mine = odds.get(speaker, 0.0)
    return all(value < mine for name, value in odds.items() if name != speaker)
