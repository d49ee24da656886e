"""Google Chat as Google Takeout exports it: `Google Chat/Groups/<DM id | Space id>/`, each
conversation a folder with `messages.json` and `group_info.json`.

`messages.json` is `{"messages": [message, ...]}`, oldest first; a message has `creator`
(`{name, email, user_type}`), `created_date` (`"Thursday, November 3, 2016 at 11:59:50 AM UTC"`;
newer exports put a narrow no-break space before AM/PM), `text` (absent for a file alone),
`topic_id`, `message_id`, and when they apply `attached_files` (`[{original_name,
export_name}]`), `annotations`, `quoted_message_metadata`, `updated_date`, `message_state`
(`DELETED`) and `deletion_metadata`. `group_info.json` holds `name` (a space's; DMs have none)
and `members`.

A message with attached files is `Kind.MEDIA` (its text the caption); a deleted one
`Kind.DELETED`; a bot's (`user_type` `Bot`) is kept as text with its name. Dates in another
language than English are counted and the message kept without a time.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import FilesExport
from twinchat.data.readers.matrix import build
from twinchat.data.readers.source import SEPARATORS, Source, base_name, first_line
from twinchat.errors import TwinchatError

PLATFORM = "google_chat"
_HEAD = re.compile(rb'^\s*\{\s*"messages"\s*:\s*\[\s*(?:\]|\{\s*"(?:creator|created_date)")')
_DATE = re.compile(
    r"(?:[A-Za-z]+, )?(?P<mon>[A-Za-z]+) (?P<d>\d{1,2}), (?P<y>\d{4}) at "
    r"(?P<h>\d{1,2}):(?P<mi>\d\d):(?P<s>\d\d)\s?(?P<mer>[AP]M) UTC"
)
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_IMAGE = re.compile(r"\.(?:jpe?g|png|gif|heic|webp)$", re.IGNORECASE)
_VIDEO = re.compile(r"\.(?:mp4|mov|webm|3gp)$", re.IGNORECASE)


def is_google_chat(source: Source) -> bool:
    """Whether a file is a conversation's `messages.json` of a Google Chat Takeout."""
    try:
        head = source.head(2048).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return False
    return bool(_HEAD.match(head))


def find_google_chat(sources: Sequence[Source]) -> list[Source]:
    """The conversations' `messages.json` among `sources`, folder by folder."""
    named = [s for s in sources[:5000] if base_name(s.label) == "messages.json"]
    return [s for s in named if is_google_chat(s)]


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    match = _DATE.fullmatch(text.replace("\u202f", " ").replace("\u00a0", " ").strip())
    if match is None:
        return None
    try:
        hour = int(match["h"]) % 12 + (12 if match["mer"] == "PM" else 0)
        return datetime(
            int(match["y"]),
            _MONTHS[match["mon"].lower()],
            int(match["d"]),
            hour,
            int(match["mi"]),
            int(match["s"]),
            tzinfo=UTC,
        )
    except (KeyError, ValueError):
        return None


def _group_name(source: Source, folder: str) -> str:
    """The space's name from `group_info.json` beside the file, else the folder's."""
    info_label = source.label[: len(source.label) - len("messages.json")] + "group_info.json"
    if "!" in source.label:
        return folder  # in a zip: the folder's name is what there is without opening it again
    try:
        with open(info_label, "rb") as stream:
            info = json.loads(stream.read(1 << 20))
    except (OSError, ValueError):
        return folder
    name = info.get("name") if isinstance(info, dict) else None
    if isinstance(name, str) and name.strip():
        return name
    members = info.get("members") if isinstance(info, dict) else None
    if isinstance(members, list):
        names = [m.get("name") for m in members if isinstance(m, dict) and m.get("name")]
        if names:
            return ", ".join(sorted(names))
    return folder


def read_google_chat_file(
    source: Source, stream: io.BufferedReader, problems: Counter[str]
) -> Iterator[Message]:
    """The messages of one conversation."""
    parts = SEPARATORS.split(source.label)
    folder = parts[-2] if len(parts) > 1 else "Google Chat"
    chat_name = _group_name(source, folder)
    number = 0
    try:
        events = ijson.parse(stream, use_float=True)
        for prefix, event, value in events:
            if prefix != "messages.item":
                continue
            number += 1
            message = _convert(build(events, event, value), folder, chat_name, number, problems)
            if message is not None:
                yield message
    except ijson.JSONError as err:
        raise TwinchatError(
            f"{source.label} is not whole JSON ({first_line(err)}); download the Takeout "
            "archive again"
        ) from None


def _convert(
    raw: Any, chat: str, chat_name: str, number: int, problems: Counter[str]
) -> Message | None:
    if not isinstance(raw, dict):
        problems["malformed message"] += 1
        return None
    creator = raw.get("creator") if isinstance(raw.get("creator"), dict) else {}
    name = creator.get("name") if isinstance(creator.get("name"), str) else None
    email = creator.get("email") if isinstance(creator.get("email"), str) else None
    moment = _time(raw.get("created_date"))
    if moment is None:
        problems["date not in English Takeout's layout (kept without a time)"] += 1
    text = raw.get("text") if isinstance(raw.get("text"), str) else ""
    files = raw.get("attached_files") if isinstance(raw.get("attached_files"), list) else []
    kind, media_type = Kind.TEXT, None
    if raw.get("message_state") == "DELETED" or "deletion_metadata" in raw:
        kind, text = Kind.DELETED, ""
    elif files:
        kind = Kind.MEDIA
        first = files[0] if isinstance(files[0], dict) else {}
        file_name = str(first.get("export_name") or first.get("original_name") or "")
        media_type = (
            "photo"
            if _IMAGE.search(file_name)
            else ("video_file" if _VIDEO.search(file_name) else "file")
        )
    elif not text:
        kind = Kind.OTHER  # a card, a meeting, a Drive file shown without words
    return Message(
        platform=PLATFORM,
        chat_id=chat,
        id=str(raw.get("message_id") or number),
        timestamp=moment,
        sender=name or email,
        text=text,
        kind=kind,
        chat_name=chat_name,
        chat_type="google_chat_dm" if chat.startswith("DM ") else "google_chat_space",
        tz_known=moment is not None,
        sender_id=email,
        media_type=media_type,
        edited=_time(raw.get("updated_date")),
    )


def GoogleChatExport(sources: Sequence[Source], label: str | None = None) -> FilesExport:
    """Google Chat conversations, one `messages.json` each."""
    return FilesExport(PLATFORM, sources, read_google_chat_file, label)
