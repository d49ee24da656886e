"""Readers turn a chat export into normalized `Message` records.

`read_export(path)` finds the export inside a file, folder or zip, recognises its format from
the content, and returns an object to iterate for messages. Each reader counts what it could
not read in `problems`, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from twinchat.bundled import resolve
from twinchat.errors import TwinchatError
from twinchat.message import Message
from twinchat.readers.source import Source, sources_of
from twinchat.readers.telegram import TelegramExport

SUPPORTED = "Telegram Desktop JSON (result.json, its export folder, or a zip of it)"
_TELEGRAM_HEAD = re.compile(rb'^\s*\{\s*"(name|type|id|messages|about|personal_information)"')
_HTML_PAGE = re.compile(rb"^\s*(<!doctype html|<html)", re.IGNORECASE)
_TELEGRAM_HTML = re.compile(rb"Exported Data|class=\"page_wrap\"|messages\d*\.html")


class Export(Protocol):
    """What every reader returns."""

    format: str
    source: Source
    problems: Counter[str]
    chats: int

    @property
    def bytes_read(self) -> int: ...

    def __iter__(self) -> Iterator[Message]: ...


def read_export(path: str | Path, source: str = "auto") -> Export:
    """Open the chat export at `path` (a file, an export folder or a zip).

    Raises:
        TwinchatError: the path is missing, holds no export twinchat can read, or is
            Telegram's HTML export.
    """
    path = resolve(path)
    if source not in ("auto", "telegram"):
        raise TwinchatError(f"unknown source '{source}'; supported: auto, telegram")
    candidates = sources_of(path)
    found = _find_telegram(candidates)
    if found is not None:
        return TelegramExport(found)
    if any(_is_html_export(src) for src in candidates[:50]):
        raise TwinchatError(
            f"{path} is Telegram's HTML export; export again in Telegram Desktop with "
            "format 'Machine-readable JSON'"
        )
    if not candidates:
        raise TwinchatError(f"{path} is an empty folder or archive; point at the export itself")
    raise TwinchatError(f"{path}: not a chat export twinchat can read; supported: {SUPPORTED}")


def _find_telegram(candidates: list[Source]) -> Source | None:
    named = [s for s in candidates if re.split(r"[/\\!]", s.label)[-1] == "result.json"]
    if named:
        return named[0]
    for src in candidates[:50]:
        head = src.head().lstrip(b"\xef\xbb\xbf")
        if _TELEGRAM_HEAD.match(head):
            return src
    return None


def _is_html_export(src: Source) -> bool:
    if not src.label.lower().endswith((".html", ".htm")):
        return False
    head = src.head(16384)
    return bool(_HTML_PAGE.match(head.lstrip(b"\xef\xbb\xbf")) and _TELEGRAM_HTML.search(head))


__all__ = ["SUPPORTED", "Export", "read_export"]
