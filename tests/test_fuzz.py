"""Mutated Telegram exports given to `prepare` give a dataset or the one-line user error.

Never a traceback, never a half-written output folder, never a message lost without a count.
Byte-level mutations exercise the streaming parser and its error paths; structure-level ones
the conversion of each message; a few fixed broken files go through the real command line.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import TELEGRAM
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import twinchat

EXAMPLES = int(os.environ.get("TWINCHAT_FUZZ_EXAMPLES", "300"))  # more for a longer hunt
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # a failure prints its example; nothing to replay from disk
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SINGLE = (TELEGRAM / "single_chat.json").read_bytes()
FULL = (TELEGRAM / "full_export.json").read_bytes()
SINGLE_DOC = json.loads(SINGLE)
OUTPUTS = {"messages.jsonl", "train.jsonl", "validation.jsonl", "stats.json", "report.html"}


def run_prepare(folder: Path, name: str, data: bytes) -> dict[str, Any] | None:
    """`prepare` on `data` saved as `folder/name`: its stats, or None after a proper error."""
    path = folder / name
    path.write_bytes(data)
    out = folder / "out"
    try:
        stats = twinchat.prepare([path], out)
    except twinchat.TwinchatError as error:
        message = str(error)
        assert message.strip(), "empty error message"
        assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        assert name in message, f"the error does not name the file: {message!r}"
        assert "Traceback" not in message
        _assert_untouched(folder, name)
        event("error: " + re.sub(r"[\d,]+", "N", message.replace(str(path), "FILE"))[:60])
        return None
    assert isinstance(stats, dict)
    assert {p.name for p in out.iterdir()} >= OUTPUTS
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, "out"]), "stray files"
    event("dataset written")
    return stats


def _assert_untouched(folder: Path, name: str) -> None:
    """After an error: no `out`, no staging `.out.*` folder, nothing but the input."""
    left = sorted(p.name for p in folder.iterdir())
    assert left == [name], f"left behind after an error: {left}"


# --- 1. Byte-level mutations -----------------------------------------------------------------

TOKENS = [
    b"\\x",
    b"\\x4",
    b"\\x41",
    b"\\\\x41",
    b"\\u",
    b"\\u00",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\",
    b'"',
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f",
    b"\n",
    b"null",
    b"-1e999",
    b"99999999999999999999999",
    b'"messages"',
    b'"chats"',
    b'"list"',
    b'{"id": 1}',
]
position = st.integers(min_value=0, max_value=1 << 16)
mutation = st.one_of(
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("delete"), position, st.integers(min_value=1, max_value=64)),
    st.tuples(
        st.just("insert"), position, st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=16)
    ),
    st.tuples(st.just("flip"), position, st.integers(min_value=1, max_value=255)),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    for kind, at, *arg in mutations:
        at %= len(data) + 1
        if kind == "truncate":
            data = data[:at]
        elif kind == "delete":
            data = data[:at] + data[at + arg[0] :]
        elif kind == "insert":
            data = data[:at] + arg[0] + data[at:]
        elif at < len(data):  # flip
            data = data[:at] + bytes([data[at] ^ arg[0]]) + data[at + 1 :]
    return data


@FUZZ
@given(
    original=st.sampled_from([SINGLE, FULL]),
    mutations=st.lists(mutation, min_size=1, max_size=4),
    name=st.sampled_from(["result.json", "result.json", "chat.json"]),
)
def test_byte_mutations_give_a_result_or_one_line_error(original, mutations, name):
    with tempfile.TemporaryDirectory() as folder:
        run_prepare(Path(folder), name, mutate(original, mutations))


# --- 2. Structure-level mutations ------------------------------------------------------------

KEYS = [
    "text",
    "from",
    "from_id",
    "date",
    "date_unixtime",
    "id",
    "type",
    "text_entities",
    "reply_to_message_id",
    "forwarded_from",
    "poll",
    "media_type",
    "sticker_emoji",
    "edited_unixtime",
    "edited",
    "actor",
    "actor_id",
    "action",
    "photo",
]
STRINGS = [
    "",
    "message",
    "service",
    "unsupported",
    "sticker",
    "photo",
    "phone_call",
    "user111",
    "1709283660",
    "-1",
    "1e3",
    "-62135596800",
    "253402300799",
    "2024-03-01T09:01:00",
    "2024-03-01T09:01:00+05:00",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-05:00",
    "not a date",
    "\udc00",
    "\ud800",
    "\x00",
    "\\x41",
]
INTS = [0, -1, 2**31, 2**63 - 1, 1 - 2**63, 253402300799, -62135596800, 10**15]
BEYOND_INT64 = [2**63, 2**64, -(2**63), 10**30, 10**400]  # yajl: "integer overflow"
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=1 - 2**63, max_value=2**63 - 1),
    st.sampled_from(INTS * 3 + BEYOND_INT64),  # huge ones rarely: they void the whole file
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(STRINGS),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["text", "type", "question", "id", "x"]), inner, max_size=3
        )
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
index = st.integers(min_value=0, max_value=len(SINGLE_DOC["messages"]) - 1)
message_edit = st.one_of(
    st.tuples(st.just("set"), index, st.sampled_from(KEYS), json_values),
    st.tuples(st.just("del"), index, st.sampled_from(KEYS)),
    st.tuples(st.just("replace"), index, json_values),
)
whole_edit = st.one_of(
    st.tuples(st.just("messages"), scalars | st.dictionaries(st.text(max_size=6), json_values)),
    st.tuples(st.just("top"), st.lists(json_values, max_size=3) | st.integers() | st.floats(0)),
    st.tuples(st.sampled_from(["name", "type", "id"]), json_values),
)


@FUZZ
@given(
    edits=st.lists(message_edit, min_size=1, max_size=5),
    whole=st.none() | st.none() | st.none() | whole_edit,
)
def test_structure_mutations_give_a_result_or_one_line_error_and_lose_nothing(edits, whole):
    doc = copy.deepcopy(SINGLE_DOC)
    messages = doc["messages"]
    for kind, i, *arg in edits:
        if kind == "replace":
            messages[i] = arg[0]
        elif not isinstance(messages[i], dict):
            continue
        elif kind == "set":
            messages[i][arg[0]] = arg[1]
        else:
            messages[i].pop(arg[0], None)
    if whole is not None:
        where, value = whole
        if where == "top":
            doc = value
        else:
            doc[where] = value
    with tempfile.TemporaryDirectory() as folder:
        stats = run_prepare(Path(folder), "result.json", json.dumps(doc).encode())
    if stats is None or not isinstance(doc, dict) or doc.get("messages") is not messages:
        return
    read = stats["messages"]["read"]
    (export,) = stats["exports"]
    assert export["messages"] == read
    assert read + sum(export["unreadable"].values()) == len(messages), stats["exports"]


# --- 3. Through the command line -------------------------------------------------------------

BROKEN = {
    "truncated": ("result.json", SINGLE[: len(SINGLE) * 2 // 3]),
    "empty": ("result.json", b""),
    "empty list": ("result.json", b"[]"),
    "empty list, other name": ("chat.json", b"[]"),
    "binary": ("result.json", bytes(range(255, -1, -1)) * 4),
    "binary, other name": ("data.bin", bytes(range(256)) * 4),
    "html page": ("index.html", b"<!DOCTYPE html>\n<html><body><p>hello</p></body></html>\n"),
    "telegram html": ("messages.html", (TELEGRAM / "html_export" / "messages.html").read_bytes()),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_command_line_gives_one_line_error_on_broken_files(tmp_path, case):
    name, data = BROKEN[case]
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TWINCHAT_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-m", "twinchat", "prepare", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert name in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# --- Known bugs ------------------------------------------------------------------------------


def _prepare_single(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(data)
    with contextlib.suppress(twinchat.TwinchatError):
        twinchat.prepare([path], tmp_path / "out")


def _with_message_3(tmp_path: Path, **changes: Any) -> None:
    doc = copy.deepcopy(SINGLE_DOC)
    doc["messages"][2].update(changes)
    _prepare_single(tmp_path, json.dumps(doc).encode())


def test_non_string_media_type_is_dropped(tmp_path):
    _with_message_3(tmp_path, media_type=5)
    record = json.loads((tmp_path / "out" / "messages.jsonl").read_text().splitlines()[1])
    assert "media_type" not in record


def test_dates_outside_any_chat_are_counted_not_fatal(tmp_path):
    _with_message_3(tmp_path, date_unixtime="-62135596800")
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["exports"][0]["unreadable"] == {
        "malformed message: date not a plausible message date": 1
    }


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({**SINGLE_DOC, "name": "Sam \udc00"}).encode(),  # a lone surrogate escape
        SINGLE.replace(b"anyone up", b"anyone\xed\xa0\x80 up"),  # an encoded surrogate
        SINGLE.replace(b"anyone up", b"anyone\xc0\x80 up"),  # an overlong NUL
        SINGLE.replace(b"anyone up", b"anyone\xf4\x90\x80\x80 up"),  # beyond U+10FFFF
        SINGLE.replace(b"anyone up", b"any\xff\xfeone up"),
    ],
)
def test_undecodable_text_is_a_one_line_error(tmp_path, data):
    path = tmp_path / "result.json"
    path.write_bytes(data)
    with pytest.raises(twinchat.TwinchatError) as caught:
        twinchat.prepare([path], tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message and "b'" not in message and "right here" not in message
    assert not (tmp_path / "out").exists()
