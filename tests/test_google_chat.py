"""Google Chat from Google Takeout: a space's messages.json beside its group_info.json,
attachments with and without words, deletions, the Takeout zip, and the round trip."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, read_export

CHAT = FIXTURES / "google_chat" / "Google Chat"


def read(path: Path) -> tuple:
    export = read_export(path)
    return export, list(export)


def test_a_space():
    export, messages = read(CHAT)
    assert export.format == "google_chat" and not export.problems
    assert [(m.sender, m.text, m.kind, m.media_type) for m in messages] == [
        ("Ann Lee", "Morning! Are we still on?", Kind.TEXT, None),
        ("Bob", "yes https://example.com", Kind.TEXT, None),
        ("Bob", "", Kind.MEDIA, "photo"),
        ("Ann Lee", "the view", Kind.MEDIA, "video_file"),
        ("Ann Lee", "", Kind.DELETED, None),
    ]
    assert messages[2].timestamp == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # 12:00 PM
    assert {m.chat_name for m in messages} == {"Weekend Trip"}
    assert messages[0].sender_id == "ann@example.com"


def test_a_byte_order_mark_is_read_past(tmp_path):
    folder = tmp_path / "Google Chat" / "Groups" / "Space AAAAb1"
    folder.mkdir(parents=True)
    for file in (CHAT / "Groups" / "Space AAAAb1").iterdir():
        (folder / file.name).write_bytes(b"\xef\xbb\xbf" + file.read_bytes())
    _, messages = read(tmp_path / "Google Chat")
    assert [m.text for m in messages] == [m.text for m in read(CHAT)[1]]


def test_the_takeout_zip(tmp_path):
    archive = tmp_path / "takeout-20240302T100000Z-001.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in CHAT.rglob("*"):
            if path.is_file():
                out.write(path, "Takeout/" + path.relative_to(CHAT.parent).as_posix())
    _, messages = read(archive)
    assert len(messages) == 5 and {m.chat_id for m in messages} == {"Space AAAAb1"}


def test_the_unzipped_takeout_and_the_folder_above_it(tmp_path):
    """Takeout unzips to `takeout-…/Takeout/Google Chat/Groups/Space x/messages.json`, five
    folders down from where a user may point."""
    top = tmp_path / "takeout-20240302T100000Z-001"
    shutil.copytree(CHAT, top / "Takeout" / "Google Chat")
    for path in (top, top / "Takeout"):
        _, messages = read(path)
        assert len(messages) == 5 and {m.chat_id for m in messages} == {"Space AAAAb1"}


def test_a_date_in_another_layout_is_counted_and_the_message_kept(tmp_path):
    path = tmp_path / "DM x" / "messages.json"
    path.parent.mkdir()
    message = {"creator": {"name": "Ann"}, "created_date": "vendredi 1 mars 2024", "text": "hi"}
    path.write_text(json.dumps({"messages": [message]}), "utf-8")
    export, messages = read(path)
    assert [(m.text, m.timestamp) for m in messages] == [("hi", None)]
    assert sum(export.problems.values()) == 1


def test_a_truncated_file_gives_one_line_naming_the_fix(tmp_path):
    path = tmp_path / "DM x" / "messages.json"
    path.parent.mkdir()
    path.write_bytes((CHAT / "Groups" / "Space AAAAb1" / "messages.json").read_bytes()[:700])
    with pytest.raises(TwinchatError, match="not whole JSON .*download the Takeout archive"):
        list(read_export(path))


def test_round_trip_of_every_readers_conversation(tmp_path):
    rows = []
    for n, line in enumerate(CONVERSATION):
        hour = line.time.hour % 12 or 12
        stamp = (
            f"{line.time:%A, %B} {line.time.day}, {line.time.year} at {hour}:"
            f"{line.time:%M:%S}\u202f{'AM' if line.time.hour < 12 else 'PM'} UTC"
        )
        row = {
            "creator": {"name": line.sender, "email": f"u{n}@example.com", "user_type": "Human"},
            "created_date": stamp,
            "topic_id": f"t{n}",
            "message_id": f"S/t{n}/t{n}",
        }
        if line.text:
            row["text"] = line.text
        if line.kind == Kind.MEDIA:
            row["attached_files"] = [{"original_name": f"{n}.jpg", "export_name": f"File-{n}.jpg"}]
        rows.append(row)
    path = tmp_path / "Groups" / "DM 1" / "messages.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"messages": rows}, ensure_ascii=False), "utf-8")
    export, messages = read(path)
    assert_same(messages, CONVERSATION)
    assert not export.problems


def read_dates(tmp_path: Path, *dates: str) -> tuple:
    """A DM's messages.json in Takeout's shape with one message per date, read back."""
    path = tmp_path / "Google Chat" / "Groups" / "DM 4d2bAAAAE" / "messages.json"
    path.parent.mkdir(parents=True)
    rows = [
        {
            "creator": {"name": "Ann Lee", "email": "ann@example.com", "user_type": "Human"},
            "created_date": date,
            "text": f"message {n}",
            "topic_id": f"t{n}",
            "message_id": f"DM/t{n}/t{n}",
        }
        for n, date in enumerate(dates)
    ]
    path.write_text(json.dumps({"messages": rows}, ensure_ascii=False), "utf-8")
    return read(tmp_path / "Google Chat")


WHEN = datetime(2021, 1, 6, 14, 39, 43, tzinfo=UTC)


@pytest.mark.parametrize(
    "date",
    [
        # layouts seen in real exports (google_chat.py's docstring names where)
        "Wednesday, January 6, 2021 at 2:39:43\u202fPM UTC",
        "Wednesday, 6 January 2021 at 14:39:43 UTC",
        "2021. január 6., szerda 14:39:43 UTC",
        "2021年1月6日星期三 UTC 14:39:43",
        "2021년 1월 6일 수요일 PM 2시 39분 43초 UTC",
        # layouts not yet seen, as these languages write a full date and time
        "2021년 1월 6일 수요일 오후 2시 39분 43초 UTC",
        "2021年1月6日水曜日 14時39分43秒 UTC",
        "Mittwoch, 6. Januar 2021 um 14:39:43 UTC",
        "mercredi 6 janvier 2021 à 14:39:43 UTC",
        "miércoles, 6 de enero de 2021, 14:39:43 UTC",
        "miércoles, 6 de enero de 2021, 2:39:43\u202fp.\u00a0m. UTC",
        "quarta-feira, 6 de janeiro de 2021 14:39:43 UTC",
        "mercoledì 6 gennaio 2021 alle ore 14:39:43 UTC",
        "woensdag 6 januari 2021 om 14:39:43 UTC",
        "środa, 6 stycznia 2021 14:39:43 UTC",
        "среда, 6 января 2021 г., 14:39:43 UTC",
    ],
)
def test_a_date_in_each_language_and_region(tmp_path, date):
    export, messages = read_dates(tmp_path, date)
    assert [(m.timestamp, m.tz_known) for m in messages] == [(WHEN, True)]
    assert not export.problems


def test_the_dates_as_found_in_real_exports(tmp_path):
    _, messages = read_dates(
        tmp_path,
        "Tuesday, 7 February 2021 at 17:13:43 UTC",
        "2015. február 15., vasárnap 21:54:36 UTC",
        "2026年5月29日星期五 UTC 03:00:29",
        "2022년 11월 21일 월요일 AM 1시 26분 8초 UTC",
    )
    assert [m.timestamp for m in messages] == [
        datetime(2021, 2, 7, 17, 13, 43, tzinfo=UTC),
        datetime(2015, 2, 15, 21, 54, 36, tzinfo=UTC),
        datetime(2026, 5, 29, 3, 0, 29, tzinfo=UTC),
        datetime(2022, 11, 21, 1, 26, 8, tzinfo=UTC),
    ]


def test_the_us_layout_reads_as_before_round_the_clock(tmp_path):
    _, messages = read_dates(
        tmp_path,
        "Friday, January 1, 2021 at 12:00:05 AM UTC",
        "Friday, January 1, 2021 at 12:30:00 PM UTC",
        "Thursday, November 3, 2016 at 11:59:50 AM UTC",
        "Friday, December 31, 2021 at 11:59:59\u202fPM UTC",
    )
    assert [m.timestamp for m in messages] == [
        datetime(2021, 1, 1, 0, 0, 5, tzinfo=UTC),
        datetime(2021, 1, 1, 12, 30, tzinfo=UTC),
        datetime(2016, 11, 3, 11, 59, 50, tzinfo=UTC),
        datetime(2021, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]


def test_an_offset_from_utc_is_applied(tmp_path):
    _, messages = read_dates(
        tmp_path,
        "Mittwoch, 6. Januar 2021 um 15:39:43 UTC+1",
        "mercredi 6 janvier 2021 à 15:39:43 GMT+01:00",
        "Wednesday, January 6, 2021 at 9:09:43 AM GMT-05:30",
    )
    assert [m.timestamp for m in messages] == [WHEN, WHEN, WHEN]


def test_an_edit_time_in_another_language_is_read(tmp_path):
    path = tmp_path / "Groups" / "DM 1" / "messages.json"
    path.parent.mkdir(parents=True)
    message = {
        "creator": {"name": "Ann", "email": "ann@example.com", "user_type": "Human"},
        "created_date": "Tuesday, 5 January 2021 at 09:00:00 UTC",
        "updated_date": "Wednesday, 6 January 2021 at 14:39:43 UTC",
        "text": "fixed",
    }
    path.write_text(json.dumps({"messages": [message]}), "utf-8")
    _, messages = read(path)
    assert messages[0].edited == WHEN


@pytest.mark.parametrize(
    "date",
    [
        "Mittwoch, 6. Januar 2021 um 14:39:43 MEZ",  # a named zone: its offset would be a guess
        "6 1 2021 14:39:43 UTC",  # which is the day, which the month?
        "Wednesday, January 6, 2021 at 14:39:43 PM UTC",  # a 24-hour hour with PM
        "Wednesday, February 31, 2021 at 2:39:43 PM UTC",  # a day that does not exist
        "Wednesday, Janvember 6, 2021 at 2:39:43 PM UTC",  # no month
    ],
)
def test_a_date_not_read_for_sure_is_counted_and_the_message_kept(tmp_path, date):
    export, messages = read_dates(tmp_path, date, "Wednesday, January 6, 2021 at 2:39:43 PM UTC")
    assert [(m.text, m.timestamp) for m in messages] == [("message 0", None), ("message 1", WHEN)]
    assert sum(export.problems.values()) == 1
