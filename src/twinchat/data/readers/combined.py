"""Several exports of one app read as one: a folder of WhatsApp chats, say, one chat a file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from twinchat.data.message import Message
from twinchat.data.readers.source import combined_source

if TYPE_CHECKING:
    from twinchat.data.readers.source import Export


class CombinedExport:
    """The exports one after the other; problems and chats add up."""

    def __init__(self, exports: Sequence[Export], label: str):
        self.exports = list(exports)
        self.format = self.exports[0].format
        self.source = combined_source([export.source for export in self.exports], label)
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self._done = 0  # bytes of the exports already read
        self._current: Export | None = None

    @property
    def bytes_read(self) -> int:
        current = self._current
        return self._done + (current.bytes_read if current is not None else 0)

    def __iter__(self) -> Iterator[Message]:
        self._done = 0
        for export in self.exports:
            self._current = export
            yield from export
            self._current = None
            self._done += export.source.size
            self.problems.update(export.problems)
            self.chats += export.chats
