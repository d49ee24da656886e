"""IRC logs as the clients and bots write them: irssi, WeeChat, ZNC, HexChat/XChat, mIRC,
Quassel, Textual and Limnoria/Supybot's ChannelLogger, one layout a file.

`irc.py` reads the Ubuntu corpus's layout; this reads the others, recognised from their first
lines. Each layout is a time stamp, then a body:

* irssi: `02:05 <@nick> text`, `02:05  * nick does x`, `02:05 -!- nick [u@h] has joined #c`;
  the date from `--- Log opened Sun Jan 09 02:05:04 2005` and `--- Day changed Mon Jan 10 2005`.
* WeeChat: `2005-01-09 02:05:04<TAB>@nick<TAB>text`; `-->`, `<--` and `--` in the nick column
  are joins, parts and notices, ` *` an action.
* ZNC and mIRC: `[02:05:04] <nick> text`, `[02:05] * nick does x`, `*** Joins: nick (u@h)`;
  the date from the file name (`#c_20050109.log`) or mIRC's `Session Start: Sun Jan 09 ...`.
* HexChat/XChat: `Jan 09 02:05:04 <nick><TAB>text`, `-->`/`<--`/`*`/`---` likewise; the year
  from `**** BEGIN LOGGING AT Sun Jan  9 02:05:04 2005`.
* Quassel and Textual: `[2005-01-09 02:05:04] <nick> text`, `[2005-01-09T02:05:04+0100]` (an
  offset makes the time UTC).
* Limnoria: `2005-01-09T02:05:04  <nick> text`, `2005-01-09T02:05:04  * nick does x`,
  `2005-01-09T02:05:04  *** nick <u@h> has joined #c`.

Messages are `Kind.TEXT` (`/me` actions too, with `action="me"`); joins, parts, quits, nick,
mode and topic changes, kicks and notices are `Kind.SERVICE`. A line is decoded on its own:
UTF-8, else cp1257 when it holds the Baltic letters š or ž, else cp1252 (Latin-1's superset),
so logs that mix charsets line by line lose none (counted as "line not UTF-8").
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport, Legacy, decode_line
from twinchat.data.readers.irc import file_date, looks_like_irc
from twinchat.data.readers.source import HEAD_BYTES, Source, base_name, label_parts
from twinchat.errors import TwinchatError

PLATFORM = "irc"
CHAT_TYPE = "irc_channel"
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}

_HMS = r"(?P<H>\d\d):(?P<M>\d\d)(?::(?P<S>\d\d))?"
_YMD = r"(?P<Y>\d{4})-(?P<Mo>\d\d)-(?P<D>\d\d)"
LAYOUTS: dict[str, re.Pattern[str]] = {
    "limnoria": re.compile(rf"{_YMD}T{_HMS}  (?P<body>.*)"),
    "weechat": re.compile(rf"{_YMD} {_HMS}\t(?P<body>.*)"),
    "iso": re.compile(rf"\[{_YMD}[T ]{_HMS}(?:\.\d+)?(?P<Z>Z|[+-]\d\d:?\d\d)?\] (?P<body>.*)"),
    "hexchat": re.compile(rf"(?P<mon>[A-Z][a-z]{{2}}) (?P<D>[ \d]\d) {_HMS} (?P<body>.*)"),
    "bracketed": re.compile(rf"\[{_HMS}\] (?P<body>.*)"),
    "irssi": re.compile(rf"{_HMS} (?P<body>.*)"),
}
# lines that give the date to layouts whose stamps have none (irssi, mIRC, HexChat)
_DAY_LINE = re.compile(
    r"(?:--- Log opened|--- Day changed|Session Start:|\*\*\*\* BEGIN LOGGING AT)"
    r" \w{3} (?P<mon>\w{3}) +(?P<D>\d{1,2})(?: [\d:]{8})? (?P<Y>\d{4})"
)
_MESSAGE = re.compile(r"<[@+%&~ ]?(?P<nick>[^>\s]+)>[ \t](?P<text>.*)")
_ACTION = re.compile(r"\*[ \t]+[@+%&~]?(?P<nick>[^\s*]+) (?P<text>.*)")
_EVENT_WORDS = re.compile(
    r"^\S+ (?:\([^)]*\) |<[^>]*> |\[[^\]]*\] )?(?:has (?:joined|left|quit|parted)|is now known as"
    r"|sets mode|changes topic|was kicked|has changed the topic|joined the channel"
    r"|left the channel|Quit\b|Part\b)|^(?:Joins|Parts|Quits|Now talking):|^Now talking in "
)
_TEXTUAL_ACTION = re.compile(r"• (?P<nick>[^\s:]+): (?P<text>.*)")
# lines about the session, not the channel: mIRC's and HexChat's
_META = ("Session ", "**** ENDING LOGGING", "**** BEGIN LOGGING")
_SERVICE_MARKS = ("-!- ", "*** ", "--> ", "<-- ", "--- ", "-->\t", "<--\t", "---\t", "=== ")
_NOTICE = re.compile(r"-(?P<nick>[^\s\-(]+)(?:\([^)]*\))?- (?P<text>.*)")
_WEECHAT_EVENTS = {"-->", "<--", "--", "=!=", ""}
_BALTIC = re.compile(rb"[\xd0\xf0\xde\xfe]")  # Š š Ž ž in cp1257; Ð ð Þ þ in cp1252


def _baltic_or_western(raw: bytes) -> str:
    """A line that is not UTF-8: cp1257 when it holds š or ž, else cp1252 (see the module)."""
    if _BALTIC.search(raw):
        return raw.decode("cp1257", errors="replace")
    return "".join(
        bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in raw
    )  # Latin-1 for the five bytes cp1252 leaves undefined


LEGACY: Legacy = (_baltic_or_western, "cp1257 or cp1252")


def layout_of(source: Source) -> str | None:
    """The layout most of a file's first 20 stamped lines have, if it is one of these."""
    try:
        head = source.head(HEAD_BYTES)
    except OSError:
        return None
    lines = [
        line.rstrip("\r")
        for line in head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").split("\n")
    ]
    if len(head) >= HEAD_BYTES:
        lines.pop()
    lines = [line for line in lines if line.strip() and not line.startswith(_META)][:20]
    if len(lines) < 2:
        return None
    for name, pattern in LAYOUTS.items():
        matches = [pattern.match(line) for line in lines]
        bodies = [m["body"] for m in matches if m]
        said = sum(1 for b in bodies if _MESSAGE.match(b) or (name == "weechat" and "\t" in b))
        if len(bodies) >= 0.8 * len(lines) and said:
            return name
    return None


