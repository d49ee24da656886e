"""Counts of Telegram Desktop HTML exports (`messages.html`, ...) made without twinchat.

Run `python tests/corpus/count_telegram_html.py FILE...`. Its own simple rules, by regular
expressions on the page, not a parser: the page is cut at each `<div class="message default`
(a `message service` block, a join or a day, ends the one before and is not counted); the
sender is the first `<div class="from_name">` before any `<div class="forwarded body">`, its
tags and a trailing `via @bot` (the inline bot the person used) dropped; a `joined` block has
none and takes the sender before it; the text is the first `<div class="text">` of the block
(a forwarded message's is the forwarder's), `<br>` a line break, tags dropped, entities
decoded; a block without one (a sticker, a photo without a caption) is not typed.
"""

from __future__ import annotations

import html
import re

from count_whatsapp import main

BLOCK = re.compile(r'(?=<div class="message (?:default|service))')
FROM = re.compile(r'<div class="from_name">(.*?)</div>', re.DOTALL)
TEXT = re.compile(r'<div class="text">(.*?)</div>', re.DOTALL)
VIA = re.compile(r"\s+via @\w+$")


def _plain(inner: str) -> str:
    inner = re.sub(r"<br\s*/?>", "\n", inner.strip())
    return html.unescape(re.sub(r"<[^>]+>", "", inner)).strip()


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    said, sender = [], None
    for block in BLOCK.split(page)[1:]:
        if block.startswith('<div class="message service'):
            continue
        own = FROM.search(block.split('<div class="forwarded body">')[0])
        if own:
            sender = VIA.sub("", _plain(own[1]))
        text = TEXT.search(block)
        if sender and text and _plain(text[1]):
            said.append((sender, _plain(text[1])))
    return said


if __name__ == "__main__":
    main(typed)
