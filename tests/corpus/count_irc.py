"""Counts of IRC logs made without twinchat, for manifest.json.

Run `python tests/corpus/count_irc.py FILE...`. Its own simple rules, for the stamped
layouts in the corpus (Limnoria's `2005-01-09T02:05:04  <nick> text`): after the stamp,
`<nick> text` is a message and `* nick text` an action (`/me`), both typed; `*** ` lines
(joins, nick changes) are not. Op and voice marks before a nick are dropped; a line that is
not UTF-8 is read as cp1257 (Baltic) when it has its letters, else cp1252.
"""

from __future__ import annotations

import re

from count_whatsapp import main

LINE = re.compile(r"^\S+  (?:<[@+]?(?P<nick>[^>]+)> (?P<text>.*)|\* (?P<actor>\S+) (?P<act>.*))$")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(
            "cp1257" if re.search(rb"[\xd0\xf0\xde\xfe]", raw) else "cp1252", "replace"
        )


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    said = []
    with open(path, "rb") as f:
        for raw in f:
            match = LINE.match(_decode(raw.rstrip(b"\r\n")))
            if match and match["nick"] and match["text"].strip():
                said.append((match["nick"], match["text"].rstrip()))
            elif match and match["actor"]:
                said.append((match["actor"], match["act"].rstrip()))
    return said


if __name__ == "__main__":
    main(typed)
