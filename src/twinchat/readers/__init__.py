"""Readers turn a chat export into normalized `Message` records.

`read_export(path)` finds the export inside a file, folder or zip, recognises its format from
the content and the file names (Telegram first, then WhatsApp, then IRC logs), and returns an
object to iterate for messages. Each reader counts what it could not read in `problems`, so
nothing is dropped silently.
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
from twinchat.readers.combined import CombinedExport
from twinchat.readers.irc import IrcExport, irc_logs
from twinchat.readers.source import Source, sources_of
from twinchat.readers.telegram import TelegramExport
from twinchat.readers.whatsapp import (
    DATE_ORDERS,
    WhatsAppExport,
    is_chat_file_name,
    looks_like_chat,
)

SUPPORTED = (
    "Telegram Desktop JSON (result.json, its export folder, or a zip of it); "
    "WhatsApp's Export chat .txt (WhatsApp Chat with X.txt or _chat.txt, alone, in its folder, "
    "or in its zip); IRC logs ([HH:MM] <nick> text, one file a day named by its date)"
)
SOURCES = ("auto", "telegram", "whatsapp", "irc")
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


def read_export(path: str | Path, source: str = "auto", date_order: str | None = None) -> Export:
    """Open the chat export at `path` (a file, an export folder or a zip).

    Args:
        source: "auto" recognises the format; "telegram", "whatsapp" or "irc" insists on one.
        date_order: how WhatsApp dates are written ("dmy", "mdy" or "ymd"); None infers it.

    Raises:
        TwinchatError: the path is missing, holds no export twinchat can read, or is
            Telegram's HTML export.
    """
    path = resolve(path)
    if source not in SOURCES:
        raise TwinchatError(f"unknown source '{source}'; supported: {', '.join(SOURCES)}")
    if date_order not in (None, *DATE_ORDERS):
        raise TwinchatError(
            f"unknown date order '{date_order}'; supported: {', '.join(DATE_ORDERS)}"
        )
    candidates = sources_of(path)
    found = _find_telegram(candidates) if source in ("auto", "telegram") else None
    if found is not None:
        return TelegramExport(found)
    named = len(candidates) == 1 and candidates[0].label == str(path)  # a file, not a folder
    forced = source == "whatsapp" and named
    chats = _find_whatsapp(candidates, forced) if source in ("auto", "whatsapp") else []
    if len(chats) == 1:
        return WhatsAppExport(chats[0], date_order)
    if chats:
        return CombinedExport([WhatsAppExport(chat, date_order) for chat in chats], str(path))
    logs = irc_logs(candidates) if source in ("auto", "irc") else []
    if logs:
        return IrcExport(logs, label=str(path) if len(logs) > 1 else None)
    if source == "irc":
        raise TwinchatError(
            f"{path}: no IRC log found; point at logs of '[HH:MM] <nick> text' lines, one file "
            "a day named by its date (2024-01-31.log), or their folder or zip"
        )
    if source == "whatsapp":
        raise TwinchatError(
            f"{path}: no WhatsApp chat found; point at the .txt that WhatsApp's Export chat "
            "wrote (WhatsApp Chat with X.txt or _chat.txt), its folder or its zip"
        )
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


def _find_whatsapp(candidates: list[Source], forced: bool) -> list[Source]:
    """By name (`_chat.txt`, `WhatsApp Chat with X.txt`: every such chat of a folder or zip),
    else the first .txt that reads like one; `forced`: the user named this one file and said it
    is a WhatsApp chat."""
    named = [s for s in candidates if is_chat_file_name(s.label)]
    if named:
        return named
    alone = len(candidates) == 1
    texts = candidates if alone else [s for s in candidates if s.label.lower().endswith(".txt")]
    for src in texts[:50]:
        if looks_like_chat(src):
            return [src]
    return candidates[:1] if forced else []


def _is_html_export(src: Source) -> bool:
    if not src.label.lower().endswith((".html", ".htm")):
        return False
    head = src.head(16384)
    return bool(_HTML_PAGE.match(head.lstrip(b"\xef\xbb\xbf")) and _TELEGRAM_HTML.search(head))


__all__ = ["SOURCES", "SUPPORTED", "Export", "read_export"]
