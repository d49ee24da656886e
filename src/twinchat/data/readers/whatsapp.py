"""WhatsApp's "Export chat" text file: Android's `WhatsApp Chat with X.txt`, iOS's `_chat.txt`.

Read as ../shared/reference/formats.md §2 describes it. A line that starts with the file's
header (`date, time - ` on Android, `[date, time] ` on iOS) starts a message; every other line
continues the one before. The day/month order of a date cannot be read from one line, so the
file is streamed twice: a survey learns the header layout, the date order and which sender is
the group itself (new iOS exports write the group's system lines under its name), then the
messages are read. Memory holds those statistics and one message, whatever the file's size.

WhatsApp writes its own texts (placeholders, system lines) in the phone's language. Signals
that need no language come first: iOS marks each of its own texts with U+200E (U+200F in
right-to-left languages) and the whole line of an attachment too, and Android writes a medium
as one text in angle brackets. The tables of whatsapp_texts.py say which kind a text is: omitted
media, deletions, missed calls and security-code notices in every language of the apps, and
system lines, calls, edits and attachments in English, German, Spanish, French, Portuguese,
Italian, Dutch and Russian.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from twinchat.data.message import Kind, Message
from twinchat.data.readers import whatsapp_texts as texts
from twinchat.data.readers.dates import (
    DateFields,
    check_order,
    gregorian,
    in_order,
    infer_order,
)
from twinchat.data.readers.source import Source, label_parts
from twinchat.errors import TwinchatError

PLATFORM = "whatsapp"
MAX_SENDERS = 100_000  # bounds the survey's memory on files whose lines split oddly
LONGEST_OWN_TEXT = 1000  # WhatsApp's placeholders and system lines are shorter; users' may not be

# Marks WhatsApp puts around names and before its own texts (formats.md §2.4): byte-order mark,
# left-to-right and right-to-left marks, bidi embeddings and isolates around phone numbers.
MARKS = "\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
LRM = "\u200e"
# iOS puts a left-to-right mark (a right-to-left one in Arabic, Hebrew, Persian, Urdu) before
# every text WhatsApp writes itself, and before the whole line of an attachment: the signal
# that needs no language, read before any table.
OWN = ("\u200e", "\u200f")
_UNMARK = str.maketrans({**dict.fromkeys(MARKS), "\u00a0": " ", "\u202f": " "})
_MARKED = re.compile(f"[{MARKS}\u00a0\u202f]")

# --- the header -----------------------------------------------------------------------------

_INV = "[\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069]*"
_SP = "[ \u00a0\u202f]"  # NBSP inside "p. m.", NNBSP before "PM" since 2023
_PERIOD_WORDS = "|".join(re.escape(w) for w in sorted(texts.DAY_PERIODS, key=len, reverse=True))
_MERIDIEM = f"{_SP}?(?P<ap>[AaPp]\\.?{_SP}?[Mm]\\.?|(?i:{_PERIOD_WORDS}))"
# ", " mostly; " " (nl, hu); " klo " (fi); "، " (ar)
_JOIN = f"(?:[,\u060c]{_SP}?|{_SP})(?:klo{_SP})?"
# The phone's calendar shows in the year: the Japanese one writes an era and its year
# (`3/18/R4`: Reiwa 4, 2022), the Buddhist one a year 543 ahead, in English with "BE" after it
# (`3/18/2565 BE`); Gregorian years are plain.
_ERA = "(?P<era>[MTSHR])?"
_BUDDHIST_ERA = f"(?:{_SP}B\\.?E\\.?)?"
# Arabic iOS writes a right-to-left mark after each number of the date (and Arabic-Indic
# digits, which \d and int() read)
_DATE = (
    f"(?P<d1>\\d{{1,4}}){_INV}(?P<ds>[./-]|\\. ){_INV}(?P<d2>\\d{{1,2}}){_INV}(?P=ds){_INV}"
    f"{_ERA}(?P<d3>\\d{{1,4}})\\.?{_BUDDHIST_ERA}"
)
_TIME = r"(?P<h>\d{1,2})(?P<ts>[:.])(?P<mi>\d{2})(?:(?P=ts)(?P<s>\d{2}))?"
_CLOSE = f"(?(open)\\]{_SP}?|(?P<sep>{_SP}?[-–]{_SP}|:{_SP}))"
HEADER = re.compile(
    f"{_INV}(?P<open>\\[)?{_INV}{_DATE}{_JOIN}{_TIME}(?:{_MERIDIEM})?{_INV}{_CLOSE}(?P<rest>.*)",
    re.S,
)
"""Any header of §2.3; each file is then read with the one layout it uses (`layout_regex`)."""
# Some locales put the time first (Vietnamese iOS: `[14:56:01, 3/18/22] `): the same parts,
# the other way round.
HEADER_TIME_FIRST = re.compile(
    f"{_INV}(?P<open>\\[)?{_INV}{_TIME}(?:{_MERIDIEM})?{_JOIN}{_DATE}{_INV}{_CLOSE}(?P<rest>.*)",
    re.S,
)


def match_header(line: str) -> re.Match[str] | None:
    """`line`'s header in any layout, date first (most locales) or time first."""
    return HEADER.match(line) or HEADER_TIME_FIRST.match(line)


