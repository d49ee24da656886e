"""Counts of Google Chat conversations from Google Takeout made without twinchat, for manifest.json.

Run `python tests/corpus/count_google_chat.py FILE...` (a conversation's `messages.json`, from
`Takeout/Google Chat/Groups/<DM or Space id>/`). Its own simple rules: every object of the
`messages` list, in file order; the sender is `creator.name`, else `creator.email`; the text is
`text`, kept as written (Takeout keeps the spaces a person typed around it); a message without
words (a file alone, a card) is not typed, nor one deleted (`message_state` `DELETED` or a
`deletion_metadata`). A file's caption is its message's `text`, so it counts.
"""

from __future__ import annotations

import json

from count_whatsapp import main


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    with open(path, encoding="utf-8-sig") as f:
        data = json.load(f)
    said = []
    for m in data.get("messages", []):
        creator = m.get("creator") or {}
        sender = creator.get("name") or creator.get("email")
        text = m.get("text") or ""
        deleted = m.get("message_state") == "DELETED" or "deletion_metadata" in m
        if sender and text.strip() and not deleted:
            said.append((sender, text))
    return said


if __name__ == "__main__":
    main(typed)
