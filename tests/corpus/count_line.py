"""Counts of LINE "Export chat history" .txt files made without twinchat, for manifest.json.

Run `python tests/corpus/count_line.py FILE...`. Its own simple rules: a record ends at a CRLF
(the phone's lines end so; the line breaks a person typed inside a message are a bare LF); a
message is a record `time<TAB>sender<TAB>text` with a sender (an empty sender column is LINE's
notice, such as an unsent message); a text that was several lines is quoted: its first and last
`"` are dropped and `""` is one quote (the spaces and line breaks the person typed around the
words are kept); LINE's own texts are skipped: a placeholder in brackets
(`[Photo]`, `[Sticker]`, `[File]`, ...) and a call (`☎ Missed call`, `☎ Call time 0:25`).
"""

from __future__ import annotations

import re

from count_whatsapp import main

MESSAGE = re.compile(r"^\d{1,2}:\d\d(?: ?[AP]M)?\t([^\t]+)\t(.*)$", re.DOTALL)
PLACEHOLDER = re.compile(r"^\[(?:Photo|Sticker|File|Video|Voice message|Contact|Location|Album)\]$")


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        records = f.read().split("\r\n")
    said = []
    for record in records:
        m = MESSAGE.match(record)
        if not m:
            continue
        sender, text = m[1], m[2]
        if "\n" in text and text.startswith('"') and text.endswith('"'):
            text = text[1:-1].replace('""', '"')
        words = text.strip()  # the text is kept as typed, spaces around it too
        if words and not PLACEHOLDER.match(words) and not words.startswith("☎"):
            said.append((sender, text))
    return said


if __name__ == "__main__":
    main(typed)
