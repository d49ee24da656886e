"""Element's JSON export of a Matrix room: display names, replies without their quoted
fallback, edits applied, media with and without captions, and the round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, read_export

ROOM = FIXTURES / "matrix" / "matrix - Weekend Trip - Chat Export - 2024-03-02T10-00-00.000Z.json"


def read(path: Path) -> tuple:
    export = read_export(path)
    return export, list(export)


def test_an_element_export():
    export, messages = read(ROOM)
    assert export.format == "matrix" and export.chats == 1
    said = [(m.sender, m.text, m.kind) for m in messages if m.kind != Kind.SERVICE]
    assert said == [
        ("Ann Lee", "see you at 9", Kind.TEXT),  # its edit's text
        ("Bob", "yes, 8pm", Kind.TEXT),  # the quoted fallback removed
        ("Bob", "", Kind.MEDIA),  # a file's name is not a caption
        ("Ann Lee", "the view", Kind.MEDIA),
        ("Bob", "", Kind.STICKER),
        ("Bob", "waves", Kind.TEXT),
        ("Ann Lee", "", Kind.DELETED),
    ]
    edited = messages[3]
    assert (edited.timestamp, edited.edited) == (
        datetime(2024, 3, 1, 9, 16, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 19, 10, tzinfo=UTC),
    )
    assert messages[4].reply_to == "$e4" and messages[8].action == "me"
    assert {m.chat_name for m in messages} == {"Weekend Trip"}
    assert export.problems == {"event still encrypted (not read)": 1}


def test_a_broken_file_gives_one_line_naming_the_fix(tmp_path):
    path = tmp_path / "room.json"
    path.write_bytes(ROOM.read_bytes()[:1500])
    with pytest.raises(TwinchatError, match=r"not a whole JSON export .*export the room again"):
        list(read_export(path))


def test_round_trip_of_every_readers_conversation(tmp_path):
    events = []
    for n, line in enumerate(CONVERSATION):
        user = "@" + line.sender.split()[0].lower() + ":example.org"
        if not any(e["state_key"] == user for e in events if "state_key" in e):
            member = {"membership": "join", "displayname": line.sender}
            events.append(
                {
                    "type": "m.room.member",
                    "sender": user,
                    "state_key": user,
                    "content": member,
                    "origin_server_ts": 0,
                    "event_id": f"$m{n}",
                }
            )
        content = {"msgtype": "m.text", "body": line.text}
        if line.kind == Kind.MEDIA:
            content = {
                "msgtype": "m.image",
                "body": line.text or f"IMG_{n}.jpg",
                "filename": f"IMG_{n}.jpg",
                "url": "mxc://example.org/x",
            }
        events.append(
            {
                "type": "m.room.message",
                "sender": user,
                "content": content,
                "origin_server_ts": int(line.time.timestamp() * 1000),
                "event_id": f"$e{n}",
            }
        )
    path = tmp_path / "matrix - Plans - Chat Export.json"
    doc = {
        "room_name": "Plans",
        "room_creator": "Alice Martin",
        "topic": "",
        "export_date": "02/03/2024",
        "exported_by": "Bob",
        "messages": events,
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), "utf-8")
    export, messages = read(path)
    assert_same([m for m in messages if m.kind != Kind.SERVICE], CONVERSATION)
    assert not export.problems
