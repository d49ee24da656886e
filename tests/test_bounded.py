"""Input is bounded: only regular files are read, zip members are checked before they are
extracted, and control characters never reach the outputs."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest
from conftest import conversation

from twinchat import TwinchatError, prepare, read_export
from twinchat.data.readers import imessage
from twinchat.data.readers.source import sources_of


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_at_once_with_one_line():
    with pytest.raises(TwinchatError, match=r"^/dev/zero is not a regular file .*point at") as err:
        read_export("/dev/zero")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_reading_it(tmp_path):
    pipe = tmp_path / "result.json"
    os.mkfifo(pipe)  # opening it for reading would wait forever for a writer
    with pytest.raises(TwinchatError, match="not a regular file"):
        sources_of(pipe)


def test_a_zip_member_that_would_expand_like_a_bomb_is_refused_before_extraction(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("result.json", "{}")
        with zf.open("_chat.txt", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(80):  # 80 MiB of zeros, a few tens of KiB compressed
                member.write(block)
    with pytest.raises(TwinchatError, match=r"_chat.txt would expand [\d,]+ times"):
        read_export(archive)


def test_a_zipped_database_is_recognised_without_being_copied_out(tmp_path, monkeypatch):
    db_path = tmp_path / "notes.sqlite"
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE note (id INTEGER, body TEXT)")
        db.executemany("INSERT INTO note VALUES (?, ?)", [(i, "x" * 100) for i in range(2000)])
    db.close()
    archive = tmp_path / "backup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(db_path, "backup/notes.sqlite")

    def no_copy(*args, **kwargs):
        raise AssertionError("the member was copied out to be recognised")

    monkeypatch.setattr(imessage.shutil, "copyfileobj", no_copy)
    assert imessage.find_imessage(sources_of(archive)) is None


def test_a_zipped_database_bigger_than_the_free_disk_is_refused_before_copying(
    tmp_path, monkeypatch
):
    db_path = tmp_path / "chat.db"
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE message (ROWID INTEGER PRIMARY KEY, text TEXT)")
        db.execute("CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT)")
    db.close()
    archive = tmp_path / "backup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(db_path, "chat.db")
    monkeypatch.setattr(
        imessage.shutil,
        "disk_usage",
        lambda _: type("Usage", (), {"free": 1000, "total": 1000, "used": 0})(),
    )
    with pytest.raises(TwinchatError, match=r"extracting the database needs [\d,]+ bytes"):
        list(read_export(archive))


def test_nul_and_control_characters_never_reach_the_outputs(write_export, tmp_path):
    messages = conversation(
        [("Ann", "hello\x00 there", 0), ("Bo\x07b", "ye\x1bs\tok\nsure", 30), ("Ann", "fine", 30)]
    )
    out = tmp_path / "out"
    prepare([write_export(messages)], out)
    records = [json.loads(line) for line in (out / "messages.jsonl").read_text().splitlines()]
    assert [(r["sender"], r["text"]) for r in records] == [
        ("Ann", "hello there"),
        ("Bob", "yes\tok\nsure"),
        ("Ann", "fine"),
    ]
