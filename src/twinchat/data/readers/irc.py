"""IRC channel logs in the layout of the Ubuntu IRC corpus: one file a day, `[HH:MM] <nick> text`.

The corpus is the `*.raw.txt` logs of jkkummerfeld/irc-disentanglement (#ubuntu on freenode,
2004-2018); tools/make_example.py reads the same logs by the same rules. A file's date is the
first date in its name (`2004-12-25.train-c.raw.txt`, `2004-11-15_03.raw.txt`,
`#ubuntu_20041225.log`). Its lines:

* `[HH:MM] <nick> text`: a message (`Kind.TEXT`); op and voice marks (`<@nick>`) are dropped.
* `[HH:MM]  * nick does x` (later logs) and `=== nick does x` (early logs): a `/me` action, the
  message `does x` from the nick, with `action="me"`.
* `=== nick [user@host] has joined #c` (`has left`, `has quit`): `Kind.SERVICE`, action `join`
  (`leave`, `quit`), its text the line without `=== ` and the host.
* `=== a is now known as b` (`rename`, by a), `=== mode/#c [+o x] by y` (`mode`, by y),
  `=== ..[topic/#c:y] : text` (`topic`, by y), `=== x was kicked off #c by y (why)` (`kick`, by
  y), `=== netjoined: ...` (`netjoin`, no sender): `Kind.SERVICE`, text the line without `=== `.
* `[HH:MM] -nick:#c- text`: a channel notice (bots, spam floods): `Kind.SERVICE`, action
  `notice`, its text the notice's.
* `[HH:MM] (nick/#c) text`: a message relayed to the channel: `Kind.TEXT`.

Anything else counts in `problems["unparsed line"]`; blank lines are skipped. A line that is
not UTF-8 is read as cp1252 and counted in `problems["line not UTF-8 (read as cp1252)"]`. Lines
are split at `\\n` only (`str.splitlines` would also split at the `\\x1c`-`\\x1e` some messages
hold); IRC formatting codes and other control characters are removed, and trailing whitespace.
The 2004-2007 logs have a space added after every `]` (`<bur[n] er>` for `bur[n]er`): in a file
where no `]` is followed by anything but a space or a line end, and at least 3 `]` other than
a time stamp's by two spaces (early logs have hundreds; a later one may have a `:]  ` smiley),
one space after each `]` is taken back out.

Times: the file's date plus `[HH:MM]`, naive (`tz_known=False`): the corpus does not say in which
zone its clocks are, and its 12-hour logs cannot say am or pm (pass `utc=True` when you know).
`===` lines, which have no time, take the time of the line before (at the top of a file, of the
first timed line). When the clock goes back by more than an hour it wrapped: a day is added, or
12 hours in a file whose hours never pass 12 (the 2004-2007 logs use a 12-hour clock with no
am/pm: `11:59` -> `00:00`, `12:59` -> `01:00`); a smaller step back is read as the same minute.
The k lines of a minute get seconds spread over it in order (`i * 60 // k`), so time never goes
backwards, even where a file starts before the previous file of its channel ended.

Chats: one per channel: `channel` when given, else the first channel a `===` line names in the
first files of the log's folder, else the folder's name. Files are read one at a time in date
order, so memory does not grow with their number. Message ids are `file name:line number`
(0-based, as in the corpus's `*.annotation.txt`); `sender_id` is the nick lowercased.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.source import (
    HEAD_BYTES,
    Source,
    base_name,
    folder_of,
)
from twinchat.errors import TwinchatError

PLATFORM = "irc"
CHAT_TYPE = "irc_channel"
CHANNEL_SCAN_FILES = 20  # a log with joins names its channel in its first lines
SPACED_MIN = 3  # `]` followed by two spaces that make a log one with the extra space
STEP_BACK_MINUTES = 60  # a clock going back less than this is jitter, not midnight

# IRC formatting (colour with its numbers, hex colour, bold, italics...) and any other control
# character but tab and line ends: none of them is visible text
_CODES = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
# a timed line, and in one go the nick and text of a message, by far the most common
_LINE = re.compile(r"\[(\d\d):(\d\d)\] ?(?:<[@+%&~]*([^>\s]+)> ?)?(.*)")
# searched in "\n" + text: a literal start is much faster to find than `^` in MULTILINE mode
_FIRST_TIMED = re.compile(r"\n\[(\d\d):(\d\d)\]")
_AFTERNOON = re.compile(r"\n\[(?:1[3-9]|2[0-3]):\d\d\]")
_ACTION = re.compile(r" ?\* [@+%&~]*(\S+)(?: (.*))?")
_NOTICE = re.compile(r"-([^\s:]+):(#\S+)-(?: (.*))?")
_RELAYED = re.compile(r"\(([^\s/]+)/(#[^\s)]+)\)(?: (.*))?")
_HAS = re.compile(r"=== (\S+)\s+\[[^\]]*\]\s*has (\S+)(.*)")
_RENAME = re.compile(r"=== (\S+) is now known as (\S+)$")
_MODE = re.compile(r"=== mode/\S*.*?(?:\s+by (\S+))?$")
_TOPIC = re.compile(r"=== \.\.\[topic/#[^:\]\s]*:?([^\]\s]*)\]")
_KICK = re.compile(r"=== \S+ was kicked off \S+ by (\S+)")
_NET = re.compile(r"=== (?:netjoined|netsplit)\b")
_ME_OLD = re.compile(r"=== (\S+) (\S.*)")
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_CONTROL_BYTES = bytes(sorted(set(range(32)) - {9, 10, 13})) + b"\x7f"
_BRACKET_THEN_TEXT = re.compile(r"\][^ \r\n]")
_BRACKET_TWO_SPACES = re.compile(r"(?<!\[\d\d:\d\d)\]  ")  # a time stamp's `]  * nick` is normal
_CHANNEL_HINT = re.compile(
    rb"^=== (?:\S+\s+\[[^\]\n]*\]\s*has (?:joined|left|quit) |mode/|\.\.\[topic/"
    rb"|\S+ was kicked off )(#[^\s\]:,]+)",
    re.M,
)
_FILE_DATE = re.compile(r"(?<!\d)(\d{4})(-?)(\d\d)\2(\d\d)(?!\d)")
_HINT_TIMED = re.compile(r"\[\d\d:\d\d\] (?:<[^>\s]+>|\s?\* \S|-[^\s:]+:#|\([^\s/]+/#)")
_HINT_SYSTEM = re.compile(
    r"=== (?:\S+\s+\[[^\]]*\]\s*has \S|\S+ is now known as \S|mode/|\.\.\[topic/"
    r"|\S+ was kicked off |netjoined|netsplit)"
)
_LEAVE_VERBS = {"joined": "join", "left": "leave", "quit": "quit"}
_BASE = datetime(1, 1, 1)  # minutes are counted from here: ordinal day 1
_EPOCH_MINUTE = (date(1970, 1, 1).toordinal() - 1) * 1440
_SECONDS = [timedelta(seconds=s) for s in range(60)]

# (minute since _BASE, line index, kind, action, sender, text)
_Event = tuple[int, int, Kind, str | None, str | None, str]


def looks_like_irc(source: Source) -> bool:
    """Whether a file starts like an IRC log of this layout (its first 20 lines, mostly)."""
    try:
        head = source.head()
    except OSError:
        return False
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(head) >= HEAD_BYTES:
        lines.pop()  # probably cut short
    lines = [line.rstrip() for line in lines if line.strip()][:20]
    if not lines:
        return False
    timed = sum(1 for line in lines if _HINT_TIMED.match(line))
    system = sum(1 for line in lines if _HINT_SYSTEM.match(line))
    # `=== ...` lines that are none of the known events are old-style /me actions
    marked = sum(1 for line in lines if line.startswith("=== "))
    return timed + system > 0 and timed + marked >= 0.8 * len(lines)


def irc_logs(sources: Iterable[Source]) -> list[Source]:
    """The sources that look like IRC logs (a corpus folder also holds annotation files)."""
    return [source for source in sources if looks_like_irc(source)]


def file_date(name: str) -> date | None:
    """The first date in a file name (`2004-12-25.raw.txt`, `#c_20041225.log`), if any."""
    for match in _FILE_DATE.finditer(name):
        try:
            return date(int(match[1]), int(match[3]), int(match[4]))
        except ValueError:
            continue
    return None


class IrcExport(FilesExport):
    """Opened IRC logs; iterate for messages, each channel in time order, file by file."""

    def __init__(
        self,
        logs: Sequence[Source],
        channel: str | None = None,
        label: str | None = None,
        utc: bool = False,
    ):
        """`logs`: the log files (see `irc_logs`); `label`: how to name them all, by default
        their common folder; `channel`: the chat of every log; `utc`: the clocks are UTC.

        Raises:
            TwinchatError: no logs, or a log whose name has no date.
        """
        if not logs:
            raise TwinchatError("no IRC logs to read")
        dated: list[tuple[date, str, Source]] = []
        for log in logs:
            day = file_date(base_name(log.label))
            if day is None:
                raise TwinchatError(
                    f"{log.label}: the date of an IRC log comes from its file name, which has "
                    "none; rename it to start with the date, e.g. 2024-01-31.log"
                )
            dated.append((day, log.label, log))
        dated.sort(key=lambda item: (item[0], item[1]))
        self._logs = [(day, log) for day, _, log in dated]
        self._days = {id(log): day for day, log in self._logs}
        self._channel = channel
        self._utc = utc
        self._folder_chat: dict[str, str] = {}
        self._last: dict[str, tuple[int, int]] = {}  # chat -> (minute, second) of its last line
        super().__init__(PLATFORM, [log for _, log in self._logs], self._read_log, label)

    def __iter__(self) -> Iterator[Message]:
        self._last = {}
        yield from super().__iter__()

    def _read_log(
        self, log: Source, stream: io.BufferedReader, problems: Counter[str]
    ) -> Iterator[Message]:
        data = stream.read()
        # a cheap look for control characters, to spare most logs the regex
        controls = len(data.translate(None, _CONTROL_BYTES)) != len(data)
        text = self._decode(data)
        yield from self._messages(log, self._days[id(log)], text, controls, self._chat_of(log))

    def _decode(self, data: bytes) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # IRC clients send whatever their user's encoding is; old Windows ones cp1252
            lines = []
            for raw in data.split(b"\n"):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    lines.append(raw.decode("cp1252", errors="replace"))
                    self.problems["line not UTF-8 (read as cp1252)"] += 1
            text = "\n".join(lines)
        return text.removeprefix("\ufeff")

    def _chat_of(self, log: Source) -> str:
        if self._channel:
            return self._channel
        folder = folder_of(log.label)
        chat = self._folder_chat.get(folder)
        if chat is None:
            chat = self._folder_chat[folder] = self._scan_channel(folder) or _folder_name(folder)
        return chat

    def _scan_channel(self, folder: str) -> str | None:
        """The first channel named in the first logs of a folder, so all its logs share one."""
        logs = [log for _, log in self._logs if folder_of(log.label) == folder]
        for log in logs[:CHANNEL_SCAN_FILES]:
            match = _CHANNEL_HINT.search(_read_all(log))
            if match:
                return match[1].decode("utf-8", errors="replace")
        return None

    def _messages(
        self, log: Source, day: date, text: str, controls: bool, chat: str
    ) -> Iterator[Message]:
        name = base_name(log.label)
        utc = self._utc
        base = _BASE.replace(tzinfo=UTC) if utc else _BASE
        last_minute, last_second = self._last.get(chat, (-1, 0))
        events = self._parse(text, (day.toordinal() - 1) * 1440, controls)
        count = len(events)
        i = 0
        while i < count:
            # the run of lines in one minute, never before the chat's last line
            minute = max(events[i][0], last_minute)
            j = i + 1
            while j < count and events[j][0] <= minute:
                j += 1
            # a minute the chat's previous file ended in goes on after its last second
            start = min(last_second + 1, 59) if minute == last_minute else 0
            k = j - i
            at_minute = base + timedelta(minutes=minute)
            epoch_minute = (minute - _EPOCH_MINUTE) * 60
            for n in range(k):
                _, index, kind, action, sender, body = events[i + n]
                second = start + n * (60 - start) // k
                message = Message(
                    platform=PLATFORM,
                    chat_id=chat,
                    id=f"{name}:{index}",
                    timestamp=None,
                    sender=sender,
                    text=body,
                    kind=kind,
                    chat_name=chat,
                    chat_type=CHAT_TYPE,
                    tz_known=utc,
                    sender_id=sender.lower() if sender is not None else None,
                    action=action,
                )
                # Message would derive epoch from the datetime, a third of the reading time;
                # whole minutes and seconds since 1970 give the same number
                message.timestamp = at_minute + _SECONDS[second]
                message.epoch = float(epoch_minute + second)
                yield message
                last_second = second
            last_minute = minute
            i = j
        self._last[chat] = (last_minute, last_second)

    def _parse(self, text: str, day_start: int, controls: bool = True) -> list[_Event]:
        """The events of one log, with their minute (after clock wraps) since `_BASE`."""
        if controls:
            text = _CODES.sub("", text)
        if _BRACKET_THEN_TEXT.search(text) is None and _spaced(text):
            # the early logs' extra space after every `]`; stamps lose their space too, which
            # `_LINE` allows
            text = text.replace("] ", "]")
        lined = "\n" + text
        first = _FIRST_TIMED.search(lined)
        # a log whose hours never pass 12 uses a 12-hour clock
        wrap = 24 * 60 if _AFTERNOON.search(lined) else 12 * 60
        previous = int(first[1]) * 60 + int(first[2]) if first else 0
        offset = day_start
        current = previous + offset
        events: list[_Event] = []
        add = events.append
        text_kind, service = Kind.TEXT, Kind.SERVICE
        problems = self.problems
        for index, raw in enumerate(text.split("\n")):
            line = raw.rstrip()
            if not line:
                continue
            if timed := _LINE.match(line):
                hour, minute = int(timed[1]), int(timed[2])
                if hour > 23 or minute > 59:
                    problems["unparsed line"] += 1
                    continue
                clock = hour * 60 + minute
                if clock < previous:
                    if previous - clock > STEP_BACK_MINUTES:
                        offset += wrap
                    else:
                        clock = previous
                previous = clock
                current = clock + offset
                if timed[3] is not None:
                    add((current, index, text_kind, None, timed[3], timed[4]))
                    continue
                body = timed[4]
                if (act := _ACTION.match(body)) and _NICK.fullmatch(act[1]):
                    add((current, index, text_kind, "me", act[1], (act[2] or "").strip()))
                elif notice := _NOTICE.match(body):
                    add((current, index, service, "notice", notice[1], notice[3] or ""))
                elif relayed := _RELAYED.match(body):
                    add((current, index, text_kind, None, relayed[1], relayed[3] or ""))
                else:
                    problems["unparsed line"] += 1
                continue
            if not line.startswith("=== "):
                problems["unparsed line"] += 1
                continue
            event = line[4:]
            if has := _HAS.match(line):
                nick, verb, rest = has[1], has[2], has[3]
                action = _LEAVE_VERBS.get(verb, "other")
                add((current, index, service, action, nick, f"{nick} has {verb}{rest}"))
            elif renamed := _RENAME.match(line):
                add((current, index, service, "rename", renamed[1], event))
            elif line.startswith("=== mode/") and (mode := _MODE.match(line)):
                add((current, index, service, "mode", mode[1], event))
            elif topic := _TOPIC.match(line):
                add((current, index, service, "topic", topic[1] or None, event))
            elif kick := _KICK.match(line):
                add((current, index, service, "kick", kick[1], event))
            elif _NET.match(line):
                add((current, index, service, "netjoin", None, event))
            elif (me := _ME_OLD.match(line)) and _NICK.fullmatch(me[1]):
                add((current, index, text_kind, "me", me[1], me[2].strip()))
            else:
                problems["unparsed line"] += 1
        return events


def _spaced(text: str) -> bool:
    """Whether a log has the early logs' extra space after `]` (see the module docstring)."""
    return len(list(islice(_BRACKET_TWO_SPACES.finditer(text), SPACED_MIN))) == SPACED_MIN


def _read_all(source: Source) -> bytes:
    with source.open() as stream:
        return stream.read()


def _folder_name(folder: str) -> str:
    name = base_name(folder) if folder else ""
    if name.lower().endswith(".zip"):
        name = name[:-4]
    if not name and not folder:
        name = Path.cwd().name  # a log named without a folder lies in the working folder
    return name or "irc"


__all__ = ["IrcExport", "file_date", "irc_logs", "looks_like_irc"]
