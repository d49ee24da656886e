"""KakaoTalk's exported chats: the Windows, Android, iOS and macOS (CSV) layouts in Korean and
English, placeholders, notices, messages of several lines, and the round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, read_export

KAKAO = FIXTURES / "kakaotalk"


def read(path: Path) -> tuple:
    export = read_export(path)
    return export, list(export)


def summary(messages: list) -> list[tuple]:
    return [(m.sender, m.text, m.kind) for m in messages]


def test_android_in_korean():
    export, messages = read(KAKAO / "android_kr.txt")
    assert export.format == "kakaotalk" and not export.problems
    assert summary(messages) == [
        (None, "민수님이 지현님을 초대했습니다.", Kind.SERVICE),
        ("민수", "토요일에 가요?", Kind.TEXT),
        ("지현", "네!\n\n여덟 시에 만나요", Kind.TEXT),
        ("지현", "", Kind.MEDIA),
        ("민수", "", Kind.DELETED),
    ]
    assert messages[2].timestamp == datetime(2024, 3, 1, 13, 5) and not messages[2].tz_known
    assert {m.chat_name for m in messages} == {"등산 모임"}


def test_ios_in_english():
    _, messages = read(KAKAO / "ios_en.txt")
    assert summary(messages) == [
        (None, "Minsu invited Jihyun.", Kind.SERVICE),
        ("Minsu", "Saturday?", Kind.TEXT),
        ("You", "yes\nsee you at 8", Kind.TEXT),
        ("You", "", Kind.MEDIA),
    ]
    assert messages[2].timestamp == datetime(2024, 3, 1, 12, 5)
    assert {m.chat_name for m in messages} == {"Hiking (3 people)"}


def test_windows_with_days_in_both_languages():
    _, messages = read(KAKAO / "windows_en.txt")
    assert summary(messages) == [
        ("Minsu", "Saturday?", Kind.TEXT),
        ("Jihyun", "yes", Kind.TEXT),
        (None, "Minsu left this chatroom.", Kind.SERVICE),
        ("Jihyun", "", Kind.STICKER),
    ]
    assert [m.timestamp for m in messages] == [
        datetime(2024, 3, 1, 9, 15),
        datetime(2024, 3, 1, 12, 5),
        datetime(2024, 3, 1, 12, 5),  # a notice has no time of its own: the one before's
        datetime(2024, 3, 2, 23, 59),
    ]


def test_the_mac_csv():
    export, messages = read(KAKAO / "mac_kr.csv")
    assert export.format == "kakaotalk"
    assert summary(messages) == [
        ("민수", "토요일에 가요?", Kind.TEXT),
        ("지현", '네!\n여덟 시에 "만나요"', Kind.TEXT),
        ("지현", "", Kind.MEDIA),
        (None, "민수 invited 수진.", Kind.SERVICE),
    ]
    assert messages[0].timestamp == datetime(2024, 3, 1, 9, 15, 2)


def test_a_line_in_the_korean_windows_code_page_is_read_and_counted(tmp_path):
    path = tmp_path / "chat.txt"
    text = "Ann with KakaoTalk Chats\nDate Saved : 2024-03-02 10:30:00\n\n"
    text += "--------------- 2024년 3월 1일 금요일 ---------------\n"
    path.write_bytes(text.encode() + "[앤] [오전 9:15] 안녕\n".encode("cp949"))
    export, messages = read(path)
    assert summary(messages) == [("앤", "안녕", Kind.TEXT)]
    assert export.problems == {"line not UTF-8 (read as cp949)": 1}


def test_forcing_kakaotalk_on_something_else_names_the_fix(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(TwinchatError, match="no KakaoTalk chat found; point at the .txt or .csv"):
        read_export(path, source="kakaotalk")


def test_round_trip_of_every_readers_conversation(tmp_path):
    """As Android writes it in Korean; KakaoTalk sends a photo and its words apart."""
    lines = [replace(line, text="") if line.kind == Kind.MEDIA else line for line in CONVERSATION]
    out = ["약속 님과 카카오톡 대화", "저장한 날짜 : 2024년 3월 2일 오전 10:00", "", ""]
    day = None
    for line in lines:
        t = line.time
        stamp = f"{t.year}년 {t.month}월 {t.day}일 {'오전' if t.hour < 12 else '오후'} "
        stamp += f"{t.hour % 12 or 12}:{t.minute:02}"
        if t.date() != day:
            day = t.date()
            out += ["", stamp]
        out.append(f"{stamp}, {line.sender} : {'<사진>' if line.kind == Kind.MEDIA else line.text}")
    path = tmp_path / "KakaoTalk_20240302.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    export, messages = read(path)
    assert_same(messages, lines)
    assert not export.problems and {m.chat_name for m in messages} == {"약속"}
