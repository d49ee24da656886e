"""Counts of Messenger and Instagram JSON downloads made without twinchat, for manifest.json.

Run `python tests/corpus/count_messenger.py PATH...` (a `message_N.json`, a thread's folder
of them, or an end-to-end-encrypted chat's `name_N.json`). Its own simple rules: every
message of every file, sorted by time; the sender is `sender_name` (`senderName`) and the
text `content` (`text`), both decoded from Facebook's UTF-8-as-Latin-1 when that decodes;
a shared link without words is what its sender sent (`share.link`); not typed: an empty text,
an unsent message, and the `Call`, `Subscribe` and `Unsubscribe` types (whose `content` is
Facebook's own).
"""

from __future__ import annotations

import json
import os

from count_whatsapp import main


def _fix(text: str) -> str:
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, oldest first."""
    files = (
        [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith(".json")]
        if os.path.isdir(path)
        else [path]
    )
    rows = []
    for name in files:
        with open(name, encoding="utf-8-sig") as f:
            data = json.load(f)
        for m in data["messages"]:
            sender = m.get("sender_name", m.get("senderName"))
            text = _fix(m.get("content", m.get("text")) or "").strip()
            text = text or ((m.get("share") or {}).get("link") or "").strip()
            when = m.get("timestamp_ms", m.get("timestamp"))
            own = m.get("type") in ("Call", "Subscribe", "Unsubscribe")
            if sender and text and not own and not m.get("is_unsent", m.get("isUnsent")):
                rows.append((when, _fix(sender), text))
    rows.sort(key=lambda row: row[0])
    return [(sender, text) for _, sender, text in rows]


if __name__ == "__main__":
    main(typed)