class Layout(NamedTuple):
    """What tells one file's headers from a date typed at the start of a continuation line."""

    bracketed: bool
    date_sep: str
    time_sep: str
    seconds: bool
    twelve_hour: bool
    separator: str  # "]" (iOS), "-" (Android) or ":" (an old variant)
    time_first: bool = False  # `[14:56:01, 3/18/22]` (Vietnamese iOS)


_Shape = tuple[bool, str, str, bool, bool, str | None, bool]


def _shape(match: re.Match[str]) -> _Shape:
    """`Layout`'s raw material, cheap enough to take from every header of a file."""
    bracket, ds, ts, seconds, meridiem, sep = match.group("open", "ds", "ts", "s", "ap", "sep")
    time_first = match.re is HEADER_TIME_FIRST
    return bracket is not None, ds, ts, seconds is not None, meridiem is not None, sep, time_first


def _layout(shape: _Shape) -> Layout:
    sep = shape[5]
    separator = "]" if sep is None else ("-" if sep.strip(" \u00a0\u202f") in "-–" else ":")
    return Layout(*shape[:5], separator, shape[6])


@lru_cache(maxsize=32)
def layout_regex(layout: Layout) -> re.Pattern[str]:
    """The header of one layout only, with the same groups as `HEADER` (empty when absent)."""
    ds = r"\. " if layout.date_sep == ". " else re.escape(layout.date_sep)
    ds = f"{_INV}{ds}{_INV}"
    ts = re.escape(layout.time_sep)
    date = rf"(?P<d1>\d{{1,4}}){ds}(?P<d2>\d{{1,2}}){ds}{_ERA}(?P<d3>\d{{1,4}})\.?{_BUDDHIST_ERA}"
    time = rf"(?P<h>\d{{1,2}}){ts}(?P<mi>\d{{2}})" + (
        rf"{ts}(?P<s>\d{{2}})" if layout.seconds else "(?P<s>)"
    )
    meridiem = _MERIDIEM if layout.twelve_hour else "(?P<ap>)"
    if layout.separator == "]":
        start, close = f"\\[{_INV}", f"{_INV}\\]{_SP}?"
    elif layout.separator == "-":
        start, close = "", f"{_INV}{_SP}?[-–]{_SP}"
    else:
        start, close = "", f"{_INV}:{_SP}"
    clock = f"{time}{meridiem}"
    stamp = f"{clock}{_JOIN}{date}" if layout.time_first else f"{date}{_JOIN}{clock}"
    return re.compile(f"{_INV}{start}{stamp}{close}(?P<rest>.*)", re.S)


# --- WhatsApp's own texts -------------------------------------------------------------------
# The words are whatsapp_texts.py's; here they become the tables and patterns a line is read by.


