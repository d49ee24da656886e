"""Chats a user made into a table: CSV or TSV, JSON Lines, or a JSON array of objects.

One row is one message. Which column holds what is the user's mapping (`parse_columns`,
`--columns sender=author,text=body,time=date`), else it is guessed from the header names
(`GUESSES`, compared case-insensitively without spaces, `_`, `-` and `.`). The fields:
`sender` and `text` (required), `time`, `chat`, `id`, `reply_to`, `sender_id`, `kind`. A
mapping names sender and text; the fields it leaves out are guessed from the other columns, and
`field=` (nothing after `=`) says the table has none. A column written `date+time` is the two
columns joined by a space; the guess makes it when there are a `date` and a `time` column but
no `timestamp`, `datetime`, `sent_at` or `created_at`. In JSON a column may be a dotted path
into nested objects (`sender=author.name`). Column names cannot hold a `,`.

Files, by name: `.csv` and `.tsv`, CSV read with the csv module: the delimiter is whichever of
`,` `;` tab `|` splits the first rows into the same number of fields, more than one (ties go to
tab in a `.tsv`, else in that order); `"` quotes, `""` is a quote inside, and quoted fields may
span lines (`\\r\\n` or `\\r` inside a field becomes `\\n`); lines may end with `\\n`, `\\r\\n` or,
in a file with no `\\n`, `\\r`. The first row is the header. A row with more fields than the
header (unless the extra ones are empty) or fewer is skipped and counted in `problems`, and so
is a row the csv module's strict mode rejects (a quote left open swallows the lines up to the
end or to its 128 KiB limit, and counts as one); blank lines are skipped. Text is UTF-8,
with or without a byte-order mark; a line that is not UTF-8 is read as cp1252 and counted; a
file that starts with a UTF-16 byte-order mark (Excel's "Unicode text") is read as UTF-16.
`.jsonl` and `.ndjson`: one object per line; a line that is not JSON, or not an object, is
counted and skipped, and one not UTF-8 is read as cp1252 and counted. `.json`: an array of
objects, streamed with ijson (its items that are not objects are counted); a `.json` holding
objects one per line is read as JSON Lines. In JSON the header is the first object's keys (a
key a later row lacks is read as empty). A JSON array must be UTF-8: one that is not, or that
breaks off, is a `TwinchatError`. A file with another name is read by its first character: `[`
a JSON array, `{` JSON Lines, else CSV. An empty file is a `TwinchatError`. Files are streamed:
memory holds a row, the last time of each chat, and nothing else that grows with the file.

Values: text as written (numbers written as text, lists and objects as JSON, counted); empty
text is kept as "" and the builder drops it. Sender, chat, ids are trimmed, empty ones None;
a JSON list or object there is left out, counted (a first row whose sender or text is an object
is a `TwinchatError` that names the keys inside, to map one as `sender=author.name`).
`kind` is one of `Kind`'s values (any case), empty for text; another value is `Kind.OTHER`,
counted. Times (`read_time`):

* ISO 8601, as `datetime.fromisoformat` reads it (`2024-03-01T09:15:00Z`, `2024-03-01 09:15`,
  `2024-03-01`); a trailing ` UTC` or ` GMT` is a zone. With a zone: aware UTC; without: naive,
  `tz_known=False`.
* A number: seconds since 1970 (UTC), or milliseconds, microseconds or nanoseconds when it is
  too large to be seconds (at or past 10^11, 10^14, 10^17).
* `2024/03/01 09:15`, `2024-3-1 9:15` (year first), and `01/03/2024 09:15`, `01.03.24 9:15 PM`
  (day and month in either order, 2- or 4-digit year, optional seconds and AM/PM), all naive.
  The order of day and month is the `date_order` given, else read from the whole file the first
  time such a date appears (`dates.infer_order`): a number above 12 first means day first,
  second means month first (both: the majority, counted as "date order inconsistent"); when
  nothing decides, it is guessed, counted as "date order guessed": month first for `/` dates
  with 2-digit years (US habits), else day first. ISO dates are the ones to prefer.
* Anything else (month names, RFC 2822...), and dates before 1971 or after 9000: the message is
  kept with no time (the builder drops it, as "no date") and counted as "unreadable time".

Messages come in file order: a table is what its user made, so it is not sorted. A row whose
time is before the one above it in the same chat is counted ("time goes backwards"). Chats: the
`chat` column's value, else the file's name without its extension; ids: the `id` column's, else
the row's number (1 for the first row after the header). Platform and format: "table".

Finding a table (`find_table`): a `.csv`, `.tsv`, `.jsonl` or `.ndjson` file by its name alone,
and a `.json` file that holds an array whose first object has a sender and a text (by the
mapping, else by the guesses); never `data.json` (Signal's, JSON Lines of {date, sender, body}),
`result.json` (Telegram's, an object), Slack's `channels.json`, `users.json`... nor a Slack day
file (objects with `type` "message" and `ts`). It is claimed when it is the one table among the
files: the file the user named, or the only table in their folder or zip; with several, none is.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import ijson
import orjson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.dates import DateFields, check_order, in_order, infer_order
from twinchat.data.readers.files import CountingStream
from twinchat.data.readers.source import Source, base_name, first_line
from twinchat.errors import TwinchatError

PLATFORM = "table"
FIELDS = ("sender", "text", "time", "chat", "id", "reply_to", "sender_id", "kind")
REQUIRED = ("sender", "text")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
SNIFF_ROWS = 50
JSON_SCAN_FILES = 50  # .json files looked into when searching a folder for a table
# app exports that are JSON arrays or JSON Lines named .json, which a table reader must not take:
# Telegram, Signal (signal-export's JSON Lines), Slack's lists of channels and users
OTHER_EXPORTS = frozenset(
    {
        "result.json",
        "data.json",
        "channels.json",
        "users.json",
        "org_users.json",
        "groups.json",
        "dms.json",
        "mpims.json",
        "integration_logs.json",
        "canvases.json",
    }
)

# header names each field is guessed from, normalized by `_normal`, most telling first
GUESSES: dict[str, tuple[str, ...]] = {
    "sender": ("sender", "author", "from", "user", "name", "sendername", "username", "nick"),
    "text": ("text", "message", "body", "content", "messagetext", "msg"),
    "time": ("timestamp", "datetime", "sentat", "createdat", "time", "date"),
    "chat": ("chat", "channel", "conversation", "thread", "chatname", "channelname", "room"),
    "id": ("id", "messageid", "msgid"),
    "reply_to": ("replyto", "replytoid", "replytomessageid", "inreplyto", "parent", "parentid"),
    "sender_id": ("senderid", "authorid", "userid", "fromid"),
    "kind": ("kind",),
}
_SPLIT_TIME = ("date", "time")  # two columns a time is joined from, when none holds both
_FULL_TIME = ("timestamp", "datetime", "sentat", "createdat")


class DateOrderUnknown(ValueError):
    """A day-and-month date met before the file's date order is known."""


