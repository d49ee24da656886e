"""The conversation `twinchat suggest` is given, read into turns (oldest first).

Three formats, tried in this order:

1. JSON, when the text starts with `[` or `{` and parses: a list of message objects
   (`{"sender"|"from"|"name": ..., "text"|"message": ...}`, Telegram export messages included),
   a list of `["Name", "text"]` pairs, an object with such a list under `"messages"` (a
   Telegram single-chat export), or one `train.jsonl` record, whose `"context"` is the
   conversation (its reply is ignored). JSON Lines of message objects work too.
2. Text copied from Telegram Desktop, when at least one line is a header `Name, [date time]`
   (any locale's short date format, an optional trailing `:`). A message is everything between
   its header and the next header: blank lines followed by more text stay in it.
3. `Name: text` lines. A line starts a message when it is `Name: text` with
   - a space or tab after the first colon and some text after it (so `https://x.y`, `10:15`
     and a bare `Name:` never start one),
   - a name of at most 40 characters that starts at the beginning of the line with a letter,
     an emoji or `@` (so indented lines, list items like `- a: b` or `1. a: b`, quotes and
     JSON fragments never start one).
   Any other line continues the message above. A continuation line that happens to look like
   `note: buy milk` does start a message from "note": indent it to keep it in the message.
   Blank lines between messages are skipped; inside a message they are kept.

In both text formats, non-blank text before the first message's sender is an error rather than
dropped. Every message is stripped of surrounding whitespace and dropped when nothing is left
(Telegram's service messages are skipped, its `"from": null` is "Deleted Account"). Windows
line endings and a UTF-8 byte order mark are accepted. A conversation without messages is an
error: parsing never returns an empty list.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

from twinchat.data.builder import UNKNOWN_SENDER
from twinchat.data.example import Turn
from twinchat.errors import TwinchatError

NO_MESSAGES = 'no messages found: give one message a line as "Name: text", or JSON'
MAX_NAME = 40
SENDER_KEYS = ("sender", "from", "name")
TEXT_KEYS = ("text", "message")

# Qt's short date-time format of the user's locale: 23.11.2026 10:15, 11/23/26 10:15 AM,
# 2026-11-23 10:15:30, 23.11.26, 10:15, 10.15 (Finnish), 2026. 11. 23. 오전 10:15, ...
_DATE = r"\d{1,4}[./-]\s?\d{1,2}[./-]\s?\d{1,4}\.?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
_DAY_PART = r"(?:[^\W\d_]{1,4}\.?){1,2}"  # AM, p.m., 오전, 上午
_HEADER = re.compile(
    rf"(?P<name>\S.*?),\s\[{_DATE},?\s*(?:{_DAY_PART}\s*)?{_TIME}(?:\s*{_DAY_PART})?\]:?\s*"
)
_NAME_LINE = re.compile(r"(?P<name>[^:]+):[ \t]+(?P<text>\S.*)")


def read_conversation(source: str | Path | None, flag: str = "--input") -> list[Turn]:
    """The conversation in a file, or on stdin for `None` or `"-"`; `flag` names the option
    that gave the file, in errors."""
    if source is None or str(source) == "-":
        return parse_conversation(_read_stdin())
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TwinchatError(f"no such file: {path}; check the {flag} path") from None
    except IsADirectoryError:
        raise TwinchatError(f"{path} is a directory; give {flag} a file") from None
    except OSError as err:
        raise TwinchatError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_conversation(_decode(data, str(path)))


def parse_conversation(text: str) -> list[Turn]:
    """Turns of a conversation in any of the formats, detected in the order JSON, Telegram
    Desktop paste, `Name: text`."""
    text = _normalize(text)
    if text.lstrip()[:1] in ("[", "{"):
        try:
            value = _load_json(text)
        except json.JSONDecodeError as err:
            # Text that merely starts with a bracket is fine; if it is not text either, the
            # JSON error is the likelier fix.
            try:
                return _parse_text(text)
            except TwinchatError:
                raise TwinchatError(
                    f"invalid JSON ({err.msg} at line {err.lineno} column {err.colno}): "
                    'fix it, or give one message a line as "Name: text"'
                ) from None
        return turns_from_json(value)
    return _parse_text(text)


def parse_json(text: str) -> list[Turn]:
    """Turns of a conversation given as JSON (or JSON Lines of message objects)."""
    try:
        value = _load_json(_normalize(text))
    except json.JSONDecodeError as err:
        raise TwinchatError(
            f"invalid JSON ({err.msg} at line {err.lineno} column {err.colno}): fix it"
        ) from None
    return turns_from_json(value)


def turns_from_json(value: Any) -> list[Turn]:
    """Turns of an already decoded JSON conversation (see the module docstring)."""
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            value = value["messages"]
        elif isinstance(value.get("context"), list):
            value = value["context"]
        elif any(key in value for key in SENDER_KEYS):
            value = [value]
        else:
            raise TwinchatError(
                'the JSON object has no "messages" or "context" list: give a list of '
                '{"sender": ..., "text": ...} objects'
            )
    if not isinstance(value, list):
        raise TwinchatError(
            f"the JSON is a {_kind(value)}: give a list of "
            '{"sender": ..., "text": ...} objects or ["Name", "text"] pairs'
        )
    turns = []
    for number, item in enumerate(value, 1):
        turn = _json_turn(item, number)
        if turn is not None:
            turns.append(turn)
    return _found(turns)


def parse_telegram_paste(text: str) -> list[Turn]:
    """Turns of messages copied from Telegram Desktop: a `Name, [date time]` header line, then
    the message's lines up to the next header."""
    lines = _normalize(text).split("\n")
    turns: list[Turn] = []
    sender: str | None = None
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        header = _HEADER.fullmatch(line)
        if header:
            if sender is not None:
                _append(turns, sender, body)
            sender, body = header["name"].strip(), []
        elif sender is not None:
            body.append(line)
        elif line.strip():
            raise TwinchatError(
                f"line {number} ({_quote(line)}) comes before the first "
                '"Name, [date time]" header: remove it'
            )
    if sender is not None:
        _append(turns, sender, body)
    return _found(turns)


