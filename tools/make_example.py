"""Build the bundled example chat: real #ubuntu IRC logs as a Telegram Desktop single-chat export.

    python tools/make_example.py --corpus /work/shared/corpora/ubuntu-irc \
        --out src/twinchat/data/chats/ubuntu-irc.telegram.json --messages 4000

The corpus is the Ubuntu IRC part of jkkummerfeld/irc-disentanglement (CC-BY-4.0, Kummerfeld et
al., ACL 2019). Its `train/*.raw.txt` logs have one line per event:

* `[HH:MM] <nick> text`: a message. It becomes a Telegram `"type": "message"`.
* `[HH:MM]  * nick does x`: a `/me` action (later logs). It becomes the message `"does x"` from
  the nick (Telegram has no actions; the verb phrase reads fine after the sender's name).
* `=== nick [user@host] has joined #ubuntu` / `... has left #ubuntu [reason]` (early logs): a join
  or a quit. A few of them (only for people who also talk in the slice, at most `--service`)
  become Telegram service messages (`invite_members` / `remove_members`, actor = member), so the
  example exercises the service-message filters; the rest are dropped.
* `=== nick does x` (early logs, no `[host]`): a `/me` action, treated as above.
* `=== a is now known as b`, `=== mode/...`, `=== netjoined: ...`, kicks and topic changes: no
  message. (A renamed person keeps two nicks and so two display names; nothing links them.)

Choice of the slice (deterministic): runs of consecutive `train/` files, in name order, that hold
at least `--messages` messages, where every file is "clean" (every line is one of the kinds above:
this rules out the logs with spam floods and channel notices), has no clock wrap (see below) and
has joins or quits. Of those, the run with the shortest span of dates wins, then the fewest
files, then the earliest. The slice is the first `--messages` messages of that run, from the
start of its first file, and the joins and quits among them. `--start FILE` picks the first file
instead.

Times: the file's date plus `[HH:MM]`, as UTC. Lines in the same minute get seconds spread over
the minute in order (`i * 60 // k` for the i-th of k), so time never goes backwards; `===` lines,
which have no time, take the time of the line before. When HH:MM goes backwards inside a file the
clock wrapped: a day is added (midnight), except in logs whose hours never pass 12, which use a
12-hour clock with no am/pm (the 2004-2007 logs go `11:59` -> `00:00` or `12:59` -> `01:00`
mid-conversation): there 12 hours are added.

Nicks become display names (`display_name`): IRC decorations stripped (leading `@`/`+`, `|`, `_`,
`^`, backquotes and brackets as separators, trailing digits and dashes), camelCase split into
words, each word capitalised (`|QuaD-` -> `Quad`, `kleedrac` -> `Kleedrac`, `SealyDave` ->
`Sealy Dave`). The mapping is injective: a name already taken gets a number (`Foo2`); the most
active nicks are named first. Nicks compare case-insensitively, as on IRC. Message text is kept
as written, except that a nick addressed at the very start (`nick: ...` or `nick, ...`) is
replaced by its display name, IRC formatting control codes are removed, and in the 2004-2007
logs, which have a space added after every `]` (`<bur[n] er>` for `bur[n]er`), one space after
each `]` is taken back out.

The output is deterministic: same corpus, same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import json
import re
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

CHAT_NAME = "#ubuntu (IRC, CC-BY-4.0)"
CHAT_TYPE = "public_supergroup"

TIMED = re.compile(r"^\[(\d\d):(\d\d)\] (.*)$")
SAY = re.compile(r"^<([^>\s]+)> ?(.*)$")
ACTION = re.compile(r"^ ?\* (\S+) (.*)$")
JOIN = re.compile(r"^=== (\S+)\s+\[[^\]]*\]\s*has joined (#\S+)\s*$")
LEAVE = re.compile(r"^=== (\S+)\s+\[[^\]]*\]\s*has left (#\S+)")
RENAME = re.compile(r"^=== (\S+) is now known as (\S+)\s*$")
BRACKET_THEN_TEXT = re.compile(r"\][^ \n]")
SYSTEM = re.compile(
    r"^=== (mode/|netjoined:|netsplit|\.\.\[topic/|\S+ was kicked off |\S+\s+\[[^\]]*\]\s*has )"
)
ME_OLD = re.compile(r"^=== (\S+) (\S.*)$")
NICK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*$")
ADDRESS = re.compile(r"^([A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*)([:,])(?=\s|$)")
IRC_CODES = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x16\x1d\x1e\x1f]")
FILE_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)")


@dataclass
class Event:
    """One line of a log that matters: a message, an action, a join, a quit or a rename."""

    kind: str  # "say" | "join" | "leave" | "rename"
    nick: str
    text: str = ""
    minute: int = 0  # minutes since the start of the file's date (after clock wraps)
    day: date = field(default_factory=lambda: date(1970, 1, 1))
    new_nick: str = ""


@dataclass
class LogFile:
    path: Path
    day: date
    events: list[Event]
    odd_lines: int  # lines of no known kind (spam floods, notices, relayed messages)
    wraps: int  # times the clock went backwards
    twelve_hour: bool

    @property
    def messages(self) -> int:
        return sum(e.kind == "say" for e in self.events)

    @property
    def joins_and_quits(self) -> int:
        return sum(e.kind in ("join", "leave") for e in self.events)


def file_date(path: Path) -> date:
    match = FILE_DATE.match(path.name)
    if not match:
        raise ValueError(f"{path.name}: the file name does not start with a date")
    return date(int(match[1]), int(match[2]), int(match[3]))


def parse_log(path: Path) -> LogFile:
    text = path.read_text(encoding="utf-8", errors="replace")
    # The 2004-2007 logs have a space added after every `]` (`<bur[n] er>` for `bur[n]er`,
    # `zcat[1] : hi`, `[zero]  about`): there, no `]` is ever followed by anything but a space.
    # Take one space back out after each `]` of the line (past the `[HH:MM] ` stamp).
    spaced = "]  " in text and not BRACKET_THEN_TEXT.search(text)
    lines = text.splitlines()
    hours = [int(m[1]) for line in lines if (m := TIMED.match(line))]
    twelve_hour = bool(hours) and max(hours) <= 12
    wrap = 12 * 60 if twelve_hour else 24 * 60
    day = file_date(path)
    events: list[Event] = []
    odd = wraps = 0
    offset = 0
    previous: int | None = None
    first_timed = next((m for line in lines if (m := TIMED.match(line))), None)
    current = int(first_timed[1]) * 60 + int(first_timed[2]) if first_timed else 0
    for raw in lines:
        line = IRC_CODES.sub("", raw).rstrip()
        if not line:
            continue
        timed = TIMED.match(line)
        if timed:
            clock = int(timed[1]) * 60 + int(timed[2])
            if previous is not None and clock < previous:
                offset += wrap
                wraps += 1
            previous = clock
            current = clock + offset
            body = timed[3].replace("] ", "]") if spaced else timed[3]
            if said := SAY.match(body):
                events.append(Event("say", said[1], said[2], current))
            elif (act := ACTION.match(body)) and NICK.match(act[1]):
                events.append(Event("say", act[1], act[2].strip(), current))
            else:
                odd += 1
            continue
        if spaced:
            line = line.replace("] ", "]")
        if not line.startswith("==="):
            odd += 1
        elif joined := JOIN.match(line):
            events.append(Event("join", joined[1], minute=current))
        elif left := LEAVE.match(line):
            events.append(Event("leave", left[1], minute=current))
        elif renamed := RENAME.match(line):
            events.append(Event("rename", renamed[1], minute=current, new_nick=renamed[2]))
        elif SYSTEM.match(line):
            pass
        elif (me := ME_OLD.match(line)) and NICK.match(me[1]):
            events.append(Event("say", me[1], me[2].strip(), current))
        else:
            odd += 1
    for event in events:
        event.day = day
    events = [e for e in events if e.kind != "say" or e.text]
    return LogFile(path, day, events, odd, wraps, twelve_hour)


def choose_files(logs: list[LogFile], messages: int, start: str | None) -> list[LogFile]:
    """The run of consecutive logs the slice comes from (see the module docstring)."""
    if start is not None:
        names = [log.path.name for log in logs]
        if start not in names:
            raise SystemExit(f"--start {start}: no such file in train/")
        i = names.index(start)
        run, total = [], 0
        for log in logs[i:]:
            run.append(log)
            total += log.messages
            if total >= messages:
                break
        return run
    best: tuple[tuple[int, int, int], list[LogFile]] | None = None
    for i in range(len(logs)):
        run, total = [], 0
        for log in logs[i:]:
            if log.odd_lines or log.wraps or not log.joins_and_quits:
                break
            run.append(log)
            total += log.messages
            if total >= messages:
                break
        if total < messages:
            continue
        key = ((run[-1].day - run[0].day).days, len(run), i)
        if best is None or key < best[0]:
            best = (key, run)
    if best is None:
        raise SystemExit(f"no run of clean consecutive logs holds {messages} messages")
    return best[1]


def take_slice(run: list[LogFile], messages: int) -> list[Event]:
    """The first `messages` messages of the run, with the other events among them."""
    out: list[Event] = []
    said = 0
    for log in run:
        for event in log.events:
            if said >= messages:
                return out
            out.append(event)
            said += event.kind == "say"
    return out


def keep_service(events: list[Event], limit: int) -> list[Event]:
    """Messages, plus at most `limit` joins and quits of people who talk in the slice.

    A join is kept when the person talks after it, a quit when they talked before it; the kept
    ones are spread evenly over the candidates, half joins and half quits where possible.
    """
    later: set[str] = set()
    join_ok: set[int] = set()
    for idx in range(len(events) - 1, -1, -1):
        event = events[idx]
        if event.kind == "say":
            later.add(event.nick.casefold())
        elif event.kind == "join" and event.nick.casefold() in later:
            join_ok.add(idx)
    earlier: set[str] = set()
    leave_ok: set[int] = set()
    for idx, event in enumerate(events):
        if event.kind == "say":
            earlier.add(event.nick.casefold())
        elif event.kind == "leave" and event.nick.casefold() in earlier:
            leave_ok.add(idx)
    joins, leaves = sorted(join_ok), sorted(leave_ok)
    n_joins = min(len(joins), max(limit // 2, limit - len(leaves)))
    n_leaves = min(len(leaves), limit - n_joins)
    chosen = set(spread(joins, n_joins)) | set(spread(leaves, n_leaves))
    return [e for i, e in enumerate(events) if e.kind == "say" or i in chosen]


def spread(items: list[int], k: int) -> list[int]:
    """`k` items evenly spaced over `items`, first and last included."""
    if k <= 0:
        return []
    if k >= len(items):
        return list(items)
    if k == 1:
        return [items[len(items) // 2]]
    return [items[round(j * (len(items) - 1) / (k - 1))] for j in range(k)]


CAMEL = re.compile(r"(?<=[a-z]{2})(?=[A-Z][a-z])")
SEPARATORS = re.compile(r"[|_^`\[\]{}\\]+")


def display_name(nick: str) -> str:
    """A human-looking name for an IRC nick (not yet made unique)."""
    core = nick.lstrip("@+%&~")
    parts = [p.strip("-") for p in SEPARATORS.split(core)]
    parts = [p for p in parts if p]
    while parts:
        last = parts[-1].rstrip("0123456789_-")
        if last:
            parts[-1] = last
            break
        parts.pop()
    words = [w for p in parts for w in CAMEL.split(p) if w]
    name = " ".join(w[:1].upper() + w[1:].lower() for w in words)
    if not name:
        letters = "".join(ch for ch in nick if ch.isalnum())
        name = letters[:1].upper() + letters[1:].lower() if letters else "Anon"
    return name


def name_nicks(events: list[Event]) -> dict[str, str]:
    """Casefolded nick -> unique display name; the most active nicks are named first."""
    said: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for idx, event in enumerate(events):
        for nick in (event.nick, event.new_nick):
            if not nick:
                continue
            key = nick.casefold()
            first_seen.setdefault(key, idx)
            spelling.setdefault(key, nick)
        if event.kind == "say":
            said[event.nick.casefold()] += 1
    order = sorted(first_seen, key=lambda k: (-said[k], first_seen[k]))
    taken: set[str] = set()
    names: dict[str, str] = {}
    for key in order:
        base = display_name(spelling[key])
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base} {n}" if base[-1].isdigit() else f"{base}{n}"
        taken.add(name.casefold())
        names[key] = name
    return names


def user_ids(names: dict[str, str]) -> dict[str, str]:
    """Casefolded nick -> `user<int>`, stable: a CRC of the nick, bumped past any clash."""
    used: set[int] = set()
    ids: dict[str, str] = {}
    for key in sorted(names):
        number = 100_000_000 + zlib.crc32(f"ubuntu-irc:{key}".encode()) % 900_000_000
        while number in used:
            number += 1
        used.add(number)
        ids[key] = f"user{number}"
    return ids


def readdress(text: str, names: dict[str, str]) -> str:
    """Replace a nick addressed at the very start of the text by its display name."""
    match = ADDRESS.match(text)
    if match and len(match[1]) >= 2 and match[1].casefold() in names:
        return names[match[1].casefold()] + text[match.end(1) :]
    return text


def stamp(events: list[Event]) -> list[datetime]:
    """A UTC time for each event: its minute, with seconds spread in order within the minute."""
    minutes = [
        datetime(e.day.year, e.day.month, e.day.day) + timedelta(minutes=e.minute) for e in events
    ]
    times: list[datetime] = []
    i = 0
    while i < len(minutes):
        j = i
        while j < len(minutes) and minutes[j] == minutes[i]:
            j += 1
        k = j - i
        times.extend(minutes[i] + timedelta(seconds=n * 60 // k) for n in range(k))
        i = j
    for a, b in pairwise(times):
        if b < a:
            raise SystemExit(f"time goes backwards at {b.isoformat()}: pick other files")
    return times


def to_telegram(events: list[Event], names: dict[str, str]) -> dict[str, object]:
    ids = user_ids(names)
    messages: list[dict[str, object]] = []
    for n, (event, moment) in enumerate(zip(events, stamp(events), strict=True), start=1):
        key = event.nick.casefold()
        head: dict[str, object] = {
            "id": n,
            "type": "message" if event.kind == "say" else "service",
            "date": moment.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(calendar.timegm(moment.replace(tzinfo=UTC).utctimetuple())),
        }
        if event.kind == "say":
            text = readdress(event.text, names)
            head |= {
                "from": names[key],
                "from_id": ids[key],
                "text": text,
                "text_entities": [{"type": "plain", "text": text}],
            }
        else:
            head |= {
                "actor": names[key],
                "actor_id": ids[key],
                "action": "invite_members" if event.kind == "join" else "remove_members",
                "members": [names[key]],
                "text": "",
                "text_entities": [],
            }
        messages.append(head)
    chat_id = zlib.crc32(CHAT_NAME.encode()) % 1_000_000_000 + 1_000_000_000
    return {"name": CHAT_NAME, "type": CHAT_TYPE, "id": chat_id, "messages": messages}


def build(corpus: Path, messages: int, service: int, start: str | None = None) -> dict:
    """The export as a dict, plus a `_report` key (removed before writing) describing it."""
    paths = sorted((corpus / "train").glob("*.raw.txt"))
    if not paths:
        raise SystemExit(f"{corpus}/train has no *.raw.txt logs")
    logs = [parse_log(p) for p in paths]
    run = choose_files(logs, messages, start)
    sliced = take_slice(run, messages)
    names = name_nicks(sliced)
    kept = keep_service(sliced, service)
    export = to_telegram(kept, names)
    texts = [m for m in export["messages"] if m["type"] == "message"]
    export["_report"] = {
        "files": [log.path.name for log in run],
        "messages": len(texts),
        "service": len(export["messages"]) - len(texts),
        "senders": len({m["from_id"] for m in texts}),
        "names": names,
        "first": export["messages"][0]["date"] if export["messages"] else None,
        "last": export["messages"][-1]["date"] if export["messages"] else None,
    }
    return export


def dumps(export: dict) -> str:
    body = {k: v for k, v in export.items() if not k.startswith("_")}
    return json.dumps(body, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the ubuntu-irc corpus folder")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--messages", type=int, default=4000, help="text messages to take")
    parser.add_argument(
        "--service", type=int, default=40, help="most join/quit service messages to keep"
    )
    parser.add_argument("--start", help="first log file (a name in train/); default: chosen")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    export = build(args.corpus, args.messages, args.service, args.start)
    report = export["_report"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(export), encoding="utf-8")
    size = args.out.stat().st_size
    print(
        f"{args.out}: {report['messages']} messages + {report['service']} service, "
        f"{report['senders']} senders, {report['first']} .. {report['last']}, "
        f"from {', '.join(report['files'])}; {size:,} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
