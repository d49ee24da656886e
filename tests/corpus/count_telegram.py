"""Counts of Telegram Desktop JSON exports made without twinchat, for manifest.json.

Run `python tests/corpus/count_telegram.py FILE...`. Its own simple rules: every object of a
`messages` list (the file's own, or each chat's under `chats.list` and `left_chats.list`) whose
`type` is `message` and whose `from` is a name; its text is `text` when a string, else its
parts joined with nothing between them (a part is a string or an object's `text`); a message
whose text is empty after stripping (a sticker, a photo without a caption) is not typed.
"""

from __future__ import annotations

import json
import re

from count_whatsapp import main


def _chats(data: dict) -> list[dict]:
    if "messages" in data:
        return [data]
    chats = []
    for key in ("chats", "left_chats"):
        chats.extend((data.get(key) or {}).get("list", []))
    return chats


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    return "".join(p if isinstance(p, str) else p.get("text", "") for p in value or [])


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    with open(path, encoding="utf-8-sig") as f:
        raw = f.read()
    # Telegram writes control characters as \xHH, which JSON does not know
    raw = re.sub(r"(?<!\\)((?:\\\\)*)\\x([0-9a-fA-F]{2})", r"\1\\u00\2", raw)
    said = []
    for chat in _chats(json.loads(raw)):
        for m in chat.get("messages", []):
            text = _text(m.get("text")).strip()
            if m.get("type") == "message" and isinstance(m.get("from"), str) and text:
                said.append((m["from"], text))
    return said


if __name__ == "__main__":
    main(typed)
