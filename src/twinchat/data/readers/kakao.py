"""KakaoTalk's "Export chat" in Korean or English, as each app writes it.

* Windows: `[Ann] [오후 2:37] text` or `[Ann] [2:37 PM] text`, the date on a line of its own,
  `--------------- 2015년 8월 1일 토요일 ---------------` (`Saturday, August 1, 2015`).
* Android: `2015년 7월 9일 오후 8:34, Ann : text` or `8:34pm, July 9, 2015, Ann : text`.
* iOS: `2015. 7. 9. 오후 8:34, Ann : text` or `Jul 9, 2015, 8:34 PM, Ann : text`; its notices
  are `2015. 7. 9. 오후 8:34: Ann님이 Bob님을 초대했습니다.`.
* macOS and newer phone apps: a CSV, `Date,User,Message`, `2015-07-09 20:34:26,"Ann","text"`.

Each text starts with a header (`Ann 님과 카카오톡 대화`, `KakaoTalk Chats with Ann`, `Ann with
KakaoTalk Chats`) and a `저장한 날짜 :` / `Date Saved :` line. A line that starts no message
continues the one before (messages of several lines), blank lines in it included. A stamped
line without ` : ` after the sender is a notice (`Kind.SERVICE`), as are un-stamped invitations,
joins and leaves on Windows and, in the CSV, a text that starts with its sender's name and says
one of those. Photos, videos, emoticons and files (`<사진>`, `Photo`, `사진 3장`, `이모티콘`,
`파일: a.pdf`) are kinds, not text; a deleted message (`삭제된 메시지입니다.`) is
`Kind.DELETED`. Times are the phone's local time, naive (`tz_known=False`). A line that is not
UTF-8 is read as cp949, the Korean Windows code page.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport, text_lines
from twinchat.data.readers.source import Source, base_name

PLATFORM = "kakaotalk"
CSV_HEADER = "Date,User,Message"
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}
_MER_KO = r"(?P<mer>오전|오후)\s?"
_HM = r"(?P<h>\d{1,2}):(?P<mi>\d{2})"
_MER_EN = r"\s?(?P<mer_en>[AaPp]\.?[Mm]\.?)"
# a message's or notice's stamp, each app's layout; what follows is `, Sender : text` or a notice
_STAMPS = [
    re.compile(rf"(?P<y>\d{{4}})년 (?P<m>\d{{1,2}})월 (?P<d>\d{{1,2}})일 (?:{_MER_KO})?{_HM}"),
    re.compile(rf"(?P<y>\d{{4}})\. ?(?P<m>\d{{1,2}})\. ?(?P<d>\d{{1,2}})\.? (?:{_MER_KO})?{_HM}"),
    re.compile(rf"{_HM}(?:{_MER_EN})?, (?P<mon>[A-Za-z]+)\.? (?P<d>\d{{1,2}}), (?P<y>\d{{4}})"),
    re.compile(
        rf"(?P<mon>[A-Za-z]+)\.? (?P<d>\d{{1,2}}), (?P<y>\d{{4}}),? (?:at )?{_HM}(?:{_MER_EN})?"
    ),
    re.compile(rf"(?P<y>\d{{4}})-(?P<m>\d\d)-(?P<d>\d\d) {_HM}(?::(?P<s>\d\d))?"),
]
_WINDOWS = re.compile(
    rf"\[(?P<sender>[^\]]*)\] \[(?:{_MER_KO}{_HM}|{_HM.replace('>', '2>')}{_MER_EN})\] ?"
    r"(?P<text>.*)"
)
_WINDOWS_DAY = re.compile(r"-{5,} (?P<date>.+?) -{5,}")
_KO_DATE = re.compile(r"(?P<y>\d{4})년 (?P<m>\d{1,2})월 (?P<d>\d{1,2})일(?: \S+요일)?")
_EN_DATE = re.compile(r"(?:[A-Za-z]+, )?(?P<mon>[A-Za-z]+)\.? (?P<d>\d{1,2}), (?P<y>\d{4})")
_HEADER = re.compile(
    r"(.+?) ?(?:님과|과|와) 카카오톡 대화.*|KakaoTalk Chats with (.+)|(.+) with KakaoTalk Chats"
)
_SAVED = re.compile(r"(?:저장한 날짜|Date Saved) ?:")
_NOTICE = re.compile(
    r"(?:님이 들어왔습니다|님이 나갔습니다|초대했습니다|님을 내보냈습니다|님이 입장했습니다"
    r"|님이 퇴장했습니다|joined this chatroom|left this chatroom|left the chatroom"
    r"| invited .+)\.?$"
)
_COUNT = r"(?: \d+장| \d+ (?:photos|videos))?"
_PLACEHOLDERS = [
    (re.compile(rf"<?\(?(?:사진|Photo|photo){_COUNT}\)?>?"), Kind.MEDIA, "photo"),
    (re.compile(rf"<?\(?(?:동영상|Video|video){_COUNT}\)?>?"), Kind.MEDIA, "video_file"),
    (re.compile(r"<?\(?(?:음성메시지|Voice Note|voice message)\)?>?"), Kind.MEDIA, "voice_message"),
    (re.compile(r"(?:파일|File): .+"), Kind.MEDIA, "file"),
    (re.compile(r"<?\(?(?:이모티콘|Emoticons?|emoticon)\)?>?"), Kind.STICKER, None),
    (
        re.compile(r"삭제된 메시지입니다\.?|This message has been deleted\.?|Deleted message\.?"),
        Kind.DELETED,
        None,
    ),
]


def _time(groups: dict[str, str | None]) -> datetime | None:
    try:
        month = int(groups["m"]) if groups.get("m") else _MONTHS[str(groups["mon"]).lower()]
        hour = int(groups.get("h") or groups.get("h2") or 0)
        minute = int(groups.get("mi") or groups.get("mi2") or 0)
        meridiem = groups.get("mer") or (groups.get("mer_en") or "").upper()[:1] or None
        if meridiem:
            hour = hour % 12 + (12 if meridiem in ("오후", "P") else 0)
        return datetime(
            int(str(groups["y"])),
            month,
            int(str(groups["d"])),
            hour,
            minute,
            int(groups.get("s") or 0),
        )
    except (KeyError, ValueError):
        return None


def _stamped(line: str) -> tuple[re.Match[str], str] | None:
    """The stamp a line starts with, and what follows it."""
    for pattern in _STAMPS:
        match = pattern.match(line)
        if match:
            return match, line[match.end() :]
    return None


def looks_like_kakao(source: Source) -> bool:
    """Whether a file starts as KakaoTalk's export: its header line, or the CSV's."""
    try:
        head = source.head(1024)
    except OSError:
        return False
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    text = first.decode("utf-8", errors="replace")
    if text == CSV_HEADER:
        return True
    return bool(_HEADER.fullmatch(text.strip())) and (
        b"Date Saved" in head or "저장한 날짜".encode() in head
    )


def find_kakao(sources: Sequence[Source]) -> list[Source]:
    """The KakaoTalk exports among `sources` (.txt and .csv files, or the one file named)."""
    alone = len(sources) == 1
    named = [s for s in sources if alone or s.label.lower().endswith((".txt", ".csv"))]
    return [s for s in named[:200] if looks_like_kakao(s)]


def _classify(text: str) -> tuple[Kind, str | None]:
    for pattern, kind, media in _PLACEHOLDERS:
        if pattern.fullmatch(text.strip()):
            return kind, media
    return Kind.TEXT, None


class _Builder:
    """Messages as they come, a line at a time; the last one may still go on."""

    def __init__(self, chat: str):
        self.chat = chat
        self.pending: Message | None = None
        self.blanks = 0
        self.count = 0
        self.last_time: datetime | None = None

    def start(self, moment: datetime | None, sender: str | None, text: str) -> Message | None:
        done = self.finish()
        self.count += 1
        self.last_time = moment or self.last_time
        kind = Kind.SERVICE if sender is None else Kind.TEXT
        self.pending = Message(
            platform=PLATFORM,
            chat_id=self.chat,
            id=str(self.count),
            timestamp=moment,
            sender=sender,
            text=text,
            kind=kind,
            chat_name=self.chat,
            chat_type="kakaotalk_chat",
            tz_known=False,
        )
        return done

    def go_on(self, line: str) -> bool:
        if self.pending is None:
            return False
        self.pending.text += "\n" * (self.blanks + 1) + line
        self.blanks = 0
        return True

    def finish(self) -> Message | None:
        message, self.pending, self.blanks = self.pending, None, 0
        if message is not None and message.kind == Kind.TEXT:
            message.text = message.text.rstrip()
            kind, media = _classify(message.text)
            if kind != Kind.TEXT:
                message.kind, message.media_type, message.text = kind, media, ""
        return message


def read_kakao_file(
    source: Source, stream: io.BufferedReader, problems: Counter[str]
) -> Iterator[Message]:
    """The messages of one KakaoTalk export."""
    name = base_name(source.label).rsplit(".", 1)[0]
    lines = text_lines(stream, problems, legacy="cp949")
    first = next(lines, None)
    if first is None:
        return
    if first == CSV_HEADER:
        yield from _read_csv(name, lines, problems)
        return
    header = _HEADER.fullmatch(first.strip())
    chat = next((g for g in header.groups() if g), name) if header else name
    chat = re.sub(r"(?:-\d+)?\.txt$", "", chat).strip()  # iOS writes the file's name there
    build = _Builder(chat)
    day: datetime | None = None
    for line in lines:
        stripped = line.strip()
        if not stripped:
            build.blanks += 1
            continue
        if _SAVED.match(stripped):
            continue
        done: Message | None = None
        stamped = _stamped(line)
        if windows_day := _WINDOWS_DAY.fullmatch(stripped):
            day = _date(windows_day["date"])
            done = build.finish()
        elif windows := _WINDOWS.fullmatch(line):
            moment = _time(_with_day(windows.groupdict(), day)) if day else None
            done = build.start(moment, windows["sender"], windows["text"])
        elif stamped is not None:
            match, rest = stamped
            moment = _time(match.groupdict())
            said = _SAID.match(rest)
            if not rest.strip():
                done = build.finish()  # Android's line for a new day: a stamp alone
            elif said:
                done = build.start(moment, said["sender"], said["text"])
            else:
                done = build.start(moment, None, rest.lstrip(",: "))
        elif _KO_DATE.fullmatch(stripped) or _EN_DATE.fullmatch(stripped):
            done = build.finish()  # iOS's line for a new day
        elif day is not None and _NOTICE.search(stripped):
            done = build.start(build.last_time, None, stripped)  # Windows: notices have no time
        elif not build.go_on(line):
            problems["unparsed line"] += 1
            continue
        if done is not None:
            yield done
    last = build.finish()
    if last is not None:
        yield last


_SAID = re.compile(r", (?P<sender>.+?) : ?(?P<text>.*)")


def _date(text: str) -> datetime | None:
    match = _KO_DATE.fullmatch(text) or _EN_DATE.fullmatch(text)
    return _time(match.groupdict()) if match else None


def _with_day(groups: dict[str, str | None], day: datetime) -> dict[str, str | None]:
    return {**groups, "y": str(day.year), "m": str(day.month), "d": str(day.day)}


def _read_csv(chat: str, lines: Iterator[str], problems: Counter[str]) -> Iterator[Message]:
    """macOS's CSV: a row a message, a text of several lines quoted."""
    build = _Builder(chat)
    for row in csv.reader(line + "\n" for line in lines):
        if len(row) != 3:
            if row:
                problems["malformed row"] += 1
            continue
        when, sender, text = row
        moment = _time(m.groupdict()) if (m := _STAMPS[-1].fullmatch(when.strip())) else None
        if moment is None:
            problems["invalid date"] += 1
        notice = text.startswith(sender) and _NOTICE.search(text.rstrip())
        done = build.start(moment, None if notice else sender, text)
        if done is not None:
            yield done
    last = build.finish()
    if last is not None:
        yield last


def KakaoExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """KakaoTalk exports, one chat a file."""
    return FilesExport(PLATFORM, sources, read_kakao_file, label)