def parse_columns(text: str) -> dict[str, str]:
    """A user's mapping `field=column,...` as {field: column}; `field=` maps to "" (none).

    Raises:
        TwinchatError: a part without `=`, an unknown or repeated field, or no sender or text.
    """
    usage = f"fields: {', '.join(FIELDS)}; e.g. --columns sender=author,text=body,time=date"
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, equals, column = part.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            raise TwinchatError(
                f"column mapping part '{part.strip()}' is not field=column; {usage}"
            )
        if name not in FIELDS:
            raise TwinchatError(f"unknown field '{name}' in the column mapping; {usage}")
        if name in mapping:
            raise TwinchatError(f"field '{name}' is mapped twice; {usage}")
        mapping[name] = column.strip()
    missing = [name for name in REQUIRED if not mapping.get(name)]
    if missing:
        raise TwinchatError(
            f"the column mapping needs {' and '.join(missing)} (which columns hold who wrote "
            f"and what); {usage}"
        )
    return mapping


def guess_columns(columns: Iterable[str], given: dict[str, str] | None = None) -> dict[str, str]:
    """{field: column} for the fields `given` leaves out, guessed from the header names; a
    field found nowhere is left out. `date+time` joins two columns (see the module docstring)."""
    given = dict(given or {})
    names = list(columns)
    taken = {part for column in given.values() for part in column.split("+")}
    by_normal: dict[str, str] = {}
    for name in names:
        if name not in taken:
            by_normal.setdefault(_normal(name), name)
    guessed: dict[str, str] = {}
    for name in FIELDS:
        if name in given:
            continue
        if name == "time" and _split_time(by_normal):
            date, time = (by_normal.pop(n) for n in _SPLIT_TIME)
            guessed[name] = f"{date}+{time}"
            continue
        for candidate in GUESSES[name]:
            if candidate in by_normal:
                guessed[name] = by_normal.pop(candidate)
                break
    chosen = {**guessed, **{k: v for k, v in given.items() if v}}
    return {name: chosen[name] for name in FIELDS if name in chosen}


