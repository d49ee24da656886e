"""Voice lines: a few of each person's own training replies, read before the conversation.

A reply written as Ana should sound like Ana, but a short fine-tune sees each person's replies
a handful of times and learns the chat's register, not hers. Shown a few lines she wrote, the
model follows them the way it follows what she said earlier in a conversation: on the Ubuntu
slice (`docs/evaluation.md`) four lines raised the share of candidates a "who wrote this?"
classifier gives to their person from 0.02 to 0.09 and lowered the reply loss. `train` picks
them from the training split into `twinchat.json`; the suggester puts them first in the
context of every reply written as that person.

The lines are drawn at random (seeded by the name, so a run is reproducible), not chosen for
the conversation: they stand for how the person writes, not for what they know.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from twinchat.data.example import text_key

LINES = 4
"""Lines kept per person."""
SHORTEST, LONGEST = 20, 200
"""Characters of a line drawn first (shorter ones only fill up a person who has too few):
a greeting says little about a person's writing, and a long line costs context."""
MOST_PEOPLE = 2000
"""People with voice lines at most, the most talkative first: the lines live in the run's
`twinchat.json`, which every command reads."""


def pick_voices(replies: Iterable[tuple[str, str]], lines: int = LINES) -> dict[str, list[str]]:
    """Up to `lines` distinct lines per speaker from (speaker, text) training replies."""
    said: dict[str, dict[str, str]] = {}
    for speaker, text in replies:
        text = text.strip()
        if text and len(text) <= LONGEST:
            said.setdefault(speaker, {}).setdefault(text_key(text), text)
    talkative = sorted(said, key=lambda name: -len(said[name]))[:MOST_PEOPLE]
    return {name: _draw(name, list(said[name].values()), lines) for name in talkative}


def _draw(name: str, texts: list[str], lines: int) -> list[str]:
    rng = random.Random(name)
    long = [t for t in texts if len(t) >= SHORTEST]
    short = [t for t in texts if len(t) < SHORTEST]
    drawn = rng.sample(long, min(lines, len(long)))
    return drawn + rng.sample(short, min(lines - len(drawn), len(short)))
