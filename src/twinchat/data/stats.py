"""Figures about a dataset, gathered as it streams past, for stats.json and the report."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from twinchat.data.example import Example
from twinchat.data.message import Message


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
        self._pending: Counter[tuple[int, bool]] = Counter()  # (hour since epoch, tz known)

    def add_message(self, message: Message, sender: str) -> None:
        self.senders[sender] += 1
        if message.epoch is not None:
            self._pending[int(message.epoch) // 3600, message.tz_known] += 1
            if len(self._pending) > 4096:
                self._flush()

    def add_example(self, example: Example) -> None:
        self.speakers[example.speaker] += 1
        self.reply_chars.add(len(example.text))
        self.context_messages.add(len(example.context))
        self.context_chars.add(sum(len(turn.text) for turn in example.context))

    def activity(self) -> dict[str, list[int]]:
        """Messages by hour of the day and by weekday (Monday first), in local time."""
        self._flush()
        return {"hour": self.hours, "weekday": self.weekdays}

    def _flush(self) -> None:
        """Fold the per-hour counts into the charts, in this computer's time zone when the
        export gave UTC (the owner's local time), else in the exporting device's clock."""
        for (hour, tz_known), count in self._pending.items():
            epoch = hour * 3600.0
            self.first = epoch if self.first is None else min(self.first, epoch)
            self.last = epoch if self.last is None else max(self.last, epoch)
            if tz_known:
                offset = datetime.fromtimestamp(epoch).astimezone().utcoffset()
                epoch += offset.total_seconds() if offset else 0.0
            self.hours[int(epoch // 3600) % 24] += count
            self.weekdays[(int(epoch // 86400) + 3) % 7] += count  # 1970-01-01: a Thursday
        self._pending.clear()

    def span(self) -> dict[str, str | None]:
        self._flush()

        def day(epoch: float | None) -> str | None:
            return None if epoch is None else datetime.fromtimestamp(epoch, UTC).date().isoformat()

        return {"first": day(self.first), "last": day(self.last)}
