"""Readers turn a chat export into normalized `Message` records.

`read_export(path)` finds the export inside a file, folder or zip, recognises its app from the
file names and a look at the content (each reader's `find_*`, tried from the most specific
shape to the loosest), and returns an object to iterate for messages. Each reader counts what
it could not read in `problems`, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinchat.bundled import resolve
from twinchat.data.readers.combined import CombinedExport
from twinchat.data.readers.dates import check_order
from twinchat.data.readers.discord import DiscordExport, discord_files, other_dce_format
from twinchat.data.readers.google_chat import GoogleChatExport, find_google_chat
from twinchat.data.readers.imessage import IMessageExport, find_imessage
from twinchat.data.readers.irc import IrcExport, irc_logs
from twinchat.data.readers.irc_clients import IrcClientExport, client_logs
from twinchat.data.readers.kakao import KakaoExport, find_kakao
from twinchat.data.readers.line import LineExport, find_line
from twinchat.data.readers.matrix import MatrixExport, find_matrix
from twinchat.data.readers.messenger import MessengerExport, find_messenger, is_html_download
from twinchat.data.readers.signal import SignalExport, find_signal
from twinchat.data.readers.slack import SlackExport, find_slack
from twinchat.data.readers.source import Export, Source, base_name, sources_of
from twinchat.data.readers.table import TableExport, find_table, parse_columns
from twinchat.data.readers.telegram import TelegramExport
from twinchat.data.readers.telegram_html import (
    TelegramHtmlExport,
    find_telegram_html,
    is_empty_telegram_page,
)
from twinchat.data.readers.whatsapp import WhatsAppExport, is_chat_file_name, looks_like_chat
from twinchat.errors import TwinchatError

SUPPORTED = (
    "Telegram Desktop JSON (result.json) or HTML (messages.html); WhatsApp's Export chat .txt; "
    "LINE's and KakaoTalk's exported chats; Element's Matrix JSON; Google Chat (Takeout); "
    "DiscordChatExporter JSON; "
    "Facebook Messenger or Instagram JSON (Download Your Information); a Slack workspace export; "
    "signal-export's chat folders; the macOS Messages chat.db; IRC logs (the Ubuntu corpus, irssi, "
    "WeeChat, ZNC, HexChat, mIRC, Quassel, Textual, Limnoria); a CSV or JSON Lines "
    "table of messages; each alone, in its folder or in a zip"
)
_TELEGRAM_HEAD = re.compile(rb'^\s*\{\s*"(name|type|id|messages|about|personal_information)"')


@dataclass(frozen=True)
class Request:
    """What the user named and said about it."""

    path: Path
    candidates: list[Source]
    forced: bool  # the user said which app it is from
    date_order: str | None = None
    columns: dict[str, str] | None = None


@dataclass(frozen=True)
class _Reader:
    source: str  # the --source name
    what: str  # how an error names it
    find: Callable[[Request], Any]  # what `open` needs, or None (or empty) when not this app's
    open: Callable[[Any, Request], Export]
    hint: str  # what to point at, when the user forced this source and it is not there


def _readers() -> list[_Reader]:
    """In the order they are tried: specific shapes first, loose ones (tables) last."""
    return [
        _Reader("telegram", "Telegram export", _telegram_by_name, _telegram, _TELEGRAM_HINT),
        _Reader(
            "telegram",
            "Telegram export",
            lambda r: find_telegram_html(r.candidates),
            lambda pages, r: TelegramHtmlExport(pages, label=str(r.path)),
            _TELEGRAM_HINT,
        ),
        _Reader(
            "signal",
            "Signal export",
            lambda r: find_signal(r.candidates),
            lambda chats, r: SignalExport(chats, label=str(r.path) if len(chats) > 1 else None),
            "signal-export's output: a chat folder with data.json or chat.md, or their folder",
        ),
        _Reader(
            "imessage",
            "Messages database",
            lambda r: find_imessage(r.candidates),
            lambda db, r: IMessageExport(db),
            "the Messages database, ~/Library/Messages/chat.db (a copy of it)",
        ),
        _Reader(
            "slack",
            "Slack export",
            lambda r: find_slack(r.candidates),
            lambda files, r: SlackExport(files),
            "the workspace export zip (channels.json, users.json and a folder per channel)",
        ),
        _Reader(
            "messenger",
            "Messenger or Instagram export",
            lambda r: find_messenger(r.candidates, root=r.path if r.path.is_dir() else None),
            lambda threads, r: MessengerExport(threads, label=str(r.path)),
            "the JSON download of your information: message_1.json, its thread folder, "
            "the export folder or its zip",
        ),
        _Reader(
            "matrix",
            "Element (Matrix) export",
            lambda r: find_matrix(r.candidates),
            lambda files, r: MatrixExport(files, label=str(r.path)),
            "the JSON file of Element's Export chat (format JSON), or its zip",
        ),
        _Reader(
            "google_chat",
            "Google Chat export",
            lambda r: find_google_chat(r.candidates),
            lambda files, r: GoogleChatExport(files, label=str(r.path)),
            "Google Takeout's 'Google Chat' folder, a conversation's folder with messages.json, "
            "or the Takeout zip",
        ),
        _Reader(
            "discord",
            "DiscordChatExporter export",
            lambda r: discord_files(r.candidates),
            lambda files, r: DiscordExport(files, label=str(r.path) if len(files) > 1 else None),
            "DiscordChatExporter's JSON export of a channel, or a folder or zip of them",
        ),
        _Reader("telegram", "Telegram export", _telegram_by_head, _telegram, _TELEGRAM_HINT),
        _Reader(
            "line",
            "LINE chat",
            lambda r: find_line(r.candidates),
            lambda files, r: LineExport(files, label=str(r.path)),
            "the .txt of LINE's Export chat history ([LINE] Chat history with ...), its folder "
            "or its zip",
        ),
        _Reader(
            "kakaotalk",
            "KakaoTalk chat",
            lambda r: find_kakao(r.candidates),
            lambda files, r: KakaoExport(files, label=str(r.path)),
            "the .txt or .csv of KakaoTalk's Export chat (KakaoTalk Chats with ..., "
            "... 님과 카카오톡 대화), its folder or its zip",
        ),
        # before WhatsApp: a "[2024-01-31 19:00:01] <nick> text" line has a WhatsApp-like date
        _Reader(
            "irc",
            "IRC log",
            lambda r: client_logs(r.candidates),
            lambda logs, r: IrcClientExport(logs, label=str(r.path) if len(logs) > 1 else None),
            "logs of '[HH:MM] <nick> text' lines (the Ubuntu corpus's, one file a day named by "
            "its date) or of irssi, WeeChat, ZNC, HexChat, mIRC, Quassel, Textual or Limnoria, "
            "or their folder or zip",
        ),
        _Reader(
            "whatsapp",
            "WhatsApp chat",
            _whatsapp_chats,
            _whatsapp,
            "the .txt that WhatsApp's Export chat wrote (WhatsApp Chat with X.txt or _chat.txt), "
            "its folder or its zip",
        ),
        _Reader(
            "irc",
            "IRC log",
            lambda r: irc_logs(r.candidates),
            lambda logs, r: IrcExport(logs, label=str(r.path) if len(logs) > 1 else None),
            "logs of '[HH:MM] <nick> text' lines, one file a day named by its date "
            "(2024-01-31.log), or their folder or zip",
        ),
        _Reader(
            "table",
            "table of messages",
            lambda r: find_table(r.candidates, r.columns),
            lambda table, r: TableExport(table, r.columns, r.date_order),
            "one .csv, .tsv, .jsonl or .json table with a row per message",
        ),
    ]


def read_export(
    path: str | Path,
    source: str = "auto",
    date_order: str | None = None,
    columns: str | dict[str, str] | None = None,
) -> Export:
    """Open the chat export at `path` (a file, an export folder or a zip).

    Args:
        source: "auto" recognises the format; a name from `SOURCES` insists on one.
        date_order: how dates are written in WhatsApp chats and tables ("dmy", "mdy" or
            "ymd"); None infers it.
        columns: which table columns hold what, "sender=author,text=body,time=date" or a
            dict; None guesses from the header.

    Raises:
        TwinchatError: the path is missing, holds no export twinchat can read, or is an HTML
            export (Facebook's) that must be made again as JSON.
    """
    path = resolve(path)
    if source not in SOURCES:
        raise TwinchatError(f"unknown source '{source}'; supported: {', '.join(SOURCES)}")
    check_order(date_order)
    mapping = parse_columns(columns) if isinstance(columns, str) else columns
    request = Request(path, sources_of(path), source != "auto", date_order, mapping)
    readers = [r for r in _readers() if source in ("auto", r.source)]
    for reader in readers:
        found = reader.find(request)
        if found:
            return reader.open(found, request)
    _refuse_html(request)  # an export made in a format to make again names it, forced or not
    if source != "auto":
        raise TwinchatError(f"{path}: no {readers[0].what} found; point at {readers[0].hint}")
    if not request.candidates:
        raise TwinchatError(f"{path} is an empty folder or archive; point at the export itself")
    raise TwinchatError(f"{path}: not a chat export twinchat can read; supported: {SUPPORTED}")


_TELEGRAM_HINT = (
    "the result.json or messages.html of Telegram Desktop's export, its folder or its zip"
)


def _telegram(found: Source, request: Request) -> Export:
    return TelegramExport(found)


def _telegram_by_name(request: Request) -> Source | None:
    named = [s for s in request.candidates if base_name(s.label) == "result.json"]
    return named[0] if named else None


def _telegram_by_head(request: Request) -> Source | None:
    for src in request.candidates[:50]:
        head = src.head().lstrip(b"\xef\xbb\xbf")
        if _TELEGRAM_HEAD.match(head):
            return src
    return None


def _whatsapp(chats: list[Source], request: Request) -> Export:
    if len(chats) == 1:
        return WhatsAppExport(chats[0], request.date_order)
    exports = [WhatsAppExport(chat, request.date_order) for chat in chats]
    return CombinedExport(exports, str(request.path))


def _whatsapp_chats(request: Request) -> list[Source]:
    """By name (`_chat.txt`, `WhatsApp Chat with X.txt`: every such chat of a folder or zip),
    else the first .txt that reads like one; a file the user named and said is a WhatsApp
    chat is one."""
    candidates = request.candidates
    named = [s for s in candidates if is_chat_file_name(s.label)]
    if named:
        return named
    alone = len(candidates) == 1
    texts = candidates if alone else [s for s in candidates if s.label.lower().endswith(".txt")]
    for src in texts[:50]:
        if looks_like_chat(src):
            return [src]
    chosen = alone and request.forced and candidates[0].label == str(request.path)
    return candidates[:1] if chosen else []


def _refuse_html(request: Request) -> None:
    """Refuse an export made in a format to make again (HTML, DCE's text or CSV), naming it."""
    path = request.path
    if any(is_empty_telegram_page(src) for src in request.candidates[:50]):
        raise TwinchatError(
            f"{path} is a page of Telegram's HTML export without any message; point at the "
            "export's folder or its messages.html, or export again in Telegram Desktop with "
            "format 'Machine-readable JSON'"
        )
    for src in request.candidates[:50]:
        kind = other_dce_format(src)
        if kind is not None:
            raise TwinchatError(
                f"{src.label} is DiscordChatExporter's {kind} export; export again with format "
                "JSON (--format Json)"
            )
    if is_html_download(request.candidates):
        raise TwinchatError(
            f"{path} is Facebook's or Instagram's HTML download; download your information "
            "again with format 'JSON'"
        )


SOURCES = ("auto", *dict.fromkeys(reader.source for reader in _readers()))

__all__ = ["SOURCES", "SUPPORTED", "Export", "Request", "read_export"]
