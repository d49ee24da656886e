"""The reading half of `prepare`: exports in, kept messages out, optionally in a second process.

Reading (JSON parsing, normalizing, filtering, writing `messages.jsonl`) and building examples
cost about the same, so on a big export the reading runs in a spawned process that streams the
kept messages to the builder in batches: both cores work, and memory stays flat in each.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import traceback
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.atomic import private_open
from twinchat.data.aliases import parse_aliases, rename
from twinchat.data.builder import UNKNOWN_SENDER, select_messages
from twinchat.data.message import Message
from twinchat.data.privacy import scrub
from twinchat.data.readers import read_export
from twinchat.data.readers.source import Export
from twinchat.data.stats import Stats
from twinchat.errors import TwinchatError

if TYPE_CHECKING:
    from twinchat.data.options import PrepareOptions

Progress = Callable[[str, int, int], None]  # (what, done, total)
# NUL and the other C0 controls but tab and line ends, and DEL: never text a person typed, and
# NUL ends strings in tokenizers and terminals downstream
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BATCH = 2048


@dataclass
class ReadState:
    """What reading learnt, beyond the messages themselves."""

    read_counts: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_by: dict[str, Counter[str]] = field(default_factory=dict)
    """The same, by the input each dropped message came from."""
    stats: Stats = field(default_factory=Stats)
    problems: list[Counter[str]] = field(default_factory=list)
    chats: list[int] = field(default_factory=list)


class Reader:
    """Reads exports, keeps the messages worth learning from, writes `messages.jsonl`."""

    def __init__(self, exports: Sequence[Export], options: PrepareOptions, folder: Path):
        self.exports = list(exports)
        self.options = options
        self.folder = folder
        self.state = ReadState()
        self._tally = _Tally(self.state)

    def kept(self, progress: Progress) -> Iterator[Message]:
        state = self.state
        aliases = parse_aliases(self.options.aliases, self.options.me)
        everyone = rename(self._all(progress), aliases)
        messages = select_messages(everyone, self.options.build, self._tally)
        with private_open(self.folder / "messages.jsonl", "wb") as out:
            for message in messages:
                if _CONTROLS.search(message.text):
                    message.text = _CONTROLS.sub("", message.text)
                if message.sender is not None and _CONTROLS.search(message.sender):
                    message.sender = _CONTROLS.sub("", message.sender)
                if self.options.scrub:
                    message.text = scrub(message.text)
                state.stats.add_message(message, message.sender or UNKNOWN_SENDER)
                out.write(message.to_line())
                yield message
        state.problems = [export.problems for export in self.exports]
        state.chats = [export.chats for export in self.exports]

    def _all(self, progress: Progress) -> Iterator[Message]:
        for export in self.exports:
            label, total, count = export.source.label, export.source.size, 0
            # selection pulls one message at a time: what it drops next comes from this input
            self._tally.label = label
            progress(f"reading {label}", 0, total)
            for message in export:
                count += 1
                if not count & 0x3FFF:
                    progress(f"reading {label}", export.bytes_read, total)
                yield message
            self.state.read_counts[label] = count
            progress(f"reading {label}", total, total)
            if not count and export.problems:
                raise TwinchatError(rejected_all(label, export.problems))


class _Tally(Counter):
    """Dropped messages by reason (`ReadState.dropped`), counted by input as well."""

    def __init__(self, state: ReadState):
        super().__init__()
        self.state = state
        self.label = ""

    def __setitem__(self, reason: str, value: int) -> None:
        added = value - self[reason]
        super().__setitem__(reason, value)
        self.state.dropped[reason] += added
        self.state.dropped_by.setdefault(self.label, Counter())[reason] += added


def rejected_all(label: str, problems: Counter[str]) -> str:
    """The one-line error for an export whose every message was rejected: how many, and why."""
    total = sum(problems.values())
    reasons = "; ".join(f"{n:,} {why}" for why, n in problems.most_common(3))
    return (
        f"{label}: no message could be read, {total:,} rejected ({reasons}); export it again, "
        "and if it still fails, report these reasons with the app's version"
    )


def open_export(path: str | Path, options: PrepareOptions) -> Export:
    """`read_export` with the options that say how to read."""
    return read_export(path, options.source, options.date_order, options.columns)


def read_in_background(
    paths: Sequence[str | Path], options: PrepareOptions, folder: Path, progress: Progress
) -> Generator[Message, None, ReadState]:
    """`Reader(...).kept()` run in a spawned process; returns the reader's state at the end.

    Raises:
        TwinchatError: as the reader would; any other failure of the process as RuntimeError.
    """
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_read_and_send, args=(list(map(str, paths)), options, folder, send), daemon=True
    )
    child.start()
    send.close()
    try:
        while True:
            try:
                tag, payload = receive.recv()
            except EOFError:
                raise RuntimeError(
                    f"the reading process stopped unexpectedly (exit code {child.exitcode})"
                ) from None
            if tag == "messages":
                for platform, chat, ident, timestamp, sender, text in payload:
                    yield Message(platform, chat, ident, timestamp, sender, text)
            elif tag == "progress":
                progress(*payload)
            elif tag == "user error":
                raise TwinchatError(payload)
            elif tag == "failure":
                raise RuntimeError(f"the reading process failed:\n{payload}")
            else:
                return payload
    finally:
        receive.close()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()


def _read_and_send(paths: list[str], options: PrepareOptions, folder: Path, send: Any) -> None:
    """The child process: only what the builder needs of each kept message crosses over."""
    import gc

    gc.disable()  # as in the parent: millions of acyclic records, nothing for it to find
    try:
        reader = Reader([open_export(p, options) for p in paths], options, folder)
        batch: list[tuple[Any, ...]] = []
        report = lambda what, done, total: send.send(("progress", (what, done, total)))  # noqa: E731
        for m in reader.kept(report):
            batch.append((m.platform, m.chat_id, m.id, m.timestamp, m.sender, m.text))
            if len(batch) >= BATCH:
                send.send(("messages", batch))
                batch = []
        if batch:
            send.send(("messages", batch))
        send.send(("done", reader.state))
    except TwinchatError as error:
        with contextlib.suppress(OSError):
            send.send(("user error", str(error)))
    except (KeyboardInterrupt, BrokenPipeError):
        pass  # the parent stopped (Ctrl-C, SIGTERM): nobody is left to tell
    except BaseException:
        with contextlib.suppress(OSError):
            send.send(("failure", traceback.format_exc()))
    finally:
        send.close()
