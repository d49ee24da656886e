"""Counts of Apple Messages' `chat.db` made without twinchat, for tests/corpus/manifest.json.

Run `python tests/corpus/count_imessage.py FILE...`. Its own simple rules, in SQL and a few
lines: every `message` row joined to a chat by `chat_message_join`, chat after chat (by the
chat's ROWID), each chat's by `date`; a tapback (`associated_message_type` 2000-3999), a group
event (`item_type` not 0) and an unsent message (`date_retracted` set) are not typed; the
sender is "Me" when `is_from_me`, else the `handle.id`; the text is `text`, or when that is
empty the string archived in `attributedBody` (its first `NSString`: after the `+` that marks a
string, one length byte, or 0x81 and two little-endian ones, then the UTF-8 bytes); the U+FFFC
marks where attachments sat are dropped, and a message with no words left (a photo alone) is
not typed. The text is kept as typed, spaces around it too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from count_whatsapp import main

ROWS = """
SELECT m.text, m.attributedBody, m.is_from_me, h.id
FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id
LEFT JOIN handle h ON h.ROWID = m.handle_id
WHERE COALESCE(m.associated_message_type, 0) NOT BETWEEN 2000 AND 3999
  AND COALESCE(m.item_type, 0) = 0 AND COALESCE(m.date_retracted, 0) = 0
ORDER BY j.chat_id, m.date, m.ROWID
"""


def archived_string(blob: bytes) -> str | None:
    """The first NSString of an attributedBody typedstream, or None."""
    at = blob.find(b"NSString")
    at = blob.find(b"\x84\x01+", at) if at >= 0 else -1
    if at < 0:
        return None
    at += 3
    size = blob[at]
    if size == 0x81:
        size, at = int.from_bytes(blob[at + 1 : at + 3], "little"), at + 3
    else:
        at += 1
    return blob[at : at + size].decode("utf-8", errors="replace")


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in chat order."""
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    said = []
    for text, body, from_me, handle in db.execute(ROWS):
        if not text and body:
            text = archived_string(body)
        text = (text or "").replace("\ufffc", "")
        sender = "Me" if from_me else handle
        if sender and text.strip():
            said.append((sender, text))
    db.close()
    return said


if __name__ == "__main__":
    main(typed)
