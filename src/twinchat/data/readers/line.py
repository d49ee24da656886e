"""LINE's "Export chat history" (.txt), as the phone apps write it in any UI language.

A header, a date line a day, then a line a message, its columns separated by tabs::

    [LINE] Chat history with Ann            ([LINE] Annとのトーク履歴, [LINE] 與Ann的聊天記錄 ...)
    Saved on: 2024/01/15 10:30              (保存日時：..., 儲存日期：...)

    2024/01/15(Mon)                         (2024/01/15（月）, 2024/01/15 Mon, Mon, 01/15/2024)
    10:30<TAB>Ann<TAB>hello                 (10:30AM, 上午10:30, 午後1:05 ...)
    10:31<TAB>Bob<TAB>"two                  (a message of several lines, quoted; "" is a ")
    lines"
    10:32<TAB>Ann<TAB>[Sticker]             ([スタンプ], [貼圖] ...: stickers, photos, files)
    10:33<TAB><TAB>Bob joined the group.    (or with no second tab: a notice, no sender)

Dates are year first, or after a weekday `Mon, 01/15/2024` where the day and month order is
inferred from the whole file (`dates.infer_order`: a first number above 12 makes it day first,
a second one month first, both the majority, counted; month first when none says, as the US
app writes it). A phone set to the Thai (Buddhist) calendar writes its years, 543 ahead, in any
UI language, `Wed, 10/07/2562 BE` in English: a year past 2400 is read as one, "BE" or not. An
unsent message is written as a notice (`19:10<TAB><TAB>Ann unsent a message.`) and read as one:
its name need not be the sender column's (`ann`, `A.` or `You` beside `Ann`). Older exports do
not quote messages of several lines: a line that is neither a date nor a message continues the
message before it. Times are the phone's local time, naive (`tz_known=False`). The Windows
app's "Save chat" writes names and texts separated by a space only, which cannot be told apart:
it is not read.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime

from twinchat.data.message import Kind, Message
from twinchat.data.readers.dates import DateFields, gregorian, in_order, infer_order
from twinchat.data.readers.files import FilesExport, text_lines
from twinchat.data.readers.source import Source, base_name

PLATFORM = "line"
HEAD_LINES = 40

_YMD = re.compile(
    r"(?P<y>\d{4})[/.\-](?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})\.?"
    r"(?:\s*[(（][^)）]{1,12}[)）]|\s+\S{1,12})?"
)
_CJK_DATE = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:\s*\S{1,6})?")
_WEEKDAY_FIRST = re.compile(
    r"[^\W\d_]{2,12}\.?,?\s+(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})(?:\s?B\.?E\.?)?"
)
_TIME = re.compile(
    r"(?P<pre>上午|下午|午前|午後|오전|오후|AM|PM)?\s?(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"\s?(?P<post>[AaPp]\.?[Mm]\.?)?"
)
_AFTERNOON = {"下午", "午後", "오후", "PM", "P"}
_HEADER_AFFIXES = re.compile(
    r"^(?:Chat history (?:with|in) |ประวัติการแชทกับ |與|与|Riwayat obrolan dengan |"
    r"Historial de chat con |Historique de discussion avec )|"
    r"(?:とのトーク履歴|のトーク履歴|的聊天記錄|的聊天记录|님과의 대화|와의 대화|과의 대화)$"
)
_PLACEHOLDERS: dict[str, tuple[Kind, str | None]] = {}
for _kind, _media, _words in (
    (Kind.STICKER, None, "Sticker スタンプ 貼圖 贴图 สติกเกอร์ 스티커 Stiker Sticker"),
    (Kind.MEDIA, "photo", "Photo 写真 照片 圖片 图片 รูป 사진 Foto Gambar"),
    (Kind.MEDIA, "video_file", "Video 動画 影片 视频 วิดีโอ 동영상"),
    (Kind.MEDIA, "file", "File ファイル 檔案 文件 ไฟล์ 파일 Berkas"),
    (
        Kind.MEDIA,
        "voice_message",
        "Voice_message ボイスメッセージ 語音訊息 语音 ข้อความเสียง 음성메시지",
    ),
    (Kind.MEDIA, "photo", "Albums Album アルバム 相簿 相册 อัลบั้ม 앨범"),
    (Kind.LOCATION, None, "Location 位置情報 位置資訊 位置 ตำแหน่งที่ตั้ง 위치정보"),
    (Kind.CONTACT, None, "Contact 連絡先 聯絡資訊 联系人 ข้อมูลติดต่อ 연락처"),
):
    for _word in _words.split():
        _PLACEHOLDERS[f"[{_word.replace('_', ' ')}]"] = (_kind, _media)
_UNSENT = re.compile(
    r"unsent a message|送信を取り消しました|收回(?:了)?訊息|撤回了一条消息|已收回訊息"
    r"|ยกเลิกข้อความ|메시지 전송을 취소"
)


def _date_of(line: str, order: str) -> date | None:
    """The day a date line starts, or None when the line is not one."""
    text = line.strip()
    if not text or len(text) > 40:
        return None
    for pattern in (_YMD, _CJK_DATE):
        match = pattern.fullmatch(text)
        if match:
            return _day(match["y"], match["m"], match["d"])
    match = _WEEKDAY_FIRST.fullmatch(text)
    if match:
        return _day(*in_order(match["a"], match["b"], match["y"], order))
    return None


def _day(year: str, month: str, day: str) -> date | None:
    try:
        return date(gregorian(int(year)), int(month), int(day))
    except ValueError:
        return None


def _time(text: str) -> tuple[int, int] | None:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["mi"])
    meridiem = match["pre"] or (match["post"] or "").replace(".", "").upper()[:1]
    if meridiem:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if meridiem in _AFTERNOON else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def _message_parts(line: str) -> tuple[tuple[int, int], str | None, str] | None:
    """(time, sender, text) of a message line; sender None for a notice."""
    parts = line.split("\t", 2)
    if len(parts) < 2:
        return None
    when = _time(parts[0])
    if when is None:
        return None
    if len(parts) == 2:
        return when, None, parts[1]
    return when, parts[1] or None, parts[2]


def _closes_quote(line: str) -> bool:
    """Whether a line ends a quoted message: an odd run of quotes at its end (`""` is a quote
    the person typed)."""
    return (len(line) - len(line.rstrip('"'))) % 2 == 1


def _chat_name(header: str, fallback: str) -> str:
    name = header.removeprefix("\ufeff").removeprefix("[LINE]").strip()
    name = _HEADER_AFFIXES.sub("", name).strip()
    return name or fallback


def looks_like_line(source: Source) -> bool:
    """Whether a file starts as LINE's export: its `[LINE]` header, or date lines and
    tab-separated message lines."""
    try:
        head = source.head()
    except OSError:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode()
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    lines = [line.rstrip("\r") for line in text.split("\n")[:HEAD_LINES] if line.strip()]
    if not lines:
        return False
    if lines[0].startswith("[LINE]"):
        return True
    dates = sum(1 for line in lines if _date_of(line, "mdy") or _date_of(line, "dmy"))
    said = sum(1 for line in lines if _message_parts(line) is not None)
    return dates >= 1 and said >= 2 and dates + said >= 0.6 * len(lines)


def find_line(sources: Sequence[Source]) -> list[Source]:
    """The LINE exports among `sources` (.txt files, or the one file named)."""
    alone = len(sources) == 1
    texts = [s for s in sources if alone or s.label.lower().endswith(".txt")]
    return [s for s in texts[:200] if looks_like_line(s)]


def _date_order(source: Source, problems: Counter[str]) -> str:
    """The order of day and month in the file's weekday-first dates (`dates.infer_order`);
    month first when none says, as the US app writes them."""
    dates = DateFields()
    with source.open() as raw, io.BufferedReader(raw) as stream:  # type: ignore[arg-type]
        for line in text_lines(stream, Counter()):
            match = _WEEKDAY_FIRST.fullmatch(line.strip())
            if match:
                dates.add(match["a"], match["b"], match["y"], "/")
    order, problem = infer_order(dates, habit="mdy")
    if problem:
        problems[problem] += dates.dates
    return order


def _classify(text: str, sender: str | None) -> tuple[Kind, str | None]:
    if sender is None:
        return Kind.SERVICE, None
    if text in _PLACEHOLDERS:
        return _PLACEHOLDERS[text]
    if text.startswith("☎"):
        return Kind.CALL, None
    if _UNSENT.search(text):
        return Kind.DELETED, None
    return Kind.TEXT, None


def read_line_file(
    source: Source, stream: io.BufferedReader, problems: Counter[str]
) -> Iterator[Message]:
    """The messages of one LINE export."""
    name = base_name(source.label).removesuffix(".txt")
    chat = name
    order = _date_order(source, problems)
    day: date | None = None
    pending: dict | None = None  # the message being read: its text may go on
    quoted = False
    blanks = 0
    number = 0

    def finish() -> Message | None:
        if pending is None:
            return None
        text = pending["text"]
        if pending["quoted"]:
            text = text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:]
            text = text.replace('""', '"')
        kind, media = _classify(text, pending["sender"])
        return Message(
            platform=PLATFORM,
            chat_id=chat,
            id=str(pending["id"]),
            timestamp=pending["time"],
            sender=pending["sender"],
            text=text if kind in (Kind.TEXT, Kind.SERVICE, Kind.CALL) else "",
            kind=kind,
            chat_name=chat,
            chat_type="line_chat",
            tz_known=False,
            media_type=media,
        )

    for index, line in enumerate(text_lines(stream, problems)):
        if index == 0 and line.startswith("[LINE]"):
            chat = _chat_name(line, name)
            continue
        if quoted:
            pending["text"] += "\n" + line  # type: ignore[index]
            if _closes_quote(line):
                quoted = False
            continue
        if not line.strip():
            blanks += 1
            continue
        new_day = _date_of(line, order)
        parts = None if new_day else _message_parts(line)
        if new_day is None and parts is None:
            if pending is not None:
                pending["text"] += "\n" * (blanks + 1) + line
            elif day is not None:
                problems["unparsed line"] += 1
            # before the first date: the header's "Saved on" line
            blanks = 0
            continue
        blanks = 0
        message = finish()
        pending = None
        if message is not None:
            yield message
        if new_day is not None:
            day = new_day
            continue
        assert parts is not None
        (hour, minute), sender, text = parts
        if day is None:
            problems["message before the first date"] += 1
            continue
        number += 1
        starts_quote = text.startswith('"') and not _closes_quote(text[1:])
        pending = {
            "id": number,
            "time": datetime(day.year, day.month, day.day, hour, minute),
            "sender": sender,
            "text": text,
            "quoted": starts_quote,
        }
        quoted = starts_quote
    message = finish()
    if message is not None:
        yield message


def LineExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """LINE exports, one chat a file."""
    return FilesExport(PLATFORM, sources, read_line_file, label)
