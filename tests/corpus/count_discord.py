"""Counts of DiscordChatExporter JSON exports made without twinchat, for manifest.json.

Run `python tests/corpus/count_discord.py FILE...`. Its own simple rules: the messages of
`type` `Default` or `Reply` whose `content` is not empty after stripping; the sender is the
author's `nickname`, else `name`. Calls, joins, pins and the like are other types.
"""

from __future__ import annotations

import json

from count_whatsapp import main


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    with open(path, encoding="utf-8-sig") as f:
        data = json.load(f)
    said = []
    for m in data["messages"]:
        author = m.get("author") or {}
        text = (m.get("content") or "").strip()
        if m.get("type") in ("Default", "Reply") and text:
            said.append((author.get("nickname") or author.get("name"), text))
    return said


if __name__ == "__main__":
    main(typed)