def parse_name_lines(text: str) -> list[Turn]:
    """Turns of `Name: text` lines; other lines continue the message above them."""
    turns: list[Turn] = []
    sender: str | None = None
    body: list[str] = []
    stray: tuple[int, str] | None = None
    for number, line in enumerate(_normalize(text).split("\n"), 1):
        name = _speaker(line)
        if name is not None:
            if sender is not None:
                _append(turns, sender, body)
            sender, body = name, [line.split(":", 1)[1]]
        elif sender is not None:
            body.append(line)
        elif line.strip() and stray is None:
            stray = (number, line)
    if sender is None:
        raise TwinchatError(NO_MESSAGES)
    if stray is not None:
        # Text with no speaker: dropping it silently could change what the reply answers.
        raise TwinchatError(
            f'line {stray[0]} ({_quote(stray[1])}) has no "Name: " before it: start the '
            'conversation with a "Name: text" line'
        )
    _append(turns, sender, body)
    return _found(turns)


def _parse_text(text: str) -> list[Turn]:
    if any(_HEADER.fullmatch(line) for line in text.split("\n")):
        return parse_telegram_paste(text)
    return parse_name_lines(text)


def _speaker(line: str) -> str | None:
    """The name a line starts a message of, if it is a `Name: text` line by the rules above."""
    match = _NAME_LINE.fullmatch(line)
    if not match:
        return None
    name = match["name"].rstrip()
    if not name or len(name) > MAX_NAME:
        return None
    first = name[0]
    if first.isalpha() or first == "@" or unicodedata.category(first) == "So":
        return name
    return None


def _json_turn(item: Any, number: int) -> Turn | None:
    """One JSON message as a turn; `None` for a Telegram service message."""
    if isinstance(item, dict):
        if item.get("type") == "service":
            return None
        sender_key = next((key for key in SENDER_KEYS if key in item), None)
        text_key = next((key for key in TEXT_KEYS if key in item), None)
        if sender_key is None or text_key is None:
            missing = '"sender"' if sender_key is None else '"text"'
            raise TwinchatError(
                f'JSON message {number} has no {missing}: give each message a "sender" and a "text"'
            )
        sender = item[sender_key]
        if sender is None and sender_key == "from":
            sender = UNKNOWN_SENDER  # Telegram's deleted accounts
        text = item[text_key]
    elif isinstance(item, list) and len(item) == 2:
        sender, text = item
    else:
        raise TwinchatError(
            f"JSON message {number} is a {_kind(item)}: give "
            '{"sender": ..., "text": ...} objects or ["Name", "text"] pairs'
        )
    if not isinstance(sender, str) or not sender.strip():
        raise TwinchatError(
            f"JSON message {number} has a sender that is not a name: make it a non-empty string"
        )
    return Turn(sender.strip(), _json_text(text, number))


def _json_text(value: Any, number: int) -> str:
    """A string, or Telegram's list of strings and entities joined with no separator."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, dict) and isinstance(part.get("text", ""), str):
                part = part.get("text", "")
            if not isinstance(part, str):
                break
            parts.append(part)
        else:
            return "".join(parts)
    raise TwinchatError(
        f"JSON message {number} has a text that is a {_kind(value)}: make it a string"
    )


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            raise
        # JSON Lines: several values, one a line.
        try:
            values = [json.loads(line) for line in text.split("\n") if line.strip()]
        except json.JSONDecodeError:
            raise err from None
    if any(isinstance(value, dict) and "context" in value for value in values):
        raise TwinchatError(
            f"{len(values)} train.jsonl records given: give one, whose context is the conversation"
        )
    return values


def _append(turns: list[Turn], sender: str, lines: list[str]) -> None:
    turns.append(Turn(sender, "\n".join(lines)))


def _found(turns: list[Turn]) -> list[Turn]:
    turns = [Turn(sender, text.strip()) for sender, text in turns]
    turns = [turn for turn in turns if turn.text]
    if not turns:
        raise TwinchatError(NO_MESSAGES)
    return turns


def _normalize(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _read_stdin() -> str:
    stdin = sys.stdin
    if stdin is None:
        raise TwinchatError("no stdin to read the conversation from: use --input FILE")
    if stdin.isatty():
        # Waiting for a conversation typed at the terminal looks like a hang.
        raise TwinchatError(
            "no conversation on stdin: pipe one in (twinchat suggest < chat.txt) "
            "or use --input FILE"
        )
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        return stdin.read()
    # The bytes, not the locale's decoding of them: the conversation is UTF-8 everywhere.
    return _decode(buffer.read(), "stdin")


def _decode(data: bytes, where: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # What Windows Notepad calls "Unicode".
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TwinchatError(
            f"{where} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}): "
            "save it as UTF-8"
        ) from None


def _kind(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _quote(line: str, limit: int = 30) -> str:
    line = line.strip()
    return json.dumps(line if len(line) <= limit else line[:limit] + "…", ensure_ascii=False)
