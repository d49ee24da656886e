"""`prepare`: chat exports in, a training dataset out.

Reads every export as a stream, keeps the messages worth learning from, builds examples, splits
them by session, and writes `messages.jsonl`, `train.jsonl`, `validation.jsonl`, `stats.json`
and `report.html` into a private folder that appears only when everything succeeded.
"""

from __future__ import annotations

import gc
import heapq
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from twinchat.atomic import private_open, staged_folder, write_private
from twinchat.data.aliases import SELF_NAMES, parse_aliases
from twinchat.data.builder import (
    SessionBuilder,
    merge_runs,
    select_messages,
)
from twinchat.data.example import Example
from twinchat.data.message import Message
from twinchat.data.options import PrepareOptions
from twinchat.data.privacy import Pseudonymizer
from twinchat.data.readers.source import Export
from twinchat.data.reading import Reader, ReadState, open_export, read_in_background
from twinchat.data.split import SplitWriter
from twinchat.errors import TwinchatError
from twinchat.jsonl import encode_line

SAMPLE_FOR_TOKENS = 2000
PARALLEL_FROM = 32 << 20  # bytes: below this, starting a second process costs more than it saves
Progress = Callable[[str, int, int], None]  # (what, done, total)


def prepare(
    exports: Sequence[str | Path],
    out: str | Path,
    options: PrepareOptions | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build the dataset folder `out` from chat exports and return its statistics.

    Raises:
        TwinchatError: bad options or input; `out` is then left as it was.
    """
    options = options or PrepareOptions()
    options.validate()
    if not exports:
        raise TwinchatError(
            "no export given; name a chat export (a Telegram result.json, a WhatsApp chat .txt, "
            "a Slack export zip...), its folder or its zip"
        )
    opened = [open_export(path, options) for path in exports]
    tokenizer = _tokenizer(options.tokenizer)
    if options.limit:
        cutoff = _cutoff(list(exports), options)
        options = replace(options, build=replace(options.build, cutoff=cutoff))
    with staged_folder(Path(out), options.force) as staging, _collector_paused():
        run = _Run(list(exports), opened, options, staging, progress)
        run.build()
        run.check()
        if options.pseudonymize:
            run.pseudonymize(Path(out))
        stats = run.stats_dict(tokenizer)
        if options.pseudonymize:
            stats = run.pseudonymize_stats(stats)
        write_private(staging / "stats.json", json.dumps(stats, ensure_ascii=False, indent=2))
        from twinchat.data.report import render_report

        write_private(staging / "report.html", render_report(stats))
    return stats


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Millions of short-lived, acyclic records make the cycle collector cost a quarter of the
    run for nothing; reference counting frees them all the same."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Run:
    """The state of one `prepare` between its steps."""

    def __init__(
        self,
        paths: list[str | Path],
        exports: list[Export],
        options: PrepareOptions,
        staging: Path,
        progress: Progress | None,
    ):
        self.paths = paths
        self.exports = exports
        self.options = options
        self.staging = staging
        self.progress = progress or (lambda what, done, total: None)
        self.read = ReadState()
        self.stats = self.read.stats
        self.builder = SessionBuilder(options.build)
        self.sample: list[Example] = []
        self.examples = 0
        self.splits: dict[str, int] = {"train": 0, "validation": 0}
        self.rng = random.Random(options.seed)

    def build(self) -> None:
        """The one pass over the exports: kept messages and split examples out."""
        kept: Iterable[Message]
        if self._in_background():
            kept = _returning(
                read_in_background(self.paths, self.options, self.staging, self.progress),
                self._absorb,
            )
        else:
            reader = Reader(self.exports, self.options, self.staging)
            self.read = reader.state
            self.stats = self.read.stats
            kept = reader.kept(self.progress)
        if self.options.build.merge_within:
            kept = merge_runs(kept, self.options.build.merge_within)
        writer = SplitWriter(self.staging, self.options.split, self._share(), self.options.seed)
        try:
            for message in kept:
                example = self.builder.add(message)
                if example is not None:
                    self._keep(example, message.epoch or 0.0, writer)
        finally:
            self.progress("splitting", 0, 1)
            writer.finish()
            self.progress("splitting", 1, 1)
        self.builder.finish()
        self.splits = writer.counts
        self.sessions_with_examples = len(writer.sessions)

    def _in_background(self) -> bool:
        if self.options.parallel is not None:
            return self.options.parallel
        size = sum(export.source.size for export in self.exports)
        return size >= PARALLEL_FROM and (os.cpu_count() or 1) > 1

    def _absorb(self, state: ReadState) -> None:
        """Take over what the reading process counted; examples were counted here."""
        state.stats.speakers = self.stats.speakers
        state.stats.context_chars = self.stats.context_chars
        state.stats.context_messages = self.stats.context_messages
        state.stats.reply_chars = self.stats.reply_chars
        self.read, self.stats = state, state.stats
        for export, problems, chats in zip(self.exports, state.problems, state.chats, strict=True):
            export.problems.update(problems)
            export.chats = chats

    def _share(self) -> float:
        if self.options.holdout is not None:
            return self.options.holdout
        return self.options.HOLDOUT[self.options.split]

    def _keep(self, example: Example, epoch: float, writer: SplitWriter) -> None:
        self.stats.add_example(example)
        self.examples += 1
        if len(self.sample) < SAMPLE_FOR_TOKENS:
            self.sample.append(example)
        elif (slot := self.rng.randrange(self.examples)) < SAMPLE_FOR_TOKENS:
            self.sample[slot] = example
        writer.write(example, epoch)

    def check(self) -> None:
        """Stop before writing anything when the result would be empty or not what was asked."""
        labels = ", ".join(e.source.label for e in self.exports)
        if not sum(self.read.read_counts.values()):
            raise TwinchatError(f"no messages found in {labels}; is this the right export?")
        known = {name.casefold() for name in self.stats.senders}
        missing = [s for s in self.options.build.speakers if s.casefold() not in known]
        if missing:
            top = ", ".join(name for name, _ in self.stats.senders.most_common(8))
            raise TwinchatError(
                f"--as {', '.join(missing)}: no such sender in the chat; the most frequent are: "
                f"{top}"
            )
        if not self.examples:
            reasons = ", ".join(f"{n} {why}" for why, n in self.read.dropped.most_common(3))
            raise TwinchatError(
                f"no examples could be built from {labels} (messages dropped: {reasons or 'none'})"
                "; try a smaller --min-context, a longer --session-gap or other filters"
            )

    def pseudonymize(self, out: Path) -> None:
        """Rewrite the outputs with fake names; the key goes beside the dataset, not in it."""
        names = [name for name, _ in self.stats.senders.most_common()]
        names += _forwarded_names(self.staging / "messages.jsonl")
        fake = Pseudonymizer(
            names,
            parse_aliases(self.options.aliases, self.options.me),
            keep=(*self.options.keep_names, *SELF_NAMES),  # "Me" is nobody's name in a text
        )
        for name in ("messages.jsonl", "train.jsonl", "validation.jsonl"):
            _rewrite(self.staging / name, lambda record: _pseudonymize(record, fake))
        self.stats.senders = Counter({fake.name(k): v for k, v in self.stats.senders.items()})
        self.stats.speakers = Counter({fake.name(k): v for k, v in self.stats.speakers.items()})
        key = out.resolve().with_name(out.resolve().name + ".pseudonyms.json")
        write_private(key, json.dumps(fake.mapping, ensure_ascii=False, indent=2))
        self.pseudonym_key = str(key)
        self.fake = fake

    def pseudonymize_stats(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Names in every string of the statistics: export paths, `--chat` values, problems."""
        key = stats.pop("pseudonyms", None)
        stats = _faked(stats, self.fake)
        if key is not None:  # the key's own path may name someone: then say where it is
            same = self.fake.text(key) == key
            stats["pseudonyms"] = key if same else "the .pseudonyms.json file beside this folder"
        return stats

    def stats_dict(self, tokenizer: Any) -> dict[str, Any]:
        stats = self.stats
        kept = sum(stats.senders.values())
        result: dict[str, Any] = {
            "exports": [
                {
                    "path": e.source.label,
                    "format": e.format,
                    "chats": e.chats,
                    "messages": self.read.read_counts[e.source.label],
                    "unreadable": dict(e.problems),
                    "dropped": dict(self.read.dropped_by.get(e.source.label, Counter())),
                }
                for e in self.exports
            ],
            "messages": {
                "read": sum(self.read.read_counts.values()),
                "kept": kept,
                "dropped": dict(self.read.dropped.most_common()),
            },
            "span": stats.span(),
            "senders": [
                {"name": name, "messages": n, "examples": stats.speakers.get(name, 0)}
                for name, n in stats.senders.most_common(50)
            ],
            "senders_total": len(stats.senders),
            "activity": stats.activity(),
            "sessions": {
                "count": self.builder.sessions,
                "with_examples": self.sessions_with_examples,
                "messages": _summary(self.builder.session_sizes),
            },
            "examples": self.splits,
            "lengths": {
                "context_messages": stats.context_messages.summary(),
                "context_chars": stats.context_chars.summary(),
                "reply_chars": stats.reply_chars.summary(),
            },
            "options": _options_dict(self.options, getattr(self, "fake", None)),
        }
        notes = self._split_notes()
        if notes:
            result["notes"] = notes
        if getattr(self, "pseudonym_key", None):
            result["pseudonyms"] = self.pseudonym_key
        if tokenizer is not None:
            from twinchat.data.tokens import token_lengths, tokenizer_coverage

            result["tokens"] = token_lengths(tokenizer, self.sample)
            fake = getattr(self, "fake", None)
            result["coverage"] = tokenizer_coverage(
                self.options.tokenizer or "", tokenizer, self.sample, fake.name if fake else None
            )
        return result

    def _split_notes(self) -> list[str]:
        """Say so when whole sessions made the held-out share far from the one asked for."""
        asked, held = self._share(), self.splits["validation"]
        got = held / self.examples if self.examples else 0.0
        if asked and not held:
            return [
                "no session could be held out for validation (there is only one); "
                "a smaller --session-gap makes more, shorter sessions"
            ]
        if asked and got > 2 * asked:
            return [
                f"validation holds {got:.0%} of the examples, not {asked:.0%}: sessions are kept "
                "whole and these are long; a smaller --session-gap cuts finer"
            ]
        return []


def _returning(
    generator: Generator[Message, None, ReadState], absorb: Callable[[ReadState], None]
) -> Iterator[Message]:
    """Yield a generator's items, then hand its return value to `absorb`."""
    absorb((yield from generator))


def _cutoff(paths: list[str | Path], options: PrepareOptions) -> tuple[float, int]:
    """The epoch of the N-th most recent kept message, and how many at that epoch to keep."""
    probe = [open_export(path, options) for path in paths]
    dropped: Counter[str] = Counter()
    epochs = (m.epoch or 0.0 for m in select_messages(chain(*probe), options.build, dropped))
    newest = heapq.nlargest(options.limit or 0, epochs)
    if not newest:
        return (float("-inf"), 0)
    edge = newest[-1]
    return edge, sum(1 for e in newest if e == edge)


def _tokenizer(name: str | None) -> Any:
    if name is None:
        return None
    from twinchat.data.tokens import load_tokenizer

    return load_tokenizer(name)


def _summary(values: Counter[int]) -> dict[str, Any]:
    from twinchat.data.stats import Lengths

    lengths = Lengths()
    lengths.update(values)
    return lengths.summary()


def _rewrite(path: Path, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    temporary = path.with_name(path.name + ".new")
    with path.open("rb") as source, private_open(temporary, "wb") as target:
        for line in source:
            target.write(encode_line(change(orjson.loads(line))))
    temporary.replace(path)


def _forwarded_names(path: Path) -> list[str]:
    """The people messages were forwarded from: names of people who may never write."""
    counts: Counter[str] = Counter()
    with path.open("rb") as lines:
        for line in lines:
            if b'"forwarded_from"' in line and (name := orjson.loads(line).get("forwarded_from")):
                counts[name] += 1
    return [name for name, _ in counts.most_common()]


def _faked(value: Any, fake: Pseudonymizer) -> Any:
    """`value` with `fake.text` applied to every string in it, keys included."""
    if isinstance(value, str):
        return fake.text(value)
    if isinstance(value, dict):
        return {_faked(k, fake): _faked(v, fake) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_faked(item, fake) for item in value]
    return value


def _pseudonymize(record: dict[str, Any], fake: Pseudonymizer) -> dict[str, Any]:
    for key in ("sender", "speaker", "forwarded_from"):
        if record.get(key):
            record[key] = fake.name(record[key])
    # chat ids and names come from file and folder names ("WhatsApp Chat with Anna"), and
    # example and session ids start with the chat id
    for key in ("chat", "chat_name", "id", "session", "reply_to", "action"):
        if isinstance(record.get(key), str):
            record[key] = fake.text(record[key])
    if "sender_id" in record:
        record["sender_id"] = None
    if "text" in record:
        record["text"] = fake.text(record["text"])
    for turn in record.get("context", ()):
        turn["sender"] = fake.name(turn["sender"])
        turn["text"] = fake.text(turn["text"])
    return record


def _options_dict(options: PrepareOptions, fake: Pseudonymizer | None = None) -> dict[str, Any]:
    """The options as stats.json records them; with pseudonyms, the names in them too."""
    result = asdict(options)
    build = result.pop("build")
    build.pop("cutoff", None)
    for key in ("since", "until"):
        if build[key] is not None:
            build[key] = build[key].isoformat()
    result.update(build)
    for key in ("speakers", "chats", "aliases"):
        result[key] = list(result[key])
    result.pop("force", None)
    result.pop("parallel", None)
    if not result["keep_names"]:  # as datasets written before the option was added
        result.pop("keep_names")
    else:
        result["keep_names"] = list(result["keep_names"])
    if fake is not None:
        result["speakers"] = [fake.name(name) for name in result["speakers"]]
        result["aliases"] = [
            "=".join(fake.name(name.strip()) or "" for name in pair.split("="))
            for pair in result["aliases"]
        ]
        result["me"] = fake.name(result["me"])
    return result