class Found(NamedTuple):
    kind: Kind
    media_type: str | None = None
    text: str = ""  # what of the placeholder line is content (a location's link)


def _medium(media_type: str) -> Found:
    """An omitted medium; stickers and contact cards are kinds of their own."""
    kind = {"sticker": Kind.STICKER, "contact": Kind.CONTACT}.get(media_type, Kind.MEDIA)
    return Found(kind, media_type)


def _omitted(words: tuple[str, ...], nouns: dict[str, str]) -> dict[str, Found]:
    """iOS names each omitted medium: "image omitted", "Bild weggelassen", "imagen omitida"…"""
    table = {}
    for noun, media_type in nouns.items():
        for word in words:
            key = f"{noun} {word}".casefold()
            table[key] = table[f"<{key}>"] = _medium(media_type)
    return table


_OMITTED_BY_KIND = (  # every language of WhatsApp's apps
    (texts.IMAGE_OMITTED, "photo"),
    (texts.VIDEO_OMITTED, "video_file"),
    (texts.AUDIO_OMITTED, "audio_file"),
    (texts.STICKER_OMITTED, "sticker"),
    (texts.GIF_OMITTED, "animation"),
    (texts.CONTACT_CARD_OMITTED, "contact"),
    (texts.DOCUMENT_OMITTED, "file"),
)
_PLACEHOLDERS: dict[str, Found] = {
    **{k: v for words, nouns in texts.IOS_OMITTED for k, v in _omitted(words, nouns).items()},
    **{text.casefold(): _medium(media) for table, media in _OMITTED_BY_KIND for text in table},
    **{text.casefold(): Found(Kind.DELETED) for text in texts.DELETED + texts.YOU_DELETED},
    **{
        text.casefold(): Found(Kind.CALL, "phone_call")
        for text in texts.MISSED_VOICE_CALL + texts.MISSED_VIDEO_CALL
    },
    **{text.casefold(): Found(Kind.MEDIA) for text in texts.MEDIA_OMITTED},
    "<video note omitted>": _medium("video_message"),
    **{text.casefold(): Found(Kind.DELETED) for text in texts.DELETIONS},
    **{text.casefold(): Found(Kind.LOCATION) for text in texts.LIVE_LOCATION},
    **{head: Found(Kind.POLL, "poll") for head in texts.POLL_HEADS},
}
_WAITING = tuple(s.casefold() for s in texts.WAITING)
_DOCUMENT_OMITTED = tuple(  # iOS: "Report.pdf • 3 pages document omitted"
    f"{noun} {word}".casefold()
    for words, nouns in texts.IOS_OMITTED
    for noun, media_type in nouns.items()
    if media_type == "file"
    for word in words
) + tuple(text.casefold() for text in texts.DOCUMENT_OMITTED)
_DOCUMENT = re.compile(  # a file name first, so that a sentence ending the same way stays text
    r".*?\.\w{1,6}(?: • .*)? (?:" + "|".join(map(re.escape, _DOCUMENT_OMITTED)) + ")", re.I
)
_CALL = re.compile(texts.CALL, re.I)
_EDITED = re.compile(texts.EDITED, re.I)
_ATTACHED_ANDROID = re.compile(texts.ATTACHED_ANDROID, re.I)
# iOS: "<attached: 00000042-PHOTO-2020-06-07-15-13-20.jpg>" and its translations ("<Anhang: …>",
# "<adjunto: …>"…): any short label, since the angle brackets and the file name are WhatsApp's.
_ATTACHED_IOS = re.compile(r"<[^<>:]{2,30}:\s?(?P<file>[^<>]+\.\w{1,6})>")
_ATTACHED_OLD_IOS = re.compile(texts.ATTACHED_OLD_IOS, re.I)
_LOCATION = re.compile(  # "location: https://maps.google.com/?q=50.94,6.95", any label
    r"(?:[^\W\d_][^:]{0,30}?\s?:\s?)?"
    r"(?P<url>https?://(?:maps\.google\.[a-z.]+/\?q=|maps\.apple\.com/\?|goo\.gl/maps/)\S+)"
)
_ENCRYPTION = tuple(s.casefold() for s in texts.ENCRYPTION_NOTICES)

