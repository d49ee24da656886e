"""Google Chat as Google Takeout exports it: `Google Chat/Groups/<DM id | Space id>/`, each
conversation a folder with `messages.json` and `group_info.json`.

`messages.json` is `{"messages": [message, ...]}`, oldest first; a message has `creator`
(`{name, email, user_type}`), `created_date` (`"Thursday, November 3, 2016 at 11:59:50 AM UTC"`;
newer exports put a narrow no-break space before AM/PM; other languages below), `text` (absent
for a file alone), `topic_id`, `message_id`, and when they apply `attached_files`
(`[{original_name, export_name}]`), `annotations`, `quoted_message_metadata`, `updated_date`,
`message_state` (`DELETED`) and `deletion_metadata`. `group_info.json` holds `name` (a space's;
DMs have none) and `members`.

A message with attached files is `Kind.MEDIA` (its text the caption); a deleted one
`Kind.DELETED`; a bot's (`user_type` `Bot`) is kept as text with its name.

`created_date` and `updated_date` are written in the account's display language and region.
Layouts seen in real exports: `Wednesday, January 6, 2021 at 2:39:43 PM UTC` (en-US),
`Tuesday, 7 February 2021 at 17:13:43 UTC` (en-GB, abrignoni/RLEAPP googleChat.py),
`2015. február 15., vasárnap 21:54:36 UTC` (hu, mrwoof/google-chat-takeout-reader#3),
`2026年5月29日星期五 UTC 03:00:29` (zh-CN, sha7dowXX/ChatLab google-chat-takeout.test.ts) and
`2022년 11월 21일 월요일 AM 1시 26분 8초 UTC` (ko, 1shot1kill74/FINDGAGU-OS-CURSOR). All say UTC;
an offset (`UTC+1`, `GMT-05:30`) is read too, a named zone (`MEZ`) is not. A date that cannot
be read for sure is counted and its message kept without a time.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.matrix import build
from twinchat.data.readers.source import SEPARATORS, Source, base_name, first_line
from twinchat.errors import TwinchatError

PLATFORM = "google_chat"
_HEAD = re.compile(rb'^\s*\{\s*"messages"\s*:\s*\[\s*(?:\]|\{\s*"(?:creator|created_date)")')
# Takeout writes `created_date` in the account's display language and region (layouts seen are
# in the module's docstring), so a date is read from what all of them share: one 4-digit year, one
# day, the clock `H:MM:SS` (or `H時M分S秒`, `H시 M분 S초`), an AM/PM marker if any, and `UTC` or
# `GMT` with its offset; the month then comes from a table of names (weekdays are never used).
_ZONE = re.compile(
    r"(?<![a-z])(?:utc|gmt)(?:\s*(?P<sign>[+\-\u2212])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d\d))?)?"
    r"(?![a-z])"
)
_AFTERNOON = ("午後", "下午", "오후")
_MARKER = r"(?<![^\W\d_])[ap]\.?\s?m\.?(?![^\W\d_])|午前|上午|오전|" + "|".join(_AFTERNOON)
_CLOCK = re.compile(
    rf"(?:(?P<before>{_MARKER})\s*)?(?<!\d)(?P<h>\d{{1,2}})"
    r"(?::(?P<m>\d\d):(?P<s>\d\d)|\s*[時时시]\s*(?P<m2>\d{1,2})\s*[分분]\s*(?P<s2>\d{1,2})\s*[秒초])"
    rf"(?:\s*(?P<after>{_MARKER}))?"
)
# Chinese, Japanese and Korean write the month as a number: 2021年1月6日, 2021년 1월 6일.
_CJK_DATE = re.compile(
    r"(?P<y>\d{4})\s*[年년]\s*(?P<mo>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]"
)
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")
# Each line the twelve months in one language; Polish and Russian write the genitive after a day
# ("6 stycznia", "6 января"), the nominative lines are there for layouts that do not.
_MONTH_LINES = (
    "january february march april may june july august september october november december",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "jänner februar märz april mai juni juli august september oktober november dezember",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "enero febrero marzo abril mayo junio julio agosto setiembre octubre noviembre diciembre",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "január február március április május június július augusztus szeptember október november "
    "december",
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada "
    "grudnia",
    "styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik listopad "
    "grudzień",
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
)
_MONTHS = {name: number for line in _MONTH_LINES for number, name in enumerate(line.split(), 1)}
_IMAGE = re.compile(r"\.(?:jpe?g|png|gif|heic|webp)$", re.IGNORECASE)
_VIDEO = re.compile(r"\.(?:mp4|mov|webm|3gp)$", re.IGNORECASE)


def is_google_chat(source: Source) -> bool:
    """Whether a file is a conversation's `messages.json` of a Google Chat Takeout."""
    try:
        head = source.head(2048).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return False
    return bool(_HEAD.match(head))


def find_google_chat(sources: Sequence[Source]) -> list[Source]:
    """The conversations' `messages.json` among `sources`, folder by folder."""
    named = [s for s in sources[:5000] if base_name(s.label) == "messages.json"]
    return [s for s in named if is_google_chat(s)]


def _time(text: Any) -> datetime | None:
    """The moment a Takeout date names, in UTC; None when its layout cannot be read for sure."""
    if not isinstance(text, str):
        return None
    text = unicodedata.normalize("NFC", text).replace("\u202f", " ").replace("\u00a0", " ")
    text = text.lower()
    zone = _ZONE.search(text)
    if zone is None:
        return None  # a named zone (MEZ, PST) would need a guess, and a wrong one is hours off
    text = _cut(text, zone)  # the offset's digits must not pass for the day
    clock = _CLOCK.search(text)
    if clock is None:
        return None
    day, hms, offset = _day(_cut(text, clock)), _hms(clock), _offset(zone)
    if day is None or hms is None or offset is None:
        return None
    try:
        return datetime(*day, *hms, tzinfo=offset).astimezone(UTC)
    except ValueError:
        return None  # a day or hour that does not exist (February 30, 25:00)