def _split_time(by_normal: dict[str, str]) -> bool:
    """Whether a time is to be joined from a date and a time column."""
    split = all(n in by_normal for n in _SPLIT_TIME)
    return split and not any(n in by_normal for n in _FULL_TIME)


def read_time(value: Any, order: str | None = None) -> tuple[datetime | None, bool]:
    """(timestamp, tz_known) of a time cell; (None, False) when it is empty.

    Raises:
        ValueError: the value is no time this reader knows (see the module docstring).
        DateOrderUnknown: a day-and-month date, and `order` is None.
    """
    if value is None:
        return None, False
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, (int, float)):
        return _plausible(_from_epoch(value)), True
    text = str(value).strip()
    if not text:
        return None, False
    if len(text) >= 10 and text[4] == "-" and text[:4].isdigit():  # ISO, by far the most common
        try:
            return _settled(datetime.fromisoformat(text))
        except ValueError:
            pass
    if _NUMBER.fullmatch(text):
        number = float(text) if "." in text else int(text)
        return _plausible(_from_epoch(number)), True
    text, utc = _zone_word(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _day_month(text, order)
    if utc and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _settled(moment)


def _settled(moment: datetime) -> tuple[datetime, bool]:
    """A plausible time as a message holds it: aware in UTC, or naive (tz_known False)."""
    moment = _plausible(moment)
    if moment.tzinfo is None:
        return moment, False
    return moment.astimezone(UTC), True


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ZONE_WORD = re.compile(r"\s*\b(?:UTC|GMT)$", re.IGNORECASE)
_DATE_TIME = re.compile(
    r"(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?"
    r"(?:,?(?:\s+|T)(?P<h>\d{1,2}):(?P<mi>\d\d)(?::(?P<s>\d\d)(?:[.,](?P<f>\d{1,6})\d*)?)?"
    r"\s*(?P<ap>[AaPp]\.?\s?[Mm]\.?)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _zone_word(text: str) -> tuple[str, bool]:
    stripped = _ZONE_WORD.sub("", text)
    return stripped, stripped != text


def _from_epoch(number: float) -> datetime:
    """Seconds, or milli-, micro- or nanoseconds when too large for seconds, since 1970."""
    scale = 1
    for limit in (10**11, 10**14, 10**17):
        if abs(number) >= limit:
            scale *= 1000
    try:
        if isinstance(number, int):
            return _EPOCH + timedelta(microseconds=number * 1_000_000 // scale)
        return datetime.fromtimestamp(number / scale, UTC)
    except (OverflowError, OSError) as err:
        raise ValueError(f"{number} is no time") from err


def _day_month(text: str, order: str | None) -> datetime:
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"unreadable time {text!r}")
    a, b, c = match.group("a", "b", "c")
    if len(a) == 4:
        order = "ymd"
    elif order != "ymd" and len(c) not in (2, 4):
        raise ValueError(f"no year in {text!r}")
    elif order is None:
        raise DateOrderUnknown(text)
    year, month, day = in_order(a, b, c, order)
    hour = int(match["h"] or 0)
    meridiem = match["ap"]
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {meridiem}")
        hour = hour % 12 + (12 if meridiem[0] in "pP" else 0)
    return datetime(
        int(year) + (2000 if len(year) == 2 else 0),
        int(month),
        int(day),
        hour,
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int((match["f"] or "0").ljust(6, "0")),
    )


def _plausible(moment: datetime) -> datetime:
    if not 1971 <= moment.year <= 9000:
        raise ValueError(f"{moment.isoformat()} is not a plausible message date")
    return moment


# --- finding a table among the files a user named --------------------------------------------


def table_files(
    candidates: Iterable[Source], columns: dict[str, str] | None = None
) -> list[Source]:
    """The candidates that are tables: by their suffix, and `.json` arrays of message-like
    objects that no known app writes (`looks_like_table_json`). Stops at the second."""
    found: list[Source] = []
    scanned = 0
    for source in candidates:
        name = base_name(source.label).lower()
        if name.endswith(TABLE_SUFFIXES):
            found.append(source)
        elif name.endswith(".json") and scanned < JSON_SCAN_FILES:
            scanned += 1
            if looks_like_table_json(source, columns):
                found.append(source)
        if len(found) > 1:
            break
    return found


def find_table(candidates: list[Source], columns: dict[str, str] | None = None) -> Source | None:
    """The table to read: the one table file among the candidates (the file a user named, or
    the only one in their folder or zip); None when there is none, or several."""
    found = table_files(candidates, columns)
    return found[0] if len(found) == 1 else None


def looks_like_table_json(source: Source, columns: dict[str, str] | None = None) -> bool:
    """Whether a `.json` file is an array whose first object has a sender and a text (by the
    mapping, else by `GUESSES`), and is not a known app's file: Telegram's `result.json` and
    Signal's `data.json` by name, Slack's day files by their `type` and `ts`."""
    if base_name(source.label).lower() in OTHER_EXPORTS:
        return False
    try:
        if not source.head(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            return False
        with source.open() as raw:
            first = next(ijson.items(CountingStream(raw), "item"), None)
    except (ijson.JSONError, UnicodeDecodeError, OSError, ValueError):
        return False
    if not isinstance(first, dict) or ("ts" in first and first.get("type") == "message"):
        return False
    if columns:
        return all(_find(columns.get(name, ""), list(first), first) for name in REQUIRED)
    guessed = guess_columns(first)
    return all(name in guessed for name in REQUIRED)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What one pass through the file counts: its problems and the bytes read."""

    problems: Counter[str]
    read: int = 0


class _Columns:
    """Where each field's value is in a row: column indices (CSV) or keys (JSON)."""

    def __init__(self, places: dict[str, list[Any]]):
        self.places = places
        self._single = [(name, spots[0]) for name, spots in places.items() if len(spots) == 1]
        self._joined = [(name, spots) for name, spots in places.items() if len(spots) > 1]

    def values(self, row: Any) -> dict[str, Any]:
        """The fields of a row; a CSV row has at least as many fields as the header."""
        if isinstance(row, dict):
            return {name: _json_value(row, keys) for name, keys in self.places.items()}
        values = {name: row[i] for name, i in self._single}
        for name, spots in self._joined:
            values[name] = " ".join(row[i] for i in spots)
        return values


class TableExport:
    """An opened table of messages; iterate it for messages, in file order."""

    format = PLATFORM

    def __init__(
        self,
        source: Source,
        columns: dict[str, str] | None = None,
        date_order: str | None = None,
    ):
        """`columns`: the user's mapping (`parse_columns`), None to guess every field from the
        header; `date_order`: "dmy", "mdy" or "ymd" for day-and-month dates, None to infer it.

        Raises:
            TwinchatError: a mapping without sender or text, or an unknown date order.
        """
        check_order(date_order)
        if columns is not None:
            unknown = sorted(set(columns) - set(FIELDS))
            missing = [name for name in REQUIRED if not columns.get(name)]
            if unknown or missing:
                raise TwinchatError(
                    f"the column mapping needs sender and text and knows only the fields "
                    f"{', '.join(FIELDS)}; e.g. --columns sender=author,text=body,time=date"
                )
        self.source = source
        self.columns = dict(columns) if columns is not None else None
        self.date_order = date_order
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self.mapping: dict[str, str] = {}  # the fields' columns, once the header is read
        self._tally = _Tally(self.problems)
        self._order = date_order
        self._delimiter: str | None = None
        name = base_name(source.label)
        self._stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name

    @property
    def bytes_read(self) -> int:
        return self._tally.read

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self._tally = _Tally(self.problems)
        self._order = self.date_order
        last: dict[str, float | None] = {}  # chat -> epoch of its last dated message
        self.chats = 0
        for number, values in self._records(self._tally):
            message = self._message(number, values)
            if message.chat_id not in last:
                last[message.chat_id] = None
                self.chats = len(last)
            epoch, before = message.epoch, last[message.chat_id]
            if epoch is not None:
                if before is not None and epoch < before:
                    self.problems["time goes backwards (file order kept)"] += 1
                last[message.chat_id] = epoch
            yield message

    def _message(self, number: int, values: dict[str, Any]) -> Message:
        timestamp, tz_known = self._time(values.get("time"))
        chat = self._cell(values, "chat") or self._stem
        return Message(
            platform=PLATFORM,
            chat_id=chat,
            chat_name=chat,
            id=self._cell(values, "id") or str(number),
            timestamp=timestamp,
            tz_known=tz_known,
            sender=self._cell(values, "sender"),
            sender_id=self._cell(values, "sender_id"),
            text=self._text(values.get("text")),
            kind=self._kind(self._cell(values, "kind")),
            reply_to=self._cell(values, "reply_to"),
        )

    def _time(self, value: Any) -> tuple[datetime | None, bool]:
        try:
            try:
                return read_time(value, self._order)
            except DateOrderUnknown:
                self._order = self._survey_order()
                return read_time(value, self._order)
        except ValueError:
            self.problems["unreadable time"] += 1
            return None, False

    def _survey_order(self) -> str:
        """The order of day and month in the file's dates (`dates.infer_order`)."""
        dates = DateFields()
        for _, values in self._records(_Tally(Counter())):
            value = values.get("time")
            if not isinstance(value, str):
                continue
            match = _DATE_TIME.fullmatch(_zone_word(value.strip())[0])
            # a year first is read as such, whatever the order of the others
            if match is not None and len(match["a"]) <= 2:
                dates.add(*match.group("a", "b", "c", "sep"))
        order, problem = infer_order(dates)
        if problem:
            self.problems[problem] += dates.dates
        return order

    def _cell(self, values: dict[str, Any], name: str) -> str | None:
        value = values.get(name)
        if value is None or isinstance(value, str):
            return (value or "").strip() or None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (int, float)):
            return str(value)
        self.problems[f"{name} is not text (left out)"] += 1
        return None

    def _text(self, value: Any) -> str:
        if isinstance(value, str):
            return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
        if value is None:
            return ""
        if isinstance(value, (bool, int, float)):
            return orjson.dumps(value).decode()
        self.problems["text is not text (kept as JSON)"] += 1
        return orjson.dumps(value).decode()

    def _kind(self, value: str | None) -> Kind:
        if value is None:
            return Kind.TEXT
        try:
            return Kind(value.lower())
        except ValueError:
            self.problems["unknown kind (read as other)"] += 1
            return Kind.OTHER

    # --- rows ---------------------------------------------------------------------------------

    def _records(self, tally: _Tally) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row number, {field: raw value}) of each row, in file order."""
        name = base_name(self.source.label).lower()
        head = self.source.head(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head:
            raise TwinchatError(f"{self.source.label} is empty; export the table again")
        if name.endswith((".csv", ".tsv")):
            yield from self._csv_records(tally)
        elif name.endswith((".jsonl", ".ndjson")) or head.startswith(b"{"):
            yield from self._json_lines_records(tally)
        elif head.startswith(b"[") or name.endswith(".json"):
            yield from self._json_array_records(tally)
        else:
            yield from self._csv_records(tally)

    def _csv_records(self, tally: _Tally) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.source.open() as raw:
            lines = self._text_lines(raw, tally)
            reader = csv.reader(lines, delimiter=self._sniff(), strict=True)
            try:
                header = next(reader, None)
            except csv.Error as err:
                raise TwinchatError(
                    f"{self.source.label}: its header row is not CSV ({err}); save it as CSV again"
                ) from None
            if header is None:  # blank lines only
                raise TwinchatError(f"{self.source.label} is empty; export the table again")
            columns = self._resolve([column.strip() for column in header], header)
            width = len(header)
            number = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    tally.problems["unreadable row"] += 1
                    continue
                if not row:
                    continue
                if len(row) != width and (len(row) < width or any(row[width:])):
                    tally.problems["row with the wrong number of fields"] += 1
                    continue
                number += 1
                yield number, columns.values(row)

    def _text_lines(self, raw: BinaryIO, tally: _Tally) -> Iterator[str]:
        """The file's lines, decoded (see the module docstring), each with its line end."""
        if self.source.head(2) in _UTF16_BOMS:
            for line in io.TextIOWrapper(raw, encoding="utf-16", newline=""):
                tally.read += 2 * len(line)  # near enough for progress
                yield line
            return
        head = self.source.head(SNIFF_BYTES)
        old_mac = b"\r" in head and b"\n" not in head  # lines ended by CR alone
        first = True
        for line in _cr_lines(raw) if old_mac else raw:
            tally.read += len(line)
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError:
                decoded = line.decode("cp1252", errors="replace")
                tally.problems["line not UTF-8 (read as cp1252)"] += 1
            if first:
                decoded = decoded.removeprefix("\ufeff")
                first = False
            yield decoded

    def _sniff(self) -> str:
        """The delimiter that splits the first rows alike into the most fields."""
        if self._delimiter is not None:
            return self._delimiter
        data = self.source.head(SNIFF_BYTES)
        if data[:2] in _UTF16_BOMS:
            text = data[: len(data) // 2 * 2].decode("utf-16", errors="replace")
        else:
            text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        lines = text.splitlines(keepends=True)
        if len(data) >= SNIFF_BYTES and len(lines) > 1:
            lines.pop()  # probably cut short
        order = DELIMITERS
        if base_name(self.source.label).lower().endswith(".tsv"):
            order = ("\t", *(d for d in DELIMITERS if d != "\t"))
        best, best_score = order[0], (0.0, 0)
        for delimiter in order:
            try:
                rows = [r for r in csv.reader(lines, delimiter=delimiter) if r][:SNIFF_ROWS]
            except csv.Error:
                continue
            if not rows or len(rows[0]) < 2:
                continue
            width = len(rows[0])
            score = (sum(len(r) == width for r in rows) / len(rows), width)
            if score > best_score:
                best, best_score = delimiter, score
        self._delimiter = best
        return best

    def _json_array_records(self, tally: _Tally) -> Iterator[tuple[int, dict[str, Any]]]:
        label = self.source.label
        columns: _Columns | None = None
        number = 0
        with CountingStream(self.source.open()) as stream:
            try:
                for item in ijson.items(stream, "item", use_float=True):
                    tally.read = stream.position
                    if not isinstance(item, dict):
                        tally.problems["item not a JSON object"] += 1
                        continue
                    if columns is None:
                        columns = self._resolve(list(item), item)
                    number += 1
                    yield number, columns.values(item)
            except ijson.JSONError as err:
                raise TwinchatError(
                    f"{label} is not valid JSON near byte {stream.position:,} "
                    f"({first_line(err)}); the file may be cut short: export it again"
                ) from None
            except UnicodeDecodeError as err:
                raise TwinchatError(
                    f"{label} is not valid UTF-8 near byte {stream.position:,} ({err.reason}); "
                    "save it as UTF-8"
                ) from None
            tally.read = stream.position

    def _json_lines_records(self, tally: _Tally) -> Iterator[tuple[int, dict[str, Any]]]:
        columns: _Columns | None = None
        number = 0
        with self.source.open() as raw:
            for line in raw:
                tally.read += len(line)
                if number == 0:
                    line = line.removeprefix(b"\xef\xbb\xbf")
                if not line.strip():
                    continue
                item = _json_line(line, tally.problems)
                if item is None:
                    continue
                if not isinstance(item, dict):
                    tally.problems["line not a JSON object"] += 1
                    continue
                if columns is None:
                    columns = self._resolve(list(item), item)
                number += 1
                yield number, columns.values(item)

    def _resolve(self, names: list[str], row: Any) -> _Columns:
        """Where each field is, from the header (`names`; a JSON table's first object is
        `row`); sets `mapping`.

        Raises:
            TwinchatError: no sender or text column, or a mapped column the table lacks.
        """
        label = self.source.label
        shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "") or "(none)"
        mapping = guess_columns(names, self.columns)
        missing = [name for name in REQUIRED if name not in mapping]
        if missing:
            raise TwinchatError(
                f"{label}: found no {' or '.join(missing)} column among its columns ({shown}); "
                f"name them with --columns sender=...,text=... (fields: {', '.join(FIELDS)})"
            )
        places: dict[str, list[Any]] = {}
        for name, column in mapping.items():
            parts = _find(column, names, row if isinstance(row, dict) else None)
            if parts is None:
                if isinstance(row, dict) and name not in REQUIRED:
                    parts = [column]  # a key the first object may just have left out
                else:
                    raise TwinchatError(
                        f"{label}: no column '{column}' for {name}; its columns: {shown}"
                    )
            if isinstance(row, dict):
                value = _json_value(row, parts)
                if name in REQUIRED and isinstance(value, dict):
                    inside = ", ".join(f"{column}.{key}" for key in list(value)[:10])
                    raise TwinchatError(
                        f"{label}: '{column}' holds objects, not {name}s; name the key inside "
                        f"with --columns, e.g. {name}={column}.name (keys: {inside})"
                    )
                places[name] = parts
            else:
                places[name] = [names.index(part) for part in parts]
        self.mapping = {name: "+".join(_part_names(places[name], names)) for name in places}
        return _Columns(places)


def _cr_lines(raw: BinaryIO) -> Iterator[bytes]:
    """The lines of a file whose lines end with a CR alone (old Mac Excel), each with its CR."""
    rest = b""
    while chunk := raw.read(1 << 16):
        lines = (rest + chunk).split(b"\r")
        rest = lines.pop()
        for line in lines:
            yield line + b"\r"
    if rest:
        yield rest


def _part_names(spots: list[Any], names: list[str]) -> list[str]:
    return [names[spot] if isinstance(spot, int) else str(spot) for spot in spots]


def _find(column: str, names: list[str], row: dict[str, Any] | None) -> list[str] | None:
    """The header names a mapped column stands for: itself, or the parts of `a+b`; names match
    case-insensitively when they do not exactly, and in JSON a dotted path may reach inside."""

    def one(name: str) -> str | None:
        if name in names:
            return name
        folded = [n for n in names if n.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0]
        if row is not None and "." in name and _has(row, name):
            return name
        return None

    found = one(column)
    if found is not None:
        return [found]
    if "+" in column:
        parts = [one(part.strip()) for part in column.split("+")]
        found_parts = [part for part in parts if part is not None]
        if len(found_parts) == len(parts):
            return found_parts
    return None


def _has(row: dict[str, Any], key: str) -> bool:
    return bool(key) and _lookup(row, key) is not _MISSING


_MISSING = object()


def _lookup(row: dict[str, Any], key: str) -> Any:
    if key in row:
        return row[key]
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _json_value(row: dict[str, Any], keys: list[str]) -> Any:
    values = [_lookup(row, key) for key in keys]
    values = [None if value is _MISSING else value for value in values]
    if len(values) == 1:
        return values[0]
    return " ".join("" if value is None else str(value) for value in values)


def _json_line(line: bytes, problems: Counter[str]) -> Any:
    """One JSON Lines record, or None (counted) when it is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        try:
            value = orjson.loads(line.decode("cp1252", errors="replace"))
        except orjson.JSONDecodeError:
            problems["line not valid JSON"] += 1
            return None
        problems["line not UTF-8 (read as cp1252)"] += 1
        return value
    problems["line not valid JSON"] += 1
    return None


def _normal(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name.casefold())


__all__ = [
    "FIELDS",
    "TableExport",
    "find_table",
    "guess_columns",
    "looks_like_table_json",
    "parse_columns",
    "read_time",
    "table_files",
]