# System lines by action (whatsapp_texts.SYSTEM_TEXTS, and the encryption notice): `%N` in them
# is a person (never holding ": ", so that "Alice: I left" stays a message) and `%Q` a quoted
# group name, which may hold anything.
_NAME = r"(?:(?!: ).)+?"
_QUOTED = "[\"'“”„«»‘’‚].*[\"'“”„«»‘’‚]"
_SYSTEM_TEXTS = {
    "encryption": tuple(re.escape(s) + ".*" for s in _ENCRYPTION),
    **texts.SYSTEM_TEXTS,
    "security_code_changed": (  # the string resources' too, in every language
        *texts.SYSTEM_TEXTS["security_code_changed"],
        *(re.escape(text) + ".*" for text in texts.SECURITY_CODE_CHANGED),
    ),
}
GROUP_ACTIONS = frozenset(
    {"create_group", "invite_members", "remove_members", "leave_group", "join_group_by_link",
     "edit_group_title", "edit_group_photo", "edit_group_description", "admin"}
)  # fmt: skip


def _system_regex() -> re.Pattern[str]:
    groups = []
    for action, patterns in _SYSTEM_TEXTS.items():
        body = "|".join(p.replace("%N", _NAME).replace("%Q", _QUOTED) for p in patterns)
        groups.append(f"(?P<{action}>{body})")
    return re.compile(f"(?:{'|'.join(groups)})\\.?", re.I | re.S)


_SYSTEM = _system_regex()


def system_action(text: str) -> str | None:
    """The action of one of WhatsApp's system texts (`text` without leading marks), or None."""
    if len(text) > LONGEST_OWN_TEXT:
        return None
    match = _SYSTEM.fullmatch(text)
    return match.lastgroup if match else None


_ENCRYPTION_STARTS = frozenset(s[0] for s in _ENCRYPTION)


def is_encryption_notice(text: str) -> bool:
    """Whether `text` opens with the notice that starts every chat (cheap: runs on most lines)."""
    return text[:1].casefold() in _ENCRYPTION_STARTS and text[:100].casefold().startswith(
        _ENCRYPTION
    )


def placeholder(line: str) -> Found | None:
    """What WhatsApp's placeholder on the first line of a message stands for, if it is one.

    `line` has its marks removed (`unmark`): they sit anywhere in these placeholders.
    """
    if len(line) > LONGEST_OWN_TEXT:
        return None
    folded = line.casefold().rstrip() if len(line) <= 300 else ""
    if len(folded) <= 80:
        key = folded.strip().rstrip(". ")
        found = _PLACEHOLDERS.get(key)
        if found is not None:
            return found
        if key.startswith(_WAITING):
            return Found(Kind.UNSUPPORTED)
        if _CALL.fullmatch(key):
            return Found(Kind.CALL, "phone_call")
    if line.endswith((")", ">")):
        match = (
            _ATTACHED_ANDROID.fullmatch(line)
            or _ATTACHED_IOS.fullmatch(line)
            or _ATTACHED_OLD_IOS.fullmatch(line)
        )
        if match:
            return Found(*media_of(match["file"].strip()))
    if "maps" in line and (match := _LOCATION.fullmatch(line.strip())):
        return Found(Kind.LOCATION, None, match["url"])
    if folded.endswith(_DOCUMENT_OMITTED) and _DOCUMENT.fullmatch(line.rstrip()):
        return _medium("file")
    return None


_EXTENSIONS = {
    "photo": {"jpg", "jpeg", "png", "heic", "heif"},
    "video_file": {"mp4", "mov", "3gp", "mkv", "avi"},
    "audio_file": {"mp3", "m4a", "aac", "wav", "ogg", "amr"},
}


