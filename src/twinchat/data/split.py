"""Train / validation split by session, written in one pass over the examples.

Examples go straight to `train.jsonl` (or, for a random split, to the file their session drew).
For the chronological split the held-out sessions are known only at the end: each session's
byte range is remembered, and the held-out ranges are moved to `validation.jsonl` afterwards,
which for a chat export (sessions in time order) is a cut of the file's tail.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from twinchat.atomic import private_open
from twinchat.data.example import Example

CHUNK = 1 << 20


@dataclass(slots=True)
class _Session:
    first_epoch: float
    examples: int = 0
    start: int = 0
    end: int = 0
    size: int = 0  # bytes; equals end - start when no other session's lines sit in between

    @property
    def contiguous(self) -> bool:
        return self.end - self.start == self.size


class SplitWriter:
    """Writes examples to `train.jsonl` and `validation.jsonl`, whole sessions to each side."""

    def __init__(self, folder: Path, method: str, share: float, seed: int):
        self.folder, self.method, self.share, self.seed = folder, method, share, seed
        self.sessions: dict[str, _Session] = {}
        self.random_held: set[str] = set()
        self.counts = {"train": 0, "validation": 0}
        self.position = 0
        for name in ("train.jsonl", "validation.jsonl"):
            private_open(folder / name).close()
        self.train: BinaryIO = (folder / "train.jsonl").open("r+b", buffering=CHUNK)
        self.validation: BinaryIO = (folder / "validation.jsonl").open("r+b", buffering=CHUNK)

    def write(self, example: Example, epoch: float) -> None:
        session = self.sessions.get(example.session)
        if session is None:
            session = self.sessions[example.session] = _Session(epoch, start=self.position)
            if self.method == "random" and self._draw(example.session):
                self.random_held.add(example.session)
        line = example.to_line()
        session.examples += 1
        if example.session in self.random_held:
            self.validation.write(line)
            self.counts["validation"] += 1
            return
        self.train.write(line)
        self.counts["train"] += 1
        session.size += len(line)
        self.position += len(line)
        session.end = self.position

    def _draw(self, session: str) -> bool:
        return random.Random(f"{self.seed}/{session}").random() < self.share

    def finish(self) -> None:
        """Move the most recent sessions to validation (chronological split) and close."""
        try:
            if self.method == "time":
                held = self._most_recent()
                if held and all(s.contiguous for s in held):
                    self._move_ranges(_merged([(s.start, s.end) for s in held]))
                elif held:
                    self._move_lines({name for name, s in self.sessions.items() if s in held})
        finally:
            self.train.close()
            self.validation.close()

    def _most_recent(self) -> list[_Session]:
        wanted = self.share * sum(s.examples for s in self.sessions.values())
        order = sorted(self.sessions.values(), key=lambda s: s.first_epoch, reverse=True)
        held, total = [], 0
        for session in order[:-1]:  # train always keeps at least one session
            if total >= wanted or not self.share:
                break
            held.append(session)
            total += session.examples
        self.counts = {"train": self.counts["train"] - total, "validation": total}
        return held

    def _move_ranges(self, ranges: list[tuple[int, int]]) -> None:
        self.train.flush()
        if ranges[-1][1] == self.position and len(ranges) == 1:  # the tail: copy it, cut it off
            _copy(self.train, self.validation, *ranges[0])
            self.train.truncate(ranges[0][0])
            return
        with private_open(self.folder / "train.jsonl.new", "wb") as kept:
            cursor = 0
            for start, end in ranges:
                _copy(self.train, kept, cursor, start)
                _copy(self.train, self.validation, start, end)
                cursor = end
            _copy(self.train, kept, cursor, self.position)
        (self.folder / "train.jsonl.new").replace(self.folder / "train.jsonl")

    def _move_lines(self, held: set[str]) -> None:
        """Sessions whose lines interleave: route line by line."""
        self.train.flush()
        self.train.seek(0)
        with private_open(self.folder / "train.jsonl.new", "wb") as kept:
            for line in self.train:
                target = self.validation if json.loads(line)["session"] in held else kept
                target.write(line)
        (self.folder / "train.jsonl.new").replace(self.folder / "train.jsonl")


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result


def _copy(source: BinaryIO, target: BinaryIO, start: int, end: int) -> None:
    source.seek(start)
    left = end - start
    while left > 0:
        chunk = source.read(min(CHUNK, left))
        if not chunk:
            break
        target.write(chunk)
        left -= len(chunk)
