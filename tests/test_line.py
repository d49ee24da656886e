"""LINE's exported chat history: every UI language's header, dates and times, quoted messages
of several lines, placeholders, notices, and the round trip of every reader's conversation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, read_export

LINE = FIXTURES / "line"


def read(path: Path) -> tuple:
    export = read_export(path)
    return export, list(export)


def test_an_android_export_in_english():
    export, messages = read(LINE / "en_android.txt")
    assert export.format == "line" and not export.problems
    assert [(m.sender, m.text, m.kind) for m in messages] == [
        ("Ann", "Morning!", Kind.TEXT),
        ("Bob", 'two\nlines with a "quote"', Kind.TEXT),
        ("Ann", "", Kind.STICKER),
        ("Ann", "", Kind.MEDIA),
        (None, "Bob joined the group.", Kind.SERVICE),
        ("Bob", "", Kind.DELETED),
        ("Bob", "☎ Call time 0:32", Kind.CALL),
        ("Ann", "night", Kind.TEXT),
    ]
    assert messages[0].timestamp == datetime(2024, 3, 1, 9, 15) and not messages[0].tz_known
    assert messages[-1].timestamp == datetime(2024, 3, 2, 23, 5)  # Sat, 03/02/2024 11:05PM
    assert {m.chat_name for m in messages} == {"Weekend Trip"}


@pytest.mark.parametrize(
    ("name", "chat", "expected"),
    [
        (
            "ja_ios.txt",
            "週末旅行",
            [
                ("あん", "おはよう", Kind.TEXT, datetime(2024, 3, 1, 9, 15)),
                ("ぼぶ", "", Kind.STICKER, datetime(2024, 3, 1, 13, 5)),
                ("ぼぶ", "", Kind.MEDIA, datetime(2024, 3, 1, 13, 6)),
            ],
        ),
        (
            "zh-TW.txt",
            "小明",
            [
                ("小明", "早安", Kind.TEXT, datetime(2024, 3, 1, 9, 15)),
                ("我", "", Kind.STICKER, datetime(2024, 3, 1, 23, 59)),
            ],
        ),
    ],
)
def test_other_ui_languages(name, chat, expected):
    export, messages = read(LINE / name)
    assert [(m.sender, m.text, m.kind, m.timestamp) for m in messages] == expected
    assert {m.chat_name for m in messages} == {chat} and not export.problems


def test_day_first_dates_are_inferred_from_the_file(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text(
        "[LINE] Chat history with Ann\n\nFri, 01/03/2024\n09:00\tAnn\ta\n\n"
        "Wed, 13/03/2024\n09:00\tAnn\tb\n",
        encoding="utf-8",
    )
    _, messages = read(path)
    assert [m.timestamp for m in messages] == [datetime(2024, 3, 1, 9), datetime(2024, 3, 13, 9)]


def test_inconsistent_dates_follow_the_majority_and_are_counted(tmp_path):
    path = tmp_path / "chat.txt"
    days = ("Fri, 01/03/2024", "Wed, 13/03/2024", "Thu, 14/03/2024", "Thu, 03/14/2024")
    path.write_text(
        "[LINE] Chat history with Ann\n" + "".join(f"\n{d}\n09:00\tAnn\thi\n" for d in days),
        encoding="utf-8",
    )
    export, messages = read(path)
    assert [m.timestamp for m in messages[:3]] == [
        datetime(2024, 3, 1, 9),
        datetime(2024, 3, 13, 9),
        datetime(2024, 3, 14, 9),
    ]
    assert export.problems == {"date order inconsistent": 4}


def test_unquoted_lines_continue_the_message_before(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text(
        "[LINE] Chat history with Ann\n\n2015/12/25 Fri\n07:33\tAnn\tline one\n\nline three\n"
        "07:34\tBob\tok\n",
        encoding="utf-8",
    )
    _, messages = read(path)
    assert [m.text for m in messages] == ["line one\n\nline three", "ok"]


def test_a_chat_without_line_s_header_is_recognised_by_its_lines(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text("2024/03/01(Fri)\n09:15\tAnn\thi\n09:16\tBob\they\n", encoding="utf-8")
    export, messages = read(path)
    assert export.format == "line" and [m.sender for m in messages] == ["Ann", "Bob"]


def test_a_message_before_any_date_is_counted(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("[LINE] Chat history with Ann\n09:15\tAnn\thi\n", encoding="utf-8")
    export, messages = read(path)
    assert messages == [] and export.problems == {"message before the first date": 1}


def test_forcing_line_on_something_else_names_the_fix(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(TwinchatError, match=r"no LINE chat found; point at the \.txt of LINE"):
        read_export(path, source="line")


def test_round_trip_of_every_readers_conversation(tmp_path):
    """LINE sends a photo and its words apart: a captioned photo comes back as the photo."""
    lines = [replace(line, text="") if line.kind == Kind.MEDIA else line for line in CONVERSATION]
    out = ["[LINE] Chat history with Plans", "Saved on: 2024/03/02 10:00", ""]
    day = None
    for line in lines:
        if line.time.date() != day:
            day = line.time.date()
            out += ["", f"{line.time:%Y/%m/%d(%a)}"]
        text = "[Photo]" if line.kind == Kind.MEDIA else line.text
        if "\n" in text or text.startswith('"'):
            text = '"' + text.replace('"', '""') + '"'
        out.append(f"{line.time:%H:%M}\t{line.sender}\t{text}")
    path = tmp_path / "[LINE] Chat with Plans.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    export, messages = read(path)
    assert_same(messages, lines)
    assert not export.problems and {m.chat_name for m in messages} == {"Plans"}


def test_buddhist_years_of_a_thai_phone_in_english(tmp_path):
    """Tenyyy/Line-chat-analytics's export: English UI, Thai calendar (`10/07/2562 BE`, day
    first), CRLF records and a bare LF inside a quoted message; it read no message at all."""
    path = tmp_path / "chat.txt"
    path.write_bytes(
        "[LINE] Chat history with Kai\r\nSaved on: 14/06/2565 BE 19:01\r\n\r\n"
        "Wed, 10/07/2562 BE\r\n19:10\tKai\thi\r\n19:10\t\tKai unsent a message.\r\n"
        '19:11\tNoi\t"two\n\nlines"\r\n19:12\tNoi\t[Photo]\r\n19:13\tKai\t☎ Missed call\r\n'
        "\r\nTue, 14/06/2565 BE\r\n18:59\tNoi\t555\r\n".encode()
    )
    export, messages = read(path)
    assert [(m.sender, m.text, m.kind) for m in messages] == [
        ("Kai", "hi", Kind.TEXT),
        (None, "Kai unsent a message.", Kind.SERVICE),
        ("Noi", "two\n\nlines", Kind.TEXT),
        ("Noi", "", Kind.MEDIA),
        ("Kai", "☎ Missed call", Kind.CALL),
        ("Noi", "555", Kind.TEXT),
    ]
    assert [messages[0].timestamp, messages[-1].timestamp] == [
        datetime(2019, 7, 10, 19, 10),
        datetime(2022, 6, 14, 18, 59),
    ]
    assert {m.chat_name for m in messages} == {"Kai"} and not export.problems