def media_of(file: str) -> tuple[Kind, str]:
    """Kind and media type of an attached file, from WhatsApp's file names and extensions."""
    upper = file.upper()
    extension = file.rsplit(".", 1)[-1].lower()
    if extension == "vcf":
        return Kind.CONTACT, "contact"
    if upper.startswith("STK-") or "-STICKER-" in upper or extension == "webp":
        return Kind.STICKER, "sticker"
    if upper.startswith("PTT-") or (extension == "opus" and "-AUDIO-" in upper):
        return Kind.MEDIA, "voice_message"
    if "-GIF-" in upper or extension == "gif":
        return Kind.MEDIA, "animation"
    if upper.startswith("IMG-") or "-PHOTO-" in upper:
        return Kind.MEDIA, "photo"
    if upper.startswith("VID-") or "-VIDEO-" in upper:
        return Kind.MEDIA, "video_file"
    if upper.startswith("AUD-") or "-AUDIO-" in upper or extension == "opus":
        return Kind.MEDIA, "audio_file"
    for media_type, extensions in _EXTENSIONS.items():
        if extension in extensions:
            return Kind.MEDIA, media_type
    return Kind.MEDIA, "file"


def unmark(text: str) -> str:
    """Without WhatsApp's invisible marks, and NBSP/NNBSP as plain spaces (headers only)."""
    return text.translate(_UNMARK) if _MARKED.search(text) else text


# --- file names -----------------------------------------------------------------------------

_CHAT_FILE = re.compile(
    "(?:"
    + "|".join(re.escape(p).replace(r"\ ", "[ _]") for p in texts.CHAT_FILE_PREFIXES)
    + r")[ _](?P<name>.+?)(?: \(\d+\))?(?:\.(?:txt|zip))?",
    re.I,
)


def is_chat_file_name(label: str) -> bool:
    """`_chat.txt` (iOS) or `WhatsApp Chat with X.txt` (Android) and its translations."""
    name = (label_parts(label) or [""])[-1]
    if name.casefold() == "_chat.txt":
        return True
    return name.casefold().endswith(".txt") and _CHAT_FILE.fullmatch(name) is not None


def chat_of(label: str) -> tuple[str, str | None]:
    """(chat id, chat name) from the names of the file and of the zip or folder holding it."""
    parts = label_parts(label)
    for part in reversed(parts[-3:]):
        match = _CHAT_FILE.fullmatch(part)
        if match:
            name = match["name"].strip()
            if "_" in match.group(0)[: match.start("name")]:
                name = name.replace("_", " ")  # "WhatsApp_Chat_with_Jamie_Lee.txt"
            return name, name
    stems = [re.sub(r"\.(txt|zip)$", "", part, flags=re.I) for part in parts[-2:]]
    if stems and stems[-1].casefold() == "_chat" and len(stems) > 1:
        return stems[0], None
    return (stems[-1] if stems else PLATFORM), None


def looks_like_chat(source: Source) -> bool:
    """Whether the first non-empty line of `source` is a WhatsApp message header."""
    text = source.head().decode("utf-8", errors="replace")
    for line in text.split("\n"):
        if line.strip(MARKS + " \t\r"):
            return match_header(line) is not None
    return False


# --- reading --------------------------------------------------------------------------------