def _cut(text: str, match: re.Match[str]) -> str:
    """`text` without what `match` found, a space in its place to keep words apart."""
    return text[: match.start()] + " " + text[match.end() :]


def _day(rest: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date with its clock and zone cut out: CJK's year-month-day, else
    exactly one 4-digit year, one 1-2 digit day and one month name; anything else is ambiguous."""
    cjk = _CJK_DATE.search(rest)
    if cjk is not None:
        return int(cjk["y"]), int(cjk["mo"]), int(cjk["d"])
    numbers = _NUMBER.findall(rest)
    months = {_MONTHS[word] for word in _WORD.findall(rest) if word in _MONTHS}
    years = [n for n in numbers if len(n) == 4]
    days = [n for n in numbers if len(n) <= 2]
    if len(numbers) != 2 or len(years) != 1 or len(days) != 1 or len(months) != 1:
        return None
    return int(years[0]), months.pop(), int(days[0])


def _hms(clock: re.Match[str]) -> tuple[int, int, int] | None:
    """(hour, minute, second) on a 24-hour clock; a marker makes the hour 12-hour (1-12)."""
    hour = int(clock["h"])
    minute, second = int(clock["m"] or clock["m2"]), int(clock["s"] or clock["s2"])
    marker = clock["before"] or clock["after"]
    if marker:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if marker[0] == "p" or marker in _AFTERNOON else 0)
    return hour, minute, second


def _offset(zone: re.Match[str]) -> timezone | None:
    """`UTC`, `UTC+1`, `GMT-05:30` as a fixed offset; None past ±14 hours, which no zone has."""
    if zone["sign"] is None:
        return UTC
    minutes = int(zone["oh"]) * 60 + int(zone["om"] or 0)
    if minutes > 14 * 60 or int(zone["om"] or 0) >= 60:
        return None
    return timezone(timedelta(minutes=-minutes if zone["sign"] in "-\u2212" else minutes))


def _group_name(source: Source, folder: str) -> str:
    """The space's name from `group_info.json` beside the file, else the folder's."""
    info_label = source.label[: len(source.label) - len("messages.json")] + "group_info.json"
    if "!" in source.label:
        return folder  # in a zip: the folder's name is what there is without opening it again
    try:
        with open(info_label, "rb") as stream:
            info = json.loads(stream.read(1 << 20))
    except (OSError, ValueError):
        return folder
    name = info.get("name") if isinstance(info, dict) else None
    if isinstance(name, str) and name.strip():
        return name
    members = info.get("members") if isinstance(info, dict) else None
    if isinstance(members, list):
        names = [m.get("name") for m in members if isinstance(m, dict) and m.get("name")]
        if names:
            return ", ".join(sorted(names))
    return folder


def read_google_chat_file(
    source: Source, stream: io.BufferedReader, problems: Counter[str]
) -> Iterator[Message]:
    """The messages of one conversation."""
    parts = SEPARATORS.split(source.label)
    folder = parts[-2] if len(parts) > 1 else "Google Chat"
    chat_name = _group_name(source, folder)
    number = 0
    try:
        events = ijson.parse(stream, use_float=True)
        for prefix, event, value in events:
            if prefix != "messages.item":
                continue
            number += 1
            message = _convert(build(events, event, value), folder, chat_name, number, problems)
            if message is not None:
                yield message
    except ijson.JSONError as err:
        raise TwinchatError(
            f"{source.label} is not whole JSON ({first_line(err)}); download the Takeout "
            "archive again"
        ) from None


def _convert(
    raw: Any, chat: str, chat_name: str, number: int, problems: Counter[str]
) -> Message | None:
    if not isinstance(raw, dict):
        problems["malformed message"] += 1
        return None
    creator = raw.get("creator") if isinstance(raw.get("creator"), dict) else {}
    name = creator.get("name") if isinstance(creator.get("name"), str) else None
    email = creator.get("email") if isinstance(creator.get("email"), str) else None
    moment = _time(raw.get("created_date"))
    if moment is None:
        problems["date in a layout not understood (kept without a time)"] += 1
    text = raw.get("text") if isinstance(raw.get("text"), str) else ""
    files = raw.get("attached_files") if isinstance(raw.get("attached_files"), list) else []
    kind, media_type = Kind.TEXT, None
    if raw.get("message_state") == "DELETED" or "deletion_metadata" in raw:
        kind, text = Kind.DELETED, ""
    elif files:
        kind = Kind.MEDIA
        first = files[0] if isinstance(files[0], dict) else {}
        file_name = str(first.get("export_name") or first.get("original_name") or "")
        media_type = (
            "photo"
            if _IMAGE.search(file_name)
            else ("video_file" if _VIDEO.search(file_name) else "file")
        )
    elif not text:
        kind = Kind.OTHER  # a card, a meeting, a Drive file shown without words
    return Message(
        platform=PLATFORM,
        chat_id=chat,
        id=str(raw.get("message_id") or number),
        timestamp=moment,
        sender=name or email,
        text=text,
        kind=kind,
        chat_name=chat_name,
        chat_type="google_chat_dm" if chat.startswith("DM ") else "google_chat_space",
        tz_known=moment is not None,
        sender_id=email,
        media_type=media_type,
        edited=_time(raw.get("updated_date")),
    )


def GoogleChatExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """Google Chat conversations, one `messages.json` each."""
    return FilesExport(PLATFORM, sources, read_google_chat_file, label)
