"""Figures about a prepared dataset, gathered while it streams past, for stats.json and the report."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Any

from twinchat.example import Example
from twinchat.message import Message


class Lengths:
    """An exact distribution of non-negative integers, in memory that grows with distinct values."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def add(self, value: int) -> None:
        self.counts[value] += 1

    def update(self, values: Counter[int]) -> None:
        self.counts.update(values)

    def quantile(self, q: float) -> int:
        total = sum(self.counts.values())
        if not total:
            return 0
        rank, seen = q * (total - 1), 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen > rank:
                return value
        return max(self.counts)

    def summary(self, bins: int = 24) -> dict[str, Any]:
        """Count, mean, percentiles and a histogram up to the 99th percentile (the rest last)."""
        total = sum(self.counts.values())
        if not total:
            return {"count": 0}
        top = max(self.quantile(0.99), 1)
        width = max(1, math.ceil((top + 1) / bins))
        counts = [0] * (math.ceil((top + 1) / width) + 1)
        for value, n in self.counts.items():
            counts[min(value // width, len(counts) - 1)] += n
        return {
            "count": total,
            "mean": round(sum(v * n for v, n in self.counts.items()) / total, 1),
            "p50": self.quantile(0.5),
            "p90": self.quantile(0.9),
            "p99": self.quantile(0.99),
            "max": max(self.counts),
            "bin_width": width,
            "histogram": counts,
        }


class Stats:
    """Accumulates everything `stats.json` reports, one message and one example at a time."""

    def __init__(self) -> None:
        self.senders: Counter[str] = Counter()
        self.speakers: Counter[str] = Counter()
        self.hours = [0] * 24
        self.weekdays = [0] * 7
        self.context_chars = Lengths()
        self.context_messages = Lengths()
        self.reply_chars = Lengths()
        self.first: float | None = None
        self.last: float | None = None
        self._offsets: dict[int, float] = {}

    def add_message(self, message: Message, sender: str) -> None:
        self.senders[sender] += 1
        epoch = message.epoch
        if epoch is None:
            return
        self.first = epoch if self.first is None else min(self.first, epoch)
        self.last = epoch if self.last is None else max(self.last, epoch)
        local = epoch + (self._offset(epoch) if message.tz_known else 0.0)
        self.hours[int(local // 3600) % 24] += 1
        self.weekdays[(int(local // 86400) + 3) % 7] += 1  # 1970-01-01 was a Thursday

    def add_example(self, example: Example) -> None:
        self.speakers[example.speaker] += 1
        self.reply_chars.add(len(example.text))
        self.context_messages.add(len(example.context))
        self.context_chars.add(sum(len(turn.text) for turn in example.context))

    def _offset(self, epoch: float) -> float:
        """This computer's UTC offset at that hour: charts show the owner's local time."""
        hour = int(epoch // 3600)
        offset = self._offsets.get(hour)
        if offset is None:
            delta = datetime.fromtimestamp(hour * 3600).astimezone().utcoffset()
            offset = self._offsets[hour] = delta.total_seconds() if delta else 0.0
        return offset

    def span(self) -> dict[str, str | None]:
        def iso(epoch: float | None) -> str | None:
            return None if epoch is None else datetime.fromtimestamp(epoch).isoformat()[:10]

        return {"first": iso(self.first), "last": iso(self.last)}