@dataclass
class Survey:
    """The first pass: header layouts, date statistics and senders, never the texts."""

    chat_name: str | None = None
    shapes: Counter[_Shape] = field(default_factory=Counter)
    dates: dict[_Shape, DateFields] = field(default_factory=dict)
    senders: set[str] = field(default_factory=set)
    ordinary: set[str] = field(default_factory=set)  # wrote what no system line says
    candidates: set[str] = field(default_factory=set)  # stated the encryption notice, or the chat
    group_events: bool = False

    def add(self, match: re.Match[str]) -> None:
        shape = _shape(match)
        self.shapes[shape] += 1
        dates = self.dates.get(shape) or self.dates.setdefault(shape, DateFields())
        dates.add(*match.group("d1", "d2", "d3", "ds"))
        rest = match["rest"]
        colon = rest.find(": ")
        if colon < 0:
            if not self.group_events:
                self.group_events = system_action(rest.lstrip(MARKS)) in GROUP_ACTIONS
        elif len(self.senders) < MAX_SENDERS:
            self._sender(rest[:colon], rest[colon + 2 :])

    def _sender(self, raw: str, body: str) -> None:
        """Keep apart the senders who only ever wrote system lines: the group itself (iOS)."""
        self.senders.add(raw)
        if raw in self.ordinary:
            return
        core = body.lstrip(MARKS)
        if is_encryption_notice(core):
            self.candidates.add(raw)
            return
        if self.chat_name and unmark(raw).strip() == self.chat_name:
            self.candidates.add(raw)  # the encryption notice may be past the export's cut-off
        if not (body.startswith(OWN) or placeholder(unmark(core)) or system_action(core)):
            self.ordinary.add(raw)

    def layout(self) -> tuple[Layout, DateFields]:
        """The file's most common layout (shapes differing only in spaces are one layout)."""
        lines: Counter[Layout] = Counter()
        dates: dict[Layout, DateFields] = {}
        for shape, count in self.shapes.items():
            layout = _layout(shape)
            lines[layout] += count
            dates.setdefault(layout, DateFields()).merge(self.dates[shape])
        best = lines.most_common(1)[0][0]
        return best, dates[best]

    def voices(self) -> frozenset[str]:
        """Senders that are the chat itself: only system lines, and the encryption notice."""
        return frozenset(unmark(raw).strip() for raw in self.candidates - self.ordinary)

    def chat_type(self) -> str:
        voices = self.candidates - self.ordinary
        group = self.group_events or bool(voices) or len(self.senders - voices) > 2
        return "private_group" if group else "personal_chat"


@dataclass(frozen=True)
class Plan:
    """How the second pass reads the file."""

    header: re.Pattern[str]
    order: str
    voices: frozenset[str]
    chat_type: str


# the Gregorian year before an era's first: Meiji, Taishō, Shōwa, Heisei, Reiwa
_ERAS = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}


def _year(text: str, era: str | None = None) -> int:
    if era:
        return _ERAS[era] + int(text)
    if len(text) == 2:
        return 2000 + int(text)  # WhatsApp is from 2009
    if len(text) == 4:
        return gregorian(int(text))
    raise ValueError(f"year {text}")


def _hour(hour: int, meridiem: str) -> int:
    """12-hour to 24-hour; hours already past 12 (or 0) are taken as written."""
    period = texts.DAY_PERIODS.get(meridiem.lower())
    pm = period if period is not None else meridiem[0] in "pP"
    if 1 <= hour <= 11 and pm:
        return hour + 12
    if hour == 12 and not pm:
        return 0
    return hour


def _name(raw: str, names: dict[str, str | None]) -> str | None:
    name = names.get(raw, "")
    if name == "":
        name = unmark(raw).strip() or None
        if len(names) < MAX_SENDERS:
            names[raw] = name
    return name


_BARE_NAME = re.compile(r"(?P<name>[^:]{1,100}):\.?")  # "Carol:" and "John Doe:."
_QUOTES = re.compile("[\"'“”„«»‘’‚]")


def split_sender(rest: str, names: dict[str, str | None] | None = None) -> tuple[str | None, str]:
    """(sender, body) of what follows the header; no sender for system lines (formats.md §2.2).

    `names` caches the cleaned form of each raw sender.
    """
    names = {} if names is None else names
    colon = rest.find(": ")
    if colon < 0:
        bare = _BARE_NAME.fullmatch(rest)
        if bare and system_action(rest.lstrip(MARKS)) is None:
            # "Carol:" and "John Doe:." (no space after the colon, which WhatsApp always
            # writes before a text) are what is left of a view-once or vanished message: the
            # dot is WhatsApp's, not typed (formats.md §2.2)
            return _name(bare["name"], names), ""
        return None, rest
    head = rest[:colon]
    if _QUOTES.search(head) and system_action(rest.lstrip(MARKS)) is not None:
        return None, rest  # 'You created group "Trip: Rome"'
    return _name(head, names), rest[colon + 2 :]


