"""Google Chat from Google Takeout: a space's messages.json beside its group_info.json,
attachments with and without words, deletions, the Takeout zip, and the round trip."""

from __future__ import annotations

import json
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