def client_logs(sources: Sequence[Source]) -> list[tuple[Source, str]]:
    """The files among `sources` that are client logs, with their layouts."""
    found = []
    for source in sources[:200]:
        if looks_like_irc(source) and file_date(base_name(source.label)):
            continue  # the Ubuntu corpus's layout, which irc.py reads by its own rules
        layout = layout_of(source)
        if layout is not None:
            found.append((source, layout))
    return found


class IrcClientExport(FilesExport):
    """Opened client logs; iterate for messages, file by file in name order."""

    def __init__(self, logs: Sequence[tuple[Source, str]], label: str | None = None):
        ordered = sorted(logs, key=lambda item: item[0].label)
        self._layouts = {id(source): layout for source, layout in ordered}
        super().__init__(PLATFORM, [source for source, _ in ordered], self._read_log, label)

    def _read_log(
        self, source: Source, stream: io.BufferedReader, problems: Counter[str]
    ) -> Iterator[Message]:
        layout = self._layouts[id(source)]
        pattern = LAYOUTS[layout]
        chat = _channel_of(source.label)
        name = base_name(source.label)
        day: date | None = file_date(name)
        last: datetime | None = None
        for number, raw in enumerate(stream):
            line = decode_line(raw.rstrip(b"\r\n"), problems, LEGACY).removeprefix("\ufeff")
            if not line.strip():
                continue
            day_line = _DAY_LINE.match(line)
            if day_line:
                day = _date(day_line["Y"], day_line["mon"], day_line["D"]) or day
                continue
            if line.startswith(_META):
                continue
            match = pattern.match(line)
            if match is None:
                problems["unparsed line"] += 1
                continue
            moment = self._time(match, day, last)
            if moment is None:
                raise TwinchatError(
                    f"{source.label}: its lines have times but no date; rename it to start "
                    "with the date, e.g. 2024-01-31.log"
                )
            naive = moment.tzinfo is None and last is not None and last.tzinfo is None
            if naive and last is not None and moment < last - timedelta(hours=1):
                moment += timedelta(days=1)  # past midnight, and no line said so
                day = moment.date()
            last = moment
            message = self._message(
                match["body"], layout, moment, chat, f"{name}:{number}", problems
            )
            if message is not None:
                yield message

    def _time(
        self, match: re.Match[str], day: date | None, last: datetime | None
    ) -> datetime | None:
        groups = match.groupdict()
        if groups.get("Y"):
            day = _date(groups["Y"], groups["Mo"], groups["D"])
        elif groups.get("mon"):
            year = day.year if day else (last.year if last else None)
            day = _date(str(year), groups["mon"], groups["D"]) if year else None
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day, int(groups["H"]), int(groups["M"]))
        moment += timedelta(seconds=int(groups["S"] or 0))
        zone = groups.get("Z")
        if zone:
            sign = -1 if zone.startswith("-") else 1
            digits = zone.replace(":", "").lstrip("+-")
            offset = 0 if zone == "Z" else sign * (int(digits[:2]) * 60 + int(digits[2:]))
            moment = (moment - timedelta(minutes=offset)).replace(tzinfo=UTC)
        return moment

    def _message(
        self,
        body: str,
        layout: str,
        moment: datetime,
        chat: str,
        ident: str,
        problems: Counter[str],
    ) -> Message | None:
        sender, text, kind, action = None, body, Kind.TEXT, None
        if layout == "weechat" and "\t" in body:
            prefix, text = body.split("\t", 1)
            prefix = prefix.strip()
            if prefix in _WEECHAT_EVENTS:
                kind, action = Kind.SERVICE, "event"
            elif prefix == "*":
                action_match = _ACTION.match(f"* {text}")
                if action_match is None:
                    problems["unparsed line"] += 1
                    return None
                sender, text, action = action_match["nick"], action_match["text"], "me"
            else:
                sender = prefix.lstrip("@+%&~")
        elif said := _MESSAGE.match(body):
            sender, text = said["nick"], said["text"]
        elif body.startswith(_SERVICE_MARKS) or body.startswith(("-->", "<--", "---")):
            kind, action = Kind.SERVICE, "event"
            text = body.split(None, 1)[1] if " " in body or "\t" in body else ""
        elif act := _ACTION.match(body.lstrip()):
            rest = f"{act['nick']} {act['text']}"
            if _EVENT_WORDS.search(rest):  # mIRC writes joins as "* nick has joined #c"
                kind, action, text = Kind.SERVICE, "event", rest
            else:
                sender, text, action = act["nick"], act["text"], "me"
        elif textual := _TEXTUAL_ACTION.match(body):
            sender, text, action = textual["nick"], textual["text"], "me"
        elif _EVENT_WORDS.search(body):  # Textual: "kim (~kim@host) joined the channel"
            kind, action = Kind.SERVICE, "event"
        elif notice := _NOTICE.match(body):
            kind, action, sender, text = Kind.SERVICE, "notice", notice["nick"], notice["text"]
        else:
            problems["unparsed line"] += 1
            return None
        return Message(
            platform=PLATFORM,
            chat_id=chat,
            id=ident,
            timestamp=moment,
            sender=sender,
            text=text.rstrip(),
            kind=kind,
            chat_name=chat,
            chat_type=CHAT_TYPE,
            tz_known=moment.tzinfo is not None,
            sender_id=sender.lower() if sender else None,
            action=action,
        )


def _date(year: str, month: str, day: str) -> date | None:
    try:
        number = int(month) if month.isdigit() else MONTHS[month[:3].lower()]
        return date(int(year), number, int(day))
    except (KeyError, ValueError):
        return None


def _channel_of(label: str) -> str:
    """`#chan` from the file name (`#ubuntu.2024-01-31.log`, `#c_20240131.log`), else its
    folder's name (Limnoria and ZNC keep a folder a channel)."""
    parts = label_parts(label)
    match = re.search(r"(#[^\s._/\\]+)", parts[-1]) if parts else None
    if match:
        return match[1]
    return parts[-2] if len(parts) > 1 else Path(parts[-1]).stem
