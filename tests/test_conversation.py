"""Reading the conversation `twinchat suggest` is given: JSON, Telegram Desktop paste, and
`Name: text` lines, from a file or stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from twinchat.data.example import Turn
from twinchat.errors import TwinchatError
from twinchat.inference.conversation import (
    NO_MESSAGES,
    parse_conversation,
    parse_json,
    parse_name_lines,
    parse_telegram_paste,
    read_conversation,
    turns_from_json,
)


def error_of(text: str) -> str:
    """The message of the error parsing `text` raises, checked to be one line."""
    with pytest.raises(TwinchatError) as caught:
        parse_conversation(text)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


# JSON


def test_json_list_of_message_objects():
    text = json.dumps(
        [
            {"sender": "Ана", "text": "привет\nкак дела?"},
            {"from": "Sam 🎸", "text": "  fine  "},
            {"name": "Lee, Jr.", "message": "ok"},
        ],
        ensure_ascii=False,
    )
    assert parse_conversation(text) == [
        Turn("Ана", "привет\nкак дела?"),
        Turn("Sam 🎸", "fine"),
        Turn("Lee, Jr.", "ok"),
    ]


def test_json_pairs_and_messages_object():
    assert parse_conversation('[["Ana", "hi"], ["Bob", "yo"]]') == [
        Turn("Ana", "hi"),
        Turn("Bob", "yo"),
    ]
    text = '{"name": "Chat", "messages": [{"sender": "Ana", "text": "hi"}]}'
    assert parse_conversation(text) == [Turn("Ana", "hi")]


def test_json_train_record_uses_only_the_context():
    record = {
        "id": "x1",
        "chat": "c",
        "session": "s",
        "timestamp": None,
        "speaker": "Bob",
        "context": [{"sender": "Ana", "text": "hi"}, {"sender": "Bob", "text": "hey"}],
        "text": "the reply, not part of the conversation",
    }
    assert parse_conversation(json.dumps(record)) == [Turn("Ana", "hi"), Turn("Bob", "hey")]


def test_json_telegram_export_messages():
    export = {
        "name": "Ana",
        "type": "personal_chat",
        "messages": [
            {"id": 1, "type": "service", "actor": "Ana", "action": "phone_call", "text": ""},
            {
                "id": 2,
                "type": "message",
                "from": "Ana",
                "text": ["see ", {"type": "link", "text": "https://x.y"}, " now"],
            },
            {"id": 3, "type": "message", "from": None, "text": "gone"},
            {"id": 4, "type": "message", "from": "Bob", "text": "", "photo": "p.jpg"},
            {"id": 5, "type": "message", "from": "Bob", "text": [{"type": "bold", "text": "ok"}]},
        ],
    }
    assert parse_conversation(json.dumps(export)) == [
        Turn("Ana", "see https://x.y now"),
        Turn("Deleted Account", "gone"),
        Turn("Bob", "ok"),
    ]


def test_json_lines_of_messages_and_single_object():
    lines = '{"sender": "Ana", "text": "hi"}\n\n{"sender": "Bob", "text": "yo"}\n'
    assert parse_conversation(lines) == [Turn("Ana", "hi"), Turn("Bob", "yo")]
    assert parse_conversation('{"sender": "Ana", "text": "hi"}') == [Turn("Ana", "hi")]


def test_json_several_train_records_is_an_error():
    record = json.dumps({"speaker": "A", "context": [{"sender": "A", "text": "x"}], "text": "y"})
    assert "give one" in error_of(record + "\n" + record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", NO_MESSAGES),
        ('{"context": []}', NO_MESSAGES),
        ('[{"sender": "Ana", "text": "  "}]', NO_MESSAGES),
        ('{"chats": {}}', '"messages" or "context"'),
        ("[1, 2]", "JSON message 1 is a number"),
        ('[{"text": "hi"}]', 'JSON message 1 has no "sender"'),
        ('[{"sender": "Ana"}]', 'JSON message 1 has no "text"'),
        ('[{"sender": "Ana", "text": "a"}, {"sender": "", "text": "b"}]', "JSON message 2"),
        ('[{"sender": "Ana", "text": 5}]', "text that is a number"),
        ('[{"sender": "Ana", "text": ["a", 5]}]', "text that is a list"),
        ('{"sender": "Ana", "text": "a"} "x"', "invalid JSON (Extra data"),
    ],
)
def test_json_shape_errors(text: str, expected: str):
    assert expected in error_of(text)


def test_invalid_json_names_the_position():
    message = error_of('[{"sender": "Ana", "text": "hi"}\n {"sender": "Bob"}]')
    assert message.startswith("invalid JSON (Expecting ',' delimiter at line 2 column 2)")
    # A name never starts with a bracket, so broken JSON is never read as `Name: text` lines.
    assert error_of('{"sender": "Ana",\n"text": "hi"').startswith("invalid JSON")


def test_bracketed_text_that_is_not_json_falls_through():
    text = "[forwarded]\nAna, [23.11.2026 10:15]\nhi"
    with pytest.raises(TwinchatError, match="invalid JSON"):
        parse_conversation(text)  # the line before the first header makes the text invalid too
    text = "{x}, [23.11.2026 10:15]\nhi\n\nAna, [23.11.2026 10:16]\nyo"
    assert parse_conversation(text) == [Turn("{x}", "hi"), Turn("Ana", "yo")]


def test_parse_json_alone():
    assert parse_json('[["Ana", "hi"]]') == [Turn("Ana", "hi")]
    assert turns_from_json([["Ana", "hi"]]) == [Turn("Ana", "hi")]
    with pytest.raises(TwinchatError, match="the JSON is a string"):
        parse_json('"just a string"')
    with pytest.raises(TwinchatError, match="invalid JSON"):
        parse_json("Ana: hi")


# Telegram Desktop paste


def test_telegram_paste_multiline_and_names():
    text = (
        "Иван Петров, [23.11.2026 10:15]\n"
        "привет\n"
        "как дела?\n"
        "\n"
        "Smith, John 🎸, [23.11.2026 10:16]:\n"
        "first paragraph\n"
        "\n"
        "second paragraph\n"
        "\n"
        "Ana: not a name line here, [x]\n"
        "\n"
    )
    assert parse_conversation(text) == [
        Turn("Иван Петров", "привет\nкак дела?"),
        Turn(
            "Smith, John 🎸",
            "first paragraph\n\nsecond paragraph\n\nAna: not a name line here, [x]",
        ),
    ]


@pytest.mark.parametrize(
    "date",
    [
        "23.11.2026 10:15",
        "23.11.26 10:15",
        "23.11.2026 10:15:42",
        "11/23/2026 10:15 AM",
        "11/23/26 9:05 PM",
        "11/23/26 9:05\u202fp.m.",
        "2026-11-23 10:15",
        "23/11/2026, 10:15",
        "23.11.2026 10.15",
        "2026. 11. 23. 오전 10:15",
        "2026/11/23 上午10:15",
    ],
)
def test_telegram_paste_locale_dates(date: str):
    text = f"Ana, [{date}]\nhi\n\nBob, [{date}]\nyo"
    assert parse_telegram_paste(text) == [Turn("Ana", "hi"), Turn("Bob", "yo")]


def test_telegram_paste_wins_over_name_lines():
    text = "Ana: hello\nBob, [23.11.2026 10:15]\nCarl: hi\nthere"
    with pytest.raises(TwinchatError, match="before the first"):
        parse_conversation(text)
    text = "Bob, [23.11.2026 10:15]\nCarl: hi\nthere"
    assert parse_conversation(text) == [Turn("Bob", "Carl: hi\nthere")]


def test_telegram_paste_drops_empty_messages():
    text = "Ana, [23.11.2026 10:15]\n\nBob, [23.11.2026 10:16]\n  yo  \n\n\n"
    assert parse_conversation(text) == [Turn("Bob", "yo")]
    assert "no messages found" in error_of("Ana, [23.11.2026 10:15]\n   \n")


def test_not_a_header():
    # No date, time without a date, text after the bracket: all plain lines.
    for line in (
        "Ana, [hello]",
        "Ana, [10:15]",
        "Ana, [23.11.2026 10:15] hi",
        "[23.11.2026 10:15]",
    ):
        assert parse_conversation(f"Bob: x\n{line}") == [Turn("Bob", f"x\n{line}")]


# Name: text lines


def test_name_lines_multiline_emoji_cyrillic():
    text = "Ана: привет\nвторой ряд\n\nSam 🎸: yo\n🐱: meow\n@lee_99: hi\nАна:   ok  \n"
    assert parse_conversation(text) == [
        Turn("Ана", "привет\nвторой ряд"),
        Turn("Sam 🎸", "yo"),
        Turn("🐱", "meow"),
        Turn("@lee_99", "hi"),
        Turn("Ана", "ok"),
    ]


def test_name_lines_blank_lines_inside_a_message_are_kept():
    text = "\n\nAna: one\n\ntwo\n\n\nBob: three\n\n"
    assert parse_name_lines(text) == [Turn("Ana", "one\n\ntwo"), Turn("Bob", "three")]


@pytest.mark.parametrize(
    "line",
    [
        "https://x.y/a:b",
        "http://example.com",
        "10:15 works for me",
        "10: 15 minutes",
        "12.30: lunch",
        "  note: indented",
        "\tnote: tabbed",
        "- item: one",
        "1. step: one",
        "> Bob: quoted",
        '"sender": "Ana",',
        "a sentence that is too long to be anybody's name: then a colon",
        "Ana:",
        "Ana:no space",
        " : nothing",
    ],
)
def test_lines_that_continue_a_message(line: str):
    text = f"Ana: start\n{line}\nBob: end"
    assert parse_conversation(text) == [Turn("Ana", f"start\n{line}"), Turn("Bob", "end")]


def test_name_like_continuation_starts_a_message():
    """The documented limit: an unindented `word: text` line is a speaker, seen or not."""
    text = "Ana: shopping\nnote: buy milk\nRe: x"
    assert parse_conversation(text) == [
        Turn("Ana", "shopping"),
        Turn("note", "buy milk"),
        Turn("Re", "x"),
    ]


def test_name_lines_first_colon_splits_and_urls_stay_in_text():
    text = "Ana: re: see https://x.y:8080/a\nBob : 10:15?"
    assert parse_conversation(text) == [
        Turn("Ana", "re: see https://x.y:8080/a"),
        Turn("Bob", "10:15?"),
    ]


def test_name_lines_errors():
    assert "line 2" in error_of("\nhello\nAna: hi")
    assert "no messages found" in error_of("just some words\n")
    assert "no messages found" in error_of("")
    assert "no messages found" in error_of(" \n\t\n")
    assert "no messages found" in error_of("https://x.y")
    long_line = "x" * 200
    assert len(error_of(long_line)) < 200


# Encodings and line endings


def test_crlf_and_bom_in_every_format():
    assert parse_conversation("\ufeffAna: hi\r\nthere\r\n\r\nBob: yo\r\n") == [
        Turn("Ana", "hi\nthere"),
        Turn("Bob", "yo"),
    ]
    paste = "\ufeffAna, [23.11.2026 10:15]\r\nhi\r\n\r\nBob, [23.11.2026 10:16]\r\nyo\r\n"
    assert parse_conversation(paste) == [Turn("Ana", "hi"), Turn("Bob", "yo")]
    assert parse_conversation('\ufeff[\r\n["Ana", "hi"]\r\n]') == [Turn("Ana", "hi")]


# read_conversation


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool = False):
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class FakeBinaryStdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def test_read_from_file(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes("\ufeffАна: hi\r\nBob: yo\r\n".encode())
    assert read_conversation(path) == [Turn("Ана", "hi"), Turn("Bob", "yo")]
    assert read_conversation(str(path)) == [Turn("Ана", "hi"), Turn("Bob", "yo")]
    path.write_bytes("Ана: hi".encode("utf-16"))
    assert read_conversation(path) == [Turn("Ана", "hi")]


def test_read_file_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(TwinchatError, match=f"no such file: {missing}"):
        read_conversation(missing)
    with pytest.raises(TwinchatError, match="is a directory"):
        read_conversation(tmp_path)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Ana: café".encode("latin-1"))
    with pytest.raises(TwinchatError, match=r"latin\.txt is not UTF-8 text \(byte 0xe9"):
        read_conversation(latin)


@pytest.mark.parametrize("source", [None, "-"])
def test_read_from_stdin(monkeypatch, source):
    monkeypatch.setattr(sys, "stdin", FakeStdin("Ana: hi\nBob: yo\n"))
    assert read_conversation(source) == [Turn("Ana", "hi"), Turn("Bob", "yo")]


def test_read_stdin_bytes_are_utf8_whatever_the_locale(monkeypatch):
    raw = io.BytesIO("\ufeffАна: hi".encode())
    monkeypatch.setattr(sys, "stdin", FakeBinaryStdin(raw, encoding="latin-1"))
    assert read_conversation(None) == [Turn("Ана", "hi")]
    monkeypatch.setattr(sys, "stdin", FakeBinaryStdin(io.BytesIO(b"Ana: \xff"), encoding="utf-8"))
    with pytest.raises(TwinchatError, match="stdin is not UTF-8"):
        read_conversation(None)


def test_read_from_a_terminal_does_not_wait(monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeStdin("Ana: hi", tty=True))
    with pytest.raises(TwinchatError, match="pipe one in .* or use --input FILE") as caught:
        read_conversation(None)
    assert "\n" not in str(caught.value)
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(TwinchatError, match="--input FILE"):
        read_conversation("-")


def test_import_is_light():
    code = (
        "import sys, twinchat.inference.conversation; "
        "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
