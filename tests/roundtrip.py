"""One conversation that every reader's round-trip test writes in its format and reads back.

A test writes `CONVERSATION` the way the app would export it, reads it with the project's
reader, and checks with `assert_same` that the senders, texts, kinds and times come back
unchanged. The lines hold what breaks parsers: a message of several lines, emoji, accents,
Cyrillic and CJK, markup-like text, a link, a message that is only a photo, and a caption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from twinchat.data.message import Kind, Message


@dataclass(frozen=True)
class Line:
    sender: str
    time: datetime  # UTC, whole minutes, so every format can hold it
    text: str
    kind: Kind = Kind.TEXT
    multiline: bool = False  # formats with one line a message (IRC) leave these out


def _at(hour: int, minute: int, day: int = 1) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


CONVERSATION: tuple[Line, ...] = (
    Line("Alice Martin", _at(9, 15), "Morning! Are we still on for tonight?"),
    Line("Bob", _at(9, 17), "yes 🙂\nsee you at 8", multiline=True),
    Line("Alice Martin", _at(9, 18), "Ça marche — I'll bring the 🍕"),
    Line("Chen Wei", _at(9, 40), "Привет! 你好, can't make it, sorry"),
    Line("Bob", _at(9, 41), "", Kind.MEDIA),
    Line("Bob", _at(9, 41), "the view from here", Kind.MEDIA),
    Line("Alice Martin", _at(10, 2), "see https://example.com/a?b=1&c=2 <b>not html</b> {x}"),
    Line("Chen Wei", _at(23, 59), "next week then"),
    Line("Alice Martin", _at(0, 1, day=2), "👍"),
)


def assert_same(
    messages: Iterable[Message],
    lines: Iterable[Line] = CONVERSATION,
    *,
    times: bool = True,
    kinds: bool = True,
) -> None:
    """The messages are the lines: same order, senders and texts, and kinds and times unless
    the format cannot hold them. Times compare in UTC, or as naive local times when the format
    has no zone (then the lines' UTC wall clock is what was written)."""
    got = list(messages)
    want = list(lines)
    assert [m.sender for m in got] == [line.sender for line in want]
    assert [m.text for m in got] == [line.text for line in want]
    if kinds:
        assert [m.kind for m in got] == [line.kind for line in want]
    if times:
        assert [_wall(m) for m in got] == [line.time.replace(tzinfo=None) for line in want]


def _wall(message: Message) -> datetime | None:
    moment = message.timestamp
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