class WhatsAppExport:
    """An opened WhatsApp chat export; iterate it for messages, in file order."""

    format = PLATFORM

    def __init__(self, source: Source, date_order: str | None = None):
        check_order(date_order)
        self.source = source
        self.date_order = date_order
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self.chat_id, self.chat_name = chat_of(source.label)
        self._position = 0
        self._names: dict[str, str | None] = {}  # raw sender → as written, marks removed
        self._day: tuple[tuple[str, str, str], tuple[int, int, int] | None] = (("", "", ""), None)

    @property
    def bytes_read(self) -> int:
        return self._position

    def __iter__(self) -> Iterator[Message]:
        plan = self._plan()
        self.chats = 1
        yield from self._messages(plan)

    def _plan(self) -> Plan:
        survey = Survey(chat_name=self.chat_name)
        with self.source.open() as stream:
            for raw in stream:
                match = match_header(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                if match is not None:
                    survey.add(match)
        if not survey.shapes:
            raise TwinchatError(
                f"{self.source.label}: no line starts like a WhatsApp message "
                "('date, time - name: text' or '[date, time] name: text'); "
                "is this the .txt from WhatsApp's Export chat?"
            )
        layout, dates = survey.layout()
        order, problem = self.date_order, None
        if order is None:
            order, problem = infer_order(dates)
        if problem:
            self.problems[problem] += dates.dates
        return Plan(layout_regex(layout), order, survey.voices(), survey.chat_type())

    def _messages(self, plan: Plan) -> Iterator[Message]:
        header, count, pending, extra = plan.header, 0, None, []
        self._position = 0
        with self.source.open() as stream:
            for raw in stream:
                self._position += len(raw)
                line = self._decode(raw)
                match = header.match(line)
                if match is None:
                    self._continue(line, pending, extra)
                    continue
                if pending is not None:
                    count += 1
                    yield self._message(pending, extra, count, plan)
                    extra = []
                pending = match
        if pending is not None:
            yield self._message(pending, extra, count + 1, plan)

    def _decode(self, raw: bytes) -> str:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.problems["not UTF-8 (bytes replaced)"] += 1
            line = raw.decode("utf-8", errors="replace")
        return line.rstrip("\r\n")

    def _continue(self, line: str, pending: re.Match[str] | None, extra: list[str]) -> None:
        if pending is None:
            if line.strip(MARKS + " \t"):
                self.problems["text before the first message"] += 1
            return
        extra.append(line)
        if match_header(line):  # a header in another layout: most likely quoted, maybe not
            self.problems["line like a header of another layout (kept as text)"] += 1

    def _message(self, match: re.Match[str], extra: list[str], number: int, plan: Plan) -> Message:
        while extra and not extra[-1]:
            extra.pop()  # WhatsApp trims messages; blank lines at the end are the file's
        sender, body = split_sender(match["rest"], self._names)
        message = Message(
            platform=PLATFORM,
            chat_id=self.chat_id,
            id=str(number),
            timestamp=self._time(match, plan.order),
            sender=sender,
            text=body,
            chat_name=self.chat_name,
            chat_type=plan.chat_type,
            tz_known=False,  # the exporting phone's local time, without its zone
        )
        if sender is None:
            _as_system(message, [body, *extra])
        else:
            # iOS: "\u200e[date] Name: \u200eimage omitted", the mark before the line and in it
            attached = match.string.startswith(OWN) and any(m in body for m in OWN)
            _classify(message, [body, *extra], plan.voices, attached)
        return message

    def _time(self, match: re.Match[str], order: str) -> datetime | None:
        date = match.group("d1", "d2", "d3")
        if date != self._day[0]:  # consecutive messages mostly share their day
            self._day = (date, _ymd(date, order, match["era"]))
        day = self._day[1]
        hour, minute, second, meridiem = match.group("h", "mi", "s", "ap")
        try:
            if day is None:
                raise ValueError("date")
            hour = _hour(int(hour), meridiem) if meridiem else int(hour)
            return datetime(*day, hour, int(minute), int(second or 0))
        except ValueError:
            self.problems["invalid date or time"] += 1
            return None


def _ymd(
    date: tuple[str, str, str], order: str, era: str | None = None
) -> tuple[int, int, int] | None:
    """(year, month, day); `era` is the Japanese era written before the year, if any."""
    year, month, day = in_order(*date, order)
    try:
        return _year(year, era), int(month), int(day)
    except ValueError:
        return None


def _as_system(message: Message, lines: list[str]) -> None:
    """A line without an author is always WhatsApp's own (formats.md §2.5)."""
    message.text = "\n".join(lines).lstrip(MARKS)
    message.kind = Kind.SERVICE
    message.action = system_action(lines[0].lstrip(MARKS)) or "other"


def _classify(
    message: Message, lines: list[str], voices: frozenset[str], attached: bool = False
) -> None:
    """Placeholders, the group's own lines and marked system texts; else a text as typed.

    `attached`: the header line began with a directional mark, which iOS writes only before
    an attachment's line, in every language.
    """
    last = lines[-1]
    if last.endswith(">") and (edited := _EDITED.search(last)):
        lines[-1] = last[: edited.start()]
        message.edited = message.timestamp  # WhatsApp does not say when; this flags it
    first = unmark(lines[0])
    found = placeholder(first) or _unnamed_placeholder(first, lines[0], attached)
    if found is not None:
        message.kind, message.media_type = found.kind, found.media_type
        message.text = "\n".join([found.text, *lines[1:]] if found.text else lines[1:])
        return
    message.text = text = "\n".join(lines)
    core = text.lstrip(MARKS)
    if message.sender in voices:
        message.sender, message.kind, message.text = None, Kind.SERVICE, core
        message.action = system_action(core) or "other"
    elif text.startswith(OWN) and len(lines) == 1 and len(text) <= LONGEST_OWN_TEXT:
        # New iOS exports put system lines under a name, marked (formats.md §2.2); a marked
        # text no table knows is WhatsApp's when it names the app (the encryption notice, in
        # any language): people paste marked text too, so a mark alone does not decide
        action = system_action(core)
        if action is not None or _APP_NAME.search(core):
            message.kind, message.text, message.action = Kind.SERVICE, core, action or "other"
    elif is_encryption_notice(core):
        action = system_action(core)
        if action is not None:
            message.kind, message.text, message.action = Kind.SERVICE, core, action


_APP_NAME = re.compile("|".join(texts.APP_NAMES))
_ANGLED = re.compile(r"<[^<>]{2,60}>")  # Android: "<Media omitted>" in any language
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*/?>")  # what a person who types angle brackets types
_ANY_ATTACHED = re.compile(r"(?P<file>[^()\n]+?\.\w{1,6})(?: • [^()\n]*)? \([^()\n]{3,40}\)")
_WHATSAPP_FILE = re.compile(r"(?:IMG|VID|AUD|PTT|STK|DOC)-\d{8}-WA\d{4}", re.I)


def _unnamed_placeholder(first: str, raw: str, attached: bool) -> Found | None:
    """A placeholder in a language no table holds, known by WhatsApp's marks and shapes."""
    if len(first) > 300:
        return None
    stripped = first.strip()
    if attached:  # iOS: the whole first line is WhatsApp's (an omitted file, maybe named)
        match = _ATTACHED_IOS.search(stripped)
        return Found(*media_of(match["file"].strip())) if match else Found(Kind.MEDIA)
    if _ANGLED.fullmatch(stripped) and not _TAG.fullmatch(stripped):
        return Found(Kind.MEDIA)  # Android's one placeholder for every medium
    match = _ANY_ATTACHED.fullmatch(stripped)
    if match and (raw.startswith(OWN) or _WHATSAPP_FILE.match(match["file"])):
        return Found(*media_of(match["file"].strip()))  # Android: "‎x.vcf (file attached)"
    return None
