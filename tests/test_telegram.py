"""The Telegram reader against the quirks of formats.md §1, on the project's own fixtures."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import SHARED, TELEGRAM, telegram_message
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, prepare, read_export
from twinchat.data.readers.telegram import EscapeFixingStream


def by_id(path):
    return {m.id: m for m in read_export(path)}


def test_text_as_string_or_list_of_parts_joined_without_separator():
    messages = by_id(TELEGRAM / "single_chat.json")
    assert messages["2"].text == "anyone up for hiking on saturday?"
    assert messages["3"].text == "yes! count me in, see https://trails.example.org/x"
    assert messages["12"].text == "new day, new plan:\nmeet at 8"


def test_every_kind_is_kept_with_its_kind():
    messages = by_id(TELEGRAM / "single_chat.json")
    kinds = {i: m.kind for i, m in messages.items()}
    assert kinds["1"] is Kind.SERVICE and messages["1"].action == "create_group"
    assert (
        kinds["4"] is Kind.MEDIA
        and messages["4"].text == ""
        and messages["4"].media_type == "photo"
    )
    assert kinds["5"] is Kind.MEDIA and messages["5"].text == "the view from last time"  # caption
    assert kinds["6"] is Kind.STICKER and messages["6"].emoji == "😍"
    assert kinds["7"] is Kind.UNSUPPORTED and messages["7"].timestamp is None
    assert kinds["8"] is Kind.POLL and messages["8"].text == "where exactly?"
    assert kinds["11"] is Kind.CALL
    assert kinds["13"] is Kind.LOCATION
    assert len(messages) == 15


def test_sender_fields_replies_forwards_and_edits():
    messages = by_id(TELEGRAM / "single_chat.json")
    assert messages["2"].sender == "Jamie 🎸" and messages["2"].sender_id == "user111"
    assert messages["9"].sender is None and messages["9"].sender_id == "user999"  # from: null
    assert messages["3"].reply_to == "2"
    assert messages["10"].forwarded_from == "(hidden)"
    assert messages["12"].edited == datetime(2024, 3, 1, 13, 31, tzinfo=UTC)
    assert messages["2"].chat_name == "Weekend plans" and messages["2"].chat_type == "private_group"


def test_unixtime_gives_aware_utc():
    message = by_id(TELEGRAM / "single_chat.json")["2"]
    assert message.tz_known and message.timestamp == datetime(2024, 3, 1, 9, 1, tzinfo=UTC)


def test_a_byte_order_mark_is_read_past(tmp_path):
    """An editor that saved result.json again may put a BOM first, which JSON parsers refuse."""
    path = tmp_path / "result.json"
    path.write_bytes(b"\xef\xbb\xbf" + (TELEGRAM / "single_chat.json").read_bytes())
    export = read_export(path)
    assert list(by_id(path)) == list(by_id(TELEGRAM / "single_chat.json"))
    list(export)
    assert export.bytes_read == export.source.size


def test_old_export_without_unixtime_and_with_numeric_from_id():
    messages = by_id(TELEGRAM / "old_export.json")
    first = messages["100"]
    assert not first.tz_known and first.timestamp == datetime(2019, 5, 4, 22, 10)
    assert first.sender_id == "user777"
    assert messages["101"].text == "no date_unixtime here"
    assert first.to_dict()["timestamp"] == "2019-05-04T22:10:00"


def test_full_export_reads_chats_and_left_chats_once():
    export = read_export(TELEGRAM / "full_export.json")
    messages = list(export)
    keys = [(m.chat_id, m.id) for m in messages]
    assert len(keys) == len(set(keys)) == 5
    assert ("9001", "4") in keys  # only in left_chats
    assert export.chats == 2
    saved = next(m for m in messages if m.chat_id == "42")
    assert saved.chat_name is None and saved.chat_type == "saved_messages"


def test_invalid_hex_escapes_are_repaired():
    messages = {m.id: m for m in read_export(TELEGRAM / "full_export.json") if m.chat_id == "9001"}
    assert messages["2"].text == "bell \x07 and form feed \x0c, a literal \\x41 stays"


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 64])
def test_escape_repair_survives_any_read_size(size):
    raw = b'"a\\x41 \\\\x42 \\\\\\x43 \\x0C"'
    stream = EscapeFixingStream(io.BytesIO(raw))
    chunks = []
    while chunk := stream.read(size):
        chunks.append(chunk)
    assert json.loads(b"".join(chunks)) == "aA \\x42 \\C \x0c"


def test_folder_and_zip_of_an_export(tmp_path):
    folder = tmp_path / "Telegram Desktop" / "ChatExport_2024-03-02"
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8")
    (folder / "result.json").write_bytes((TELEGRAM / "single_chat.json").read_bytes())
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(folder / "result.json", "ChatExport_2024-03-02/result.json")
        z.write(folder / "photos" / "photo_1.jpg", "ChatExport_2024-03-02/photos/photo_1.jpg")
    for path in (tmp_path / "Telegram Desktop", folder, archive):
        assert len(list(read_export(path))) == 15


def test_an_html_page_without_messages_names_the_fix():
    """HTML exports are read (test_telegram_html.py); a page with no history says what to do."""
    with pytest.raises(TwinchatError, match=r"HTML export without any message.*Machine-readable"):
        read_export(TELEGRAM / "html_export")


def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(TwinchatError, match="no such file"):
        read_export(tmp_path / "nope.json")
    (tmp_path / "notes.txt").write_text("just some text")
    with pytest.raises(TwinchatError, match="supported: Telegram"):
        read_export(tmp_path / "notes.txt")
    (tmp_path / "other.json").write_text('{"name": "x", "type": "y"}')
    with pytest.raises(TwinchatError, match="not a Telegram export"):
        list(read_export(tmp_path / "other.json"))


def test_truncated_json_says_where(tmp_path):
    data = (TELEGRAM / "single_chat.json").read_bytes()
    broken = tmp_path / "result.json"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        TwinchatError, match=r"not valid JSON near byte [\d,]+ .*export the chat again"
    ):
        list(read_export(broken))


def test_malformed_messages_are_counted_not_fatal(write_export):
    path = write_export(
        [
            {"id": 1, "type": "message", "date_unixtime": "1700000000", "from": "A", "text": "ok"},
            {"id": 2, "type": "message", "date_unixtime": "soon", "from": "A", "text": "x"},
            {"type": "message", "text": "no id"},
            {"id": 4, "type": "message", "date_unixtime": "1700000001", "from": "A", "text": 5},
            "not an object",
        ]
    )
    export = read_export(path)
    assert [m.id for m in export] == ["1"]
    assert export.problems == {
        "malformed message: date_unixtime is not a number": 1,
        "malformed message: no id": 1,
        "malformed message: text of type int": 1,
        "malformed message: not an object": 1,
    }


def test_old_full_export_with_odd_optional_fields_keeps_every_message():
    """tdesktop of 2019-2020 wrote `edited` as local epoch 0 ("1970-01-01T05:30:00" in India)
    on every unedited message, and bare numeric ids; an odd optional field never drops one."""
    export = read_export(TELEGRAM / "full_export_2020.json")
    messages = {m.id: m for m in export}
    assert len(messages) == 13 and export.chats == 3
    assert messages["101"].text == "are we still on for chai at 5?"
    assert messages["101"].edited is None and not messages["101"].tz_known
    assert messages["103"].edited == datetime(2019, 11, 2, 16, 43)
    assert messages["105"].text == "that place again 😄" and messages["105"].reply_to == "104"
    assert messages["106"].kind is Kind.CALL and messages["1"].kind is Kind.SERVICE
    assert messages["107"].kind is Kind.POLL  # a poll whose question is not text
    assert messages["4"].sender is None and messages["4"].sender_id == "user9003"
    assert not export.problems  # every message was read
    assert export.notes == {"unreadable 'edited' field (left out; the message is kept)": 1}


def test_every_message_rejected_says_how_many_and_why(write_export, tmp_path):
    path = write_export(
        [
            {"id": i, "type": "message", "date": "1970-01-01T05:30:00", "from": "A", "text": "x"}
            for i in range(3)
        ]
    )
    with pytest.raises(
        TwinchatError,
        match=r"no message could be read, 3 rejected \(3 malformed message: date in 1970",
    ):
        prepare([path], tmp_path / "out")


def test_streaming_reads_one_message_at_a_time(write_export):
    """Messages come out before the file has been read to its end."""
    messages = [
        {
            "id": i,
            "type": "message",
            "date_unixtime": str(1700000000 + i),
            "from": "A",
            "text": "x" * 200,
        }
        for i in range(20000)
    ]
    export = read_export(write_export(messages))
    iterator = iter(export)
    next(iterator)
    assert export.bytes_read < export.source.size / 4


@pytest.mark.skipif(not (SHARED / "samples").exists(), reason="needs ../shared/samples")
def test_real_sample_from_chat_analytics():
    messages = list(read_export(SHARED / "samples" / "telegram" / "chat-analytics_DM_2A_7M.json"))
    assert len(messages) == 8
    assert messages[1].text == "https://google.com 👀"
    assert sum(m.kind is Kind.TEXT for m in messages) == 4


def test_round_trip(tmp_path):
    messages = []
    for i, line in enumerate(CONVERSATION, 1):
        local = line.time.astimezone(timezone(timedelta(hours=3)))  # Desktop writes local time
        message = telegram_message(i, line.sender, line.text, int(line.time.timestamp()))
        message["date"] = local.replace(tzinfo=None).isoformat()
        if line.kind == Kind.MEDIA:
            message.update(photo="(File not included. Change data exporting settings to download.)")
            message.update(width=1280, height=960)
        messages.append(message)
    chat = {"name": "Plans", "type": "private_group", "id": 7, "messages": messages}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")
    assert_same(read_export(path))
