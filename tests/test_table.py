"""The table reader: CSV/TSV, JSON Lines and JSON arrays of messages, one rule a test.

Run: pytest tests/test_table.py -q -p no:cacheprovider
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, TELEGRAM
from roundtrip import CONVERSATION, assert_same

from twinchat.data.message import Kind, Message
from twinchat.data.readers.source import file_source, sources_of
from twinchat.data.readers.table import (
    DateOrderUnknown,
    TableExport,
    find_table,
    guess_columns,
    parse_columns,
    read_time,
)
from twinchat.errors import TwinchatError

TABLE = FIXTURES / "table"
WHATSAPP_CHAT = FIXTURES / "whatsapp" / "ios" / "_chat.txt"


def read(path: Path, columns: str | None = None, **options) -> tuple[TableExport, list[Message]]:
    mapping = parse_columns(columns) if columns else None
    export = TableExport(file_source(path), mapping, **options)
    return export, list(export)


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- the column mapping -----------------------------------------------------------------------


def test_parse_columns():
    mapping = parse_columns(
        "sender=author, text=body,time=date,chat=channel,id=msg_id,reply_to=parent,"
        "sender_id=uid,kind=Type Of"
    )
    assert mapping == {
        "sender": "author",
        "text": "body",
        "time": "date",
        "chat": "channel",
        "id": "msg_id",
        "reply_to": "parent",
        "sender_id": "uid",
        "kind": "Type Of",
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sender=a,text=b,colour=c", "unknown field 'colour'"),
        ("sender=a,text", "'text' is not field=column"),
        ("=a,sender=a,text=b", "not field=column"),
        ("sender=a,sender=b,text=c", "mapped twice"),
        ("sender=a", "needs text"),
        ("time=t", "needs sender and text"),
        ("", "needs sender and text"),
        ("sender=,text=b", "needs sender"),
    ],
)
def test_parse_columns_errors_name_the_fields(text, says):
    with pytest.raises(TwinchatError, match=says) as error:
        parse_columns(text)
    assert "sender, text, time, chat, id, reply_to, sender_id, kind" in str(error.value)


def test_a_field_mapped_to_nothing_is_not_guessed(tmp_path):
    path = write(tmp_path, "chat.csv", "who,said,channel\nAna,hi,general\n")
    _, [message] = read(path, "sender=who,text=said,chat=")
    assert (message.sender, message.text, message.chat_id) == ("Ana", "hi", "chat")


def test_a_mapped_column_matches_in_any_case_and_the_rest_is_guessed(tmp_path):
    path = write(tmp_path, "chat.csv", "Who,Said,Timestamp\nAna,hi,2024-03-01T09:15:00Z\n")
    export, [message] = read(path, "sender=who,text=SAID")
    assert export.mapping == {"sender": "Who", "text": "Said", "time": "Timestamp"}
    assert message.timestamp == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)


def test_a_mapped_column_the_table_lacks_is_an_error(tmp_path):
    path = write(tmp_path, "chat.csv", "author,body\nAna,hi\n")
    with pytest.raises(TwinchatError, match=r"no column 'when' for time; its columns: author, b"):
        read(path, "sender=author,text=body,time=when")


# --- guessing the columns from the header -----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["Author", "Message", "Date"], {"sender": "Author", "text": "Message", "time": "Date"}),
        (["FROM", "Body", "Sent At"], {"sender": "FROM", "text": "Body", "time": "Sent At"}),
        (
            ["user", "content", "datetime"],
            {"sender": "user", "text": "content", "time": "datetime"},
        ),
        (["name", "text", "timestamp"], {"sender": "name", "text": "text", "time": "timestamp"}),
        (
            ["conversation", "message_id", "sender", "message", "reply_to", "sender_id", "kind"],
            {
                "sender": "sender",
                "text": "message",
                "chat": "conversation",
                "id": "message_id",
                "reply_to": "reply_to",
                "sender_id": "sender_id",
                "kind": "kind",
            },
        ),
        (["Thread", "Sender", "Text"], {"sender": "Sender", "text": "Text", "chat": "Thread"}),
    ],
)
def test_header_guessing(header, expected):
    guessed = guess_columns(header)
    for name, column in expected.items():
        assert guessed[name] == column


def test_channel_and_id_are_guessed():
    assert guess_columns(["Channel", "Sender", "Text", "ID"]) == {
        "sender": "Sender",
        "text": "Text",
        "chat": "Channel",
        "id": "ID",
    }


def test_separate_date_and_time_columns_are_joined(tmp_path):
    export, messages = read(TABLE / "export.tsv")
    assert export.mapping["time"] == "date+time"
    assert [m.timestamp for m in messages] == [
        datetime(2024, 3, 13, 9, 15),
        datetime(2024, 3, 14, 21, 5, 30),
    ]
    # a column that holds both wins over joining
    assert guess_columns(["date", "time", "timestamp", "from", "text"])["time"] == "timestamp"


def test_no_sender_or_text_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "chat.csv", "when,who,what\n2024-03-01,Ana,hi\n")
    with pytest.raises(TwinchatError) as error:
        read(path)
    message = str(error.value)
    assert "no sender or text column" in message and "(when, who, what)" in message
    assert "--columns sender=...,text=..." in message and "\n" not in message


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "tz_known"),
    [
        ("2024-03-01T09:15:00Z", datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        ("2024-03-01T10:15:00+01:00", datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        ("2024-03-01 09:15:00 UTC", datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        ("2024-03-01T09:15:00.250", datetime(2024, 3, 1, 9, 15, 0, 250000), False),
        ("2024-03-01 09:15", datetime(2024, 3, 1, 9, 15), False),
        ("2024-03-01", datetime(2024, 3, 1), False),
        ("1709284500", datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        ("1709284500123", datetime(2024, 3, 1, 9, 15, 0, 123000, tzinfo=UTC), True),
        (1709284500, datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        (1709284500000, datetime(2024, 3, 1, 9, 15, tzinfo=UTC), True),
        ("1709284500.5", datetime(2024, 3, 1, 9, 15, 0, 500000, tzinfo=UTC), True),
        ("2024/03/01 09:15", datetime(2024, 3, 1, 9, 15), False),
        ("2024-3-1 9:15:07", datetime(2024, 3, 1, 9, 15, 7), False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_time_layouts(value, expected, tz_known):
    assert read_time(value) == (expected, tz_known)


@pytest.mark.parametrize(
    ("value", "order", "expected"),
    [
        ("01/03/2024 09:15", "dmy", datetime(2024, 3, 1, 9, 15)),
        ("01/03/2024 09:15", "mdy", datetime(2024, 1, 3, 9, 15)),
        ("01.03.24 9:15 PM", "dmy", datetime(2024, 3, 1, 21, 15)),
        ("3/1/2024, 12:05 AM", "mdy", datetime(2024, 3, 1, 0, 5)),
        ("01-03-2024", "dmy", datetime(2024, 3, 1)),
    ],
)
def test_day_and_month_dates_follow_the_date_order(value, order, expected):
    assert read_time(value, order) == (expected, False)
    with pytest.raises(DateOrderUnknown):
        read_time(value)


@pytest.mark.parametrize("value", ["yesterday", "Mar 1, 2024", "5", "0001-01-01", "32/13/2024"])
def test_unreadable_times_raise(value):
    with pytest.raises(ValueError):
        read_time(value, "dmy")


def test_an_unreadable_time_keeps_the_message_and_is_counted(tmp_path):
    path = write(tmp_path, "chat.csv", "sender,text,time\nAna,hi,soon\nBo,yo,2024-03-01\n")
    export, messages = read(path)
    assert [(m.text, m.timestamp) for m in messages] == [("hi", None), ("yo", datetime(2024, 3, 1))]
    assert not messages[0].tz_known
    assert export.problems == {"unreadable time": 1}


@pytest.mark.parametrize(
    ("dates", "order", "problems"),
    [
        (["01/03/2024 09:15", "13/03/2024 10:00"], "dmy", {}),  # a day above 12 first
        (["03/01/2024 09:15", "03/13/2024 10:00"], "mdy", {}),
        # dots: day first everywhere, and still a guess (as in WhatsApp chats)
        (["01.03.2024 09:15", "02.03.2024 10:00"], "dmy", {"date order guessed": 2}),
        (["01/03/2024 09:15", "02/03/2024 10:00"], "dmy", {"date order guessed": 2}),
        (["01/03/24 09:15", "02/03/24 10:00"], "mdy", {"date order guessed": 2}),  # US habit
    ],
)
def test_the_date_order_is_read_from_the_whole_file(tmp_path, dates, order, problems):
    rows = "".join(f"Ana,hi,{date}\n" for date in dates)
    export, messages = read(write(tmp_path, "chat.csv", "sender,text,time\n" + rows))
    assert [m.timestamp for m in messages] == [read_time(d, order)[0] for d in dates]
    assert export.problems == problems


def test_a_date_order_given_is_used(tmp_path):
    path = write(tmp_path, "chat.csv", "sender,text,time\nAna,hi,01/03/2024\n")
    _, [message] = read(path, date_order="mdy")
    assert message.timestamp == datetime(2024, 1, 3)
    with pytest.raises(TwinchatError, match="date order must be one of dmy, mdy, ymd"):
        TableExport(file_source(path), date_order="ddmm")


# --- CSV --------------------------------------------------------------------------------------


def test_csv_fixture():
    export, messages = read(TABLE / "chat.csv")
    assert export.format == "table" and export.source.label.endswith("chat.csv")
    assert [(m.chat_id, m.id, m.sender, m.text) for m in messages] == [
        ("general", "m1", "Alice", "Morning, all!"),
        ("general", "m2", "Bob", 'two lines:\n"quoted" and 🙂'),  # quoted multi-line field
        ("random", "m3", "Chen", "just me"),
        ("general", "m4", "Alice", ""),  # empty text kept
    ]
    second = messages[1]
    assert second.timestamp == datetime(2024, 3, 1, 9, 17, tzinfo=UTC) and second.tz_known
    assert second.reply_to == "m1" and messages[0].reply_to is None
    assert (second.platform, second.chat_name, second.kind) == ("table", "general", Kind.TEXT)
    assert export.chats == 2 and not export.problems
    assert export.bytes_read == export.source.size


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("comma.csv", 'sender,text,time\nAna,"hi; there",2024-03-01\n'),
        ("semi.csv", "sender;text;time\nAna;hi, there;2024-03-01\n"),
        ("tab.csv", "sender\ttext\ttime\nAna\thi, there; you\t2024-03-01\n"),
        ("pipe.csv", "sender|text|time\nAna|hi, there; you|2024-03-01\n"),
        ("tabs.tsv", "sender\ttext\ttime\nAna\thi, there\t2024-03-01\n"),
    ],
)
def test_csv_dialects_are_sniffed(tmp_path, name, text):
    export, [message] = read(write(tmp_path, name, text))
    assert message.sender == "Ana" and message.text.startswith("hi")
    assert message.timestamp == datetime(2024, 3, 1) and not export.problems


def test_semicolon_fixture_with_day_first_dates():
    export, messages = read(TABLE / "semicolon.csv")
    assert [(m.sender, m.text, m.timestamp) for m in messages] == [
        ("Anna", "Guten Morgen, alle", datetime(2024, 3, 1, 9, 15)),
        ("Ben", "Hallo; wie geht's?", datetime(2024, 3, 1, 9, 16)),
    ]
    assert export.problems == {"date order guessed": 2}  # dots: day first, but no day above 12


def test_byte_order_mark(tmp_path):
    path = write(tmp_path, "chat.csv", b"\xef\xbb\xbfsender,text\r\nAna,hi\r\n")
    export, [message] = read(path)
    assert export.mapping == {"sender": "sender", "text": "text"}
    assert (message.sender, message.text) == ("Ana", "hi")


def test_lines_not_utf8_are_read_as_cp1252_and_counted(tmp_path):
    path = write(tmp_path, "chat.csv", "sender,text\nRené,café\n".encode("cp1252") + b"Bo,ok\n")
    export, messages = read(path)
    assert [(m.sender, m.text) for m in messages] == [("René", "café"), ("Bo", "ok")]
    assert export.problems == {"line not UTF-8 (read as cp1252)": 1}


def test_utf16_with_a_byte_order_mark(tmp_path):
    path = write(tmp_path, "chat.tsv", "sender\ttext\r\nRené\t你好\r\n".encode("utf-16"))
    _, [message] = read(path)
    assert (message.sender, message.text) == ("René", "你好")


def test_crlf_inside_a_quoted_field_becomes_a_newline(tmp_path):
    path = write(tmp_path, "chat.csv", 'sender,text\r\nAna,"one\r\ntwo"\r\nBo,"x"\r\n')
    _, messages = read(path)
    assert [m.text for m in messages] == ["one\ntwo", "x"]


def test_lines_ended_by_cr_alone(tmp_path):
    path = write(tmp_path, "chat.csv", 'sender,text\rAna,"one\rtwo"\rBo,ok\r')
    _, messages = read(path)
    assert [(m.sender, m.text) for m in messages] == [("Ana", "one\ntwo"), ("Bo", "ok")]


def test_rows_the_csv_module_rejects_are_counted(tmp_path):
    text = (
        'sender,text\nAna,"closed" then more\nBo,He said "hi"\nCy,"' + "x" * 140_000 + '"\nDi,ok\n'
    )
    export, messages = read(write(tmp_path, "chat.csv", text))
    assert [(m.sender, m.text) for m in messages] == [("Bo", 'He said "hi"'), ("Di", "ok")]
    assert export.problems == {"unreadable row": 2}


def test_rows_with_the_wrong_number_of_fields_are_skipped_and_counted(tmp_path):
    text = (
        "sender,text,time\n"
        "Ana,hi,2024-03-01\n"
        "Bo,an, unquoted comma,2024-03-01\n"  # one field too many
        "Cy,short\n"  # one too few
        "Di,trailing empty,2024-03-01,,\n"  # extra empty fields: kept
        "\n"  # blank: skipped
    )
    export, messages = read(write(tmp_path, "chat.csv", text))
    assert [m.sender for m in messages] == ["Ana", "Di"]
    assert [m.id for m in messages] == ["1", "2"]
    assert export.problems == {"row with the wrong number of fields": 2}


def test_file_order_is_kept_and_a_step_back_counted(tmp_path):
    text = "sender,text,time,chat\nAna,b,2024-03-02,x\nBo,a,2024-03-01,x\nCy,c,2024-02-01,y\n"
    export, messages = read(write(tmp_path, "chat.csv", text))
    assert [m.text for m in messages] == ["b", "a", "c"]
    assert export.problems == {"time goes backwards (file order kept)": 1}
    assert export.chats == 2


def test_kind_column(tmp_path):
    text = "sender,text,kind\nAna,hi,text\nAna,,MEDIA\nAna,x,\nAna,y,gif\n"
    export, messages = read(write(tmp_path, "chat.csv", text))
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.MEDIA, Kind.TEXT, Kind.OTHER]
    assert export.problems == {"unknown kind (read as other)": 1}


@pytest.mark.parametrize("name", ["chat.csv", "chat.jsonl", "chat.json"])
def test_an_empty_file_is_an_error(tmp_path, name):
    with pytest.raises(TwinchatError, match="is empty; export the table again"):
        read(write(tmp_path, name, " \n"))


def test_reading_is_streamed(tmp_path):
    rows = "".join(f"Ana,message {i},2024-03-01T09:15:00Z\n" for i in range(5000))
    path = write(tmp_path, "chat.csv", "sender,text,time\n" + rows)
    export = TableExport(file_source(path))
    messages = iter(export)
    next(messages)
    assert 0 < export.bytes_read < export.source.size // 10
    assert sum(1 for _ in messages) == 4999 and export.bytes_read == export.source.size


# --- JSON Lines and JSON arrays ---------------------------------------------------------------


def test_jsonl_bad_lines_are_counted():
    export, messages = read(TABLE / "chat.jsonl", "sender=user,text=content,time=ts_ms")
    assert [(m.sender, m.text, m.chat_id, m.id) for m in messages] == [
        ("alice", "hello", "dm", "1"),
        ("bob", "hi!", "dm", "2"),
        ("alice", "bye", "dm", "3"),
    ]
    assert messages[0].timestamp == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert export.problems == {"line not valid JSON": 1, "line not a JSON object": 1}
    assert export.bytes_read == export.source.size


def test_jsonl_with_a_byte_order_mark_and_a_line_not_utf8(tmp_path):
    text = (
        b'\xef\xbb\xbf{"from": "Ana", "body": "hi"}\n'
        + '{"from": "René", "body": "x"}\n'.encode("cp1252")
    )
    export, messages = read(write(tmp_path, "chat.jsonl", text))
    assert [(m.sender, m.text) for m in messages] == [("Ana", "hi"), ("René", "x")]
    assert export.problems == {"line not UTF-8 (read as cp1252)": 1}


def test_jsonl_values_that_are_not_strings(tmp_path):
    lines = [
        {"sender": "Ana", "text": 42, "id": 7.0, "time": 1709284500},
        {"sender": ["x"], "text": {"a": 1}, "id": None},
        {"text": "no sender key"},
    ]
    path = write(tmp_path, "chat.ndjson", "\n".join(json.dumps(line) for line in lines))
    export, messages = read(path)
    assert [(m.sender, m.text, m.id) for m in messages] == [
        ("Ana", "42", "7"),
        (None, '{"a":1}', "2"),
        (None, "no sender key", "3"),
    ]
    assert export.problems == {
        "sender is not text (left out)": 1,
        "text is not text (kept as JSON)": 1,
    }


def test_json_array():
    columns = "sender=author.name,text=body,sender_id=author.id"
    export, messages = read(TABLE / "chat.json", columns)
    assert [(m.sender, m.sender_id, m.text, m.chat_id) for m in messages] == [
        ("Alice", "u1", "first", "t"),
        ("Bob", "u2", "second", "t"),
        ("Alice", "u1", '["a","list"]', "t"),
    ]
    assert [m.timestamp for m in messages] == [
        datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 16, tzinfo=UTC),
        None,
    ]
    assert export.problems == {
        "item not a JSON object": 1,
        "unreadable time": 1,
        "text is not text (kept as JSON)": 1,
    }


def test_a_sender_that_is_an_object_names_the_keys_inside():
    with pytest.raises(
        TwinchatError, match=r"sender=author\.name \(keys: author\.name, author\.id"
    ):
        read(TABLE / "chat.json")


def test_a_broken_json_array_is_an_error(tmp_path):
    path = write(tmp_path, "chat.json", '[{"sender": "Ana", "text": "hi"}, {"sender": "Bo", "te')
    export = TableExport(file_source(path))
    with pytest.raises(TwinchatError, match="not valid JSON near byte"):
        list(export)


def test_a_json_file_of_json_lines_is_read_as_lines(tmp_path):
    path = write(tmp_path, "chat.json", '{"sender": "Ana", "text": "hi"}\n{"sender": "Bo"}\n')
    _, messages = read(path)
    assert [(m.sender, m.text) for m in messages] == [("Ana", "hi"), ("Bo", "")]


# --- round trip -------------------------------------------------------------------------------


def write_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Sender", "Message", "Timestamp", "Kind"])
        for line in CONVERSATION:
            stamp = line.time.isoformat().replace("+00:00", "Z")
            writer.writerow([line.sender, line.text, stamp, line.kind.value])
    return path


def write_jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for line in CONVERSATION:
            record = {"from": line.sender, "body": line.text, "date": line.time.timestamp()}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_round_trip_csv(tmp_path):
    export, messages = read(write_csv(tmp_path / "conversation.csv"))
    assert_same(messages)
    assert not export.problems and all(m.tz_known for m in messages)


def test_round_trip_jsonl(tmp_path):
    export, messages = read(write_jsonl(tmp_path / "conversation.jsonl"))
    assert_same(messages, kinds=False)
    assert not export.problems


# --- finding a table --------------------------------------------------------------------------


def labels(found) -> str | None:
    return None if found is None else Path(found.label.split("!")[-1]).name


@pytest.mark.parametrize("name", ["chat.csv", "chat.tsv", "chat.jsonl", "chat.ndjson", "c.CSV"])
def test_a_table_file_named_is_claimed(tmp_path, name):
    path = write(tmp_path, name, "anything")
    assert labels(find_table(sources_of(path))) == name


def test_the_only_table_in_a_folder_or_zip_is_claimed(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(TABLE / "chat.csv", folder)
    write(folder, "notes.txt", "hi")
    write(folder / "media", "photo.jpg", b"\xff\xd8")
    assert labels(find_table(sources_of(folder))) == "chat.csv"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(TABLE / "chat.csv", "export/chat.csv")
        zipped.writestr("export/readme.md", "# my chats")
    found = find_table(sources_of(archive))
    assert labels(found) == "chat.csv"
    assert found is not None and len(list(TableExport(found))) == 4


def test_several_tables_are_not_claimed(tmp_path):
    for name in ("a.csv", "b.jsonl"):
        write(tmp_path, name, "sender,text\n")
    assert find_table(sources_of(tmp_path)) is None


def test_a_json_array_of_messages_is_claimed(tmp_path):
    path = write(tmp_path, "messages.json", json.dumps([{"author": "Ana", "content": "hi"}]))
    assert labels(find_table(sources_of(path))) == "messages.json"
    odd = write(tmp_path / "odd", "messages.json", json.dumps([{"who": "Ana", "said": "hi"}]))
    assert find_table(sources_of(odd)) is None
    columns = parse_columns("sender=who,text=said")
    assert labels(find_table(sources_of(odd), columns)) == "messages.json"


def test_other_apps_exports_are_not_claimed(tmp_path):
    telegram = tmp_path / "telegram"
    telegram.mkdir()
    shutil.copy(TELEGRAM / "single_chat.json", telegram / "result.json")
    shutil.copy(TELEGRAM / "single_chat.json", telegram / "chat.json")  # an object, not an array
    assert find_table(sources_of(telegram)) is None
    assert find_table(sources_of(WHATSAPP_CHAT)) is None
    signal = write(
        tmp_path / "signal" / "Ana",
        "data.json",
        '{"date": "2024-03-01 09:15:00", "sender": "Ana", "body": "hi", "quote": ""}\n',
    )
    assert find_table(sources_of(signal)) is None
    assert find_table(sources_of(signal.parent)) is None
    array = write(tmp_path / "signal-array", "data.json", '[{"sender": "Ana", "body": "hi"}]')
    assert find_table(sources_of(array)) is None
    slack = write(
        tmp_path / "slack" / "general",
        "2016-01-14.json",
        json.dumps([{"user": "U0B", "type": "message", "text": "hello", "ts": "1452837318.0"}]),
    )
    assert find_table(sources_of(slack)) is None
    assert find_table(sources_of(write(tmp_path, "broken.json", "[{"))) is None
