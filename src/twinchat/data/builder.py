"""Turn a stream of messages into (context → reply) training examples.

Messages are filtered (service, empty and media-only messages go by default), split into
sessions at long silences, optionally merged when one person sends several in a row, and each
kept message becomes the reply of an example whose context is the messages before it in its
session. Everything streams: memory depends on the number of chats, not of messages.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from twinchat.data.example import Example, Turn
from twinchat.data.message import Kind, Message, format_time
from twinchat.errors import TwinchatError
from twinchat.jsonl import Fragment

UNKNOWN_SENDER = "Deleted Account"  # what Telegram shows for `from: null`
DROPPED_KINDS = {
    Kind.SERVICE: "service",
    Kind.CALL: "call",
    Kind.POLL: "poll",
    Kind.LOCATION: "location",
    Kind.CONTACT: "contact",
    Kind.DELETED: "deleted",
    Kind.UNSUPPORTED: "unsupported",
    Kind.OTHER: "other media",
}


@dataclass
class BuildOptions:
    """How examples are cut from a chat; the defaults follow the reference blog."""

    session_gap: float = 120.0
    """Minutes of silence that start a new session."""
    max_context: int = 10
    """Most previous messages in a context."""
    max_context_chars: int = 2000
    """Character budget of a context; the most recent messages are kept."""
    min_context: int = 1
    """Fewest context messages an example needs."""
    reach_back: bool = False
    """When the session gives fewer than 2 context messages, take earlier ones of the chat."""
    merge_within: float | None = None
    """Merge consecutive messages of one sender sent within this many seconds."""
    stickers: bool = False
    """Keep stickers, as their emoji."""
    forwarded: bool = False
    """Keep forwarded messages."""
    speakers: tuple[str, ...] = ()
    """Only examples whose reply is by one of these people; empty means everyone."""
    chats: tuple[str, ...] = ()
    """Only these chats (names or ids); empty means all."""
    since: datetime | None = None
    until: datetime | None = None
    cutoff: tuple[float, int] | None = field(default=None, repr=False)
    """Set by `prepare --limit`: keep messages after this epoch, and this many at it."""

    def __post_init__(self) -> None:
        problems = []
        if not self.session_gap > 0:
            problems.append(f"--session-gap must be positive, not {self.session_gap}")
        if self.max_context < 1 or self.max_context_chars < 1:
            problems.append("--max-context and --max-context-chars must be at least 1")
        if not 0 <= self.min_context <= self.max_context:
            problems.append(
                f"--min-context must be between 0 and --max-context ({self.max_context})"
            )
        if self.merge_within is not None and not self.merge_within >= 0:
            problems.append(f"--merge-within must be 0 or more, not {self.merge_within}")
        # As epochs, the way messages are filtered: a naive and an aware date still compare.
        if self.since and self.until and _epoch(self.since) >= _epoch(self.until):
            problems.append("--since must come before --until")
        if problems:
            raise TwinchatError("; ".join(problems))


def select_messages(
    messages: Iterable[Message], options: BuildOptions, dropped: Counter[str]
) -> Iterator[Message]:
    """The messages worth learning from, counting the others in `dropped` by reason."""
    chats = {c.casefold() for c in options.chats}
    since, until = _epoch(options.since), _epoch(options.until)
    at_cutoff = options.cutoff[1] if options.cutoff else 0
    for message in messages:
        epoch = message.epoch
        reason = None
        if (
            chats
            and message.chat_id.casefold() not in chats
            and ((message.chat_name or "").casefold() not in chats)
        ):
            reason = "other chat"
        else:
            message, reason = _content(message, options)
        if reason is not None:
            pass
        elif epoch is None:
            reason = "no date"
        elif (since is not None and epoch < since) or (until is not None and epoch >= until):
            reason = "outside dates"
        if reason is None and options.cutoff is not None:
            if epoch < options.cutoff[0] or (epoch == options.cutoff[0] and at_cutoff <= 0):
                reason = "limit"
            elif epoch == options.cutoff[0]:
                at_cutoff -= 1
        if reason is None:
            yield message
        else:
            dropped[reason] += 1


def _content(message: Message, options: BuildOptions) -> tuple[Message, str | None]:
    """The message as it will be used, or why it is dropped."""
    kind = message.kind
    if kind in DROPPED_KINDS:
        return message, DROPPED_KINDS[kind]
    if kind is Kind.STICKER:
        if options.stickers and message.emoji:
            return replace(message, text=message.emoji), None
        return message, "sticker"
    if message.forwarded_from is not None and not options.forwarded:
        return message, "forwarded"
    if not message.text.strip():
        return message, "media only" if kind is Kind.MEDIA else "empty"
    return message, None


def merge_runs(messages: Iterable[Message], within: float) -> Iterator[Message]:
    """Join consecutive messages of one sender in one chat sent within `within` seconds."""
    pending: Message | None = None
    last_epoch = 0.0
    for message in messages:
        epoch = message.epoch or 0.0
        if (
            pending is not None
            and message.chat_id == pending.chat_id
            and message.sender == pending.sender
            and epoch - last_epoch <= within
        ):
            pending.text = f"{pending.text}\n{message.text}"
        else:
            if pending is not None:
                yield pending
            pending = replace(message)
        last_epoch = epoch
    if pending is not None:
        yield pending


@dataclass
class _ChatState:
    session: int = 0
    last_epoch: float | None = None
    size: int = 0  # messages in the current session
    recent: deque[tuple[Turn, Fragment]] = field(default_factory=deque)  # this session
    earlier: deque[tuple[Turn, Fragment]] = field(default_factory=deque)  # the chat, for reach_back


class SessionBuilder:
    """Feeds messages one at a time and returns the example each one makes, if any."""

    def __init__(self, options: BuildOptions):
        self.options = options
        self.speakers = {s.casefold() for s in options.speakers}
        self.chats: dict[str, _ChatState] = {}
        self.session_sizes: Counter[int] = Counter()
        self.sessions = 0

    def add(self, message: Message) -> Example | None:
        state = self.chats.get(message.chat_id)
        if state is None:
            state = self.chats[message.chat_id] = _ChatState(
                recent=deque(maxlen=self.options.max_context),
                earlier=deque(maxlen=self.options.max_context),
            )
        epoch = message.epoch or 0.0
        if state.last_epoch is None or epoch - state.last_epoch > self.options.session_gap * 60:
            self._close(state)
            state.session += 1
            self.sessions += 1
        state.last_epoch = max(epoch, state.last_epoch or epoch)
        state.size += 1
        speaker = message.sender or UNKNOWN_SENDER
        example = self._example(message, speaker, state)
        turn = Turn(speaker, message.text)
        entry = (turn, turn.fragment())
        state.recent.append(entry)
        if self.options.reach_back:
            state.earlier.append(entry)
        return example

    def finish(self) -> None:
        """Count the sessions still open."""
        for state in self.chats.values():
            self._close(state)

    def _close(self, state: _ChatState) -> None:
        if state.size:
            self.session_sizes[state.size] += 1
        state.size = 0
        state.recent.clear()

    def _example(self, message: Message, speaker: str, state: _ChatState) -> Example | None:
        if self.speakers and speaker.casefold() not in self.speakers:
            return None
        pool = state.recent
        if self.options.reach_back and len(pool) < 2:
            pool = state.earlier
        context = self._fit(pool)
        if len(context) < self.options.min_context:
            return None
        example = Example(
            id=f"{message.chat_id}:{message.id}",
            chat=message.chat_id,
            session=f"{message.chat_id}:{state.session}",
            timestamp=format_time(message.timestamp),
            speaker=speaker,
            text=message.text,
            context=[turn for turn, _ in context],
        )
        example.fragments = [encoded for _, encoded in context]
        return example

    def _fit(self, pool: deque[tuple[Turn, Fragment]]) -> list[tuple[Turn, Fragment]]:
        """The most recent turns that fit the character budget, oldest first."""
        budget = self.options.max_context_chars
        kept: list[tuple[Turn, Fragment]] = []
        for turn, encoded in reversed(pool):
            if len(turn.text) > budget:
                if not kept:  # one long message: keep its end rather than nothing
                    short = Turn(turn.sender, turn.text[-budget:])
                    kept.append((short, short.fragment()))
                break
            budget -= len(turn.text)
            kept.append((turn, encoded))
        kept.reverse()
        return kept


def build_examples(
    messages: Iterable[Message],
    options: BuildOptions | None = None,
    dropped: Counter[str] | None = None,
) -> Iterator[Example]:
    """Examples from messages in chat order; `dropped` counts the messages left out, by reason."""
    options = options or BuildOptions()
    dropped = Counter() if dropped is None else dropped
    kept = select_messages(messages, options, dropped)
    if options.merge_within:
        kept = merge_runs(kept, options.merge_within)
    builder = SessionBuilder(options)
    for message in kept:
        example = builder.add(message)
        if example is not None:
            yield example


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return Message("", "", "", moment, None, "").epoch
