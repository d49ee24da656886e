"""Facebook Messenger and Instagram message exports ("Download Your Information", JSON).

Read as ../shared/reference/formats.md §4 describes them. Two layouts:

* DYI threads: `messages/<section>/<thread>/message_1.json`, `message_2.json`, ... (sections
  `inbox`, `archived_threads`, `message_requests`, `filtered_threads`, `e2ee_cutover`), under
  `your_facebook_activity/` (2025+), `your_activity_across_facebook/` (2024), the export's root
  (before), or `your_instagram_activity/` (Instagram, platform "instagram"). A file holds
  `participants` [{name}], `title`, `thread_type`, `thread_path` and `messages`, newest first;
  `message_1` is the newest part. Files of a thread folder are one chat. A thread file with
  another name (a renamed `message_1.json`) is a chat of its own, recognised by its head.
* Messenger's end-to-end-encrypted chats, downloaded apart from DYI: flat `<Name>_<n>.json`
  files, one chat each, with `participants` ["name"], `threadName` ("Name_n": the `_n` goes),
  and messages of `senderName`, `timestamp` (ms), `text`, `type` (text, media, link,
  placeholder), `isUnsent`, `media` [{uri}] and `reactions`.

`find_messenger` takes the files of what the user named: one thread file, a thread folder, a
section, the `messages` folder, the whole export or its zip; every thread found is one chat.
The threads of a whole unzipped export lie 5 levels down, deeper than `sources_of` looks:
pass the folder the user named as `root` and they are looked for there too. A thread is
Instagram's when its path has `your_instagram_activity/` or an `instagram-<user>-...` folder or
zip, Messenger's otherwise. Facebook's HTML download is not read (`is_html_download`).

Every string is repaired of Facebook's mojibake, UTF-8 bytes written as `\\u00XX` characters
("caf\\u00c3\\u00a9" is "café"): a string with no character above U+00FF whose characters, taken
as bytes, are valid UTF-8 is decoded again; any other string is kept, so right ones stay right.

Times are `timestamp_ms` (E2EE: `timestamp`), UTC epoch milliseconds; a number below 10^11 is
seconds (2018 exports wrote `timestamp` in seconds). A thread's messages are read file by file
and sorted by time (stable, each file first put oldest-first), so memory grows with the largest
thread, never with the export. Message ids are their 1-based position in the sorted chat.
`chat_id` is `thread_path` (else the thread folder's section/name, or `e2ee/<file name>`),
`chat_name` the title (else the participants), `chat_type` private_group for `RegularGroup` or
more than two participants, else personal_chat.

Kinds, in this order:
* `is_unsent`, `isUnsent`, an E2EE `placeholder`, a kid's image removed by a parent: DELETED,
  with no text (the sender took it back).
* `is_geoblocked_for_viewer`: UNSUPPORTED.
* `type` Call or a `call_duration`: CALL, action `phone_call`, text the content.
* `type` Subscribe / Unsubscribe: SERVICE, action from the content, else `invite_members` /
  `leave_group`.
* Content that is Messenger's own text (`_AFTER_NAME`, `_WHOLE`: "Alice named the group
  Trip.", "You are now connected on Messenger", "Reacted ❤ to your message", "Liked a
  message", "Alice missed your call."...): SERVICE, CALL, DELETED, POLL (its question as text)
  or LOCATION. Texts about a person must start with the sender's name, first name or "You",
  so typed text rarely matches.
  English only: other languages stay TEXT.
* `sticker`: STICKER (Messenger's thumbs-up "like" stickers carry the emoji 👍).
* `photos`, `videos`, `audio_files`, `gifs`, `files`, E2EE `media`: MEDIA, media_type photo,
  video_file, audio_file, animation or file (E2EE: by the file's extension), the content as
  caption, unless it is a placeholder ("You sent a photo.", "Bob sent an attachment."): those
  have no text, and alone (the media lost) are MEDIA or STICKER by their noun.
* `share`: TEXT, the content, else the shared link; Instagram's `original_content_owner` is
  `forwarded_from`.
* Anything else: TEXT, the content as typed (missing content: "").

`reactions` have no place in `Message` and are not read. A message that is not an object or
has no plausible time counts in `problems["malformed message"]`; a file that is not valid JSON
or has no `messages` list is skipped and counted. When nothing could be read because of broken
files, that is an error naming the first one.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

from twinchat.data.message import Kind, Message
from twinchat.data.readers.source import Source, base_name, combined_source, label_parts
from twinchat.errors import TwinchatError

PLATFORM = "messenger"
INSTAGRAM = "instagram"
DYI, E2EE = "dyi", "e2ee"
SCAN_MISSES = 50  # JSON files whose head is looked at before giving up on other names
SECONDS_BELOW = 10**11  # epochs below this are seconds (year 5138), above milliseconds (1973)
LONGEST_OWN_TEXT = 500  # Messenger's own texts are shorter; typed ones may not be
ACTIVITY_FOLDERS = ("your_facebook_activity", "your_activity_across_facebook", "")
INSTAGRAM_FOLDERS = ("your_instagram_activity",)
DYI_FILE = re.compile(r"message_(\d+)\.json", re.IGNORECASE)
HTML_FILE = re.compile(r"message_\d+\.html", re.IGNORECASE)
# JSON files of a Messenger export's `messages` folder that are settings, not chats (msgvault)
METADATA_FILES = frozenset(
    {"autofill_information.json", "chat_invites_received.json", "community_chats_settings.json",
     "encrypted_messaging_backup_settings.json", "information_about_your_devices.json",
     "messaging_settings.json", "messenger_active_status_platform_settings.json",
     "messenger_active_status_settings.json", "messenger_ui_settings.json",
     "secret_conversations.json", "support_messages.json", "your_chat_settings_on_web.json",
     "your_end-to-end_encryption_enabled_messenger_device.json",
     "your_messenger_app_install_information.json",
     "your_responsiveness_in_messaging_threads.json"}
)  # fmt: skip
CHAT_TYPES = {"Regular": "personal_chat", "RegularGroup": "private_group"}
# fbchat's ids of the thumbs-up "like" sticker in its small, medium and large sizes
LIKE_STICKERS = ("369239263222822", "369239343222814", "369239383222810")
MEDIA_KEYS = (
    ("photos", "photo"),
    ("videos", "video_file"),
    ("gifs", "animation"),
    ("audio_files", "audio_file"),
    ("files", "file"),
)
_MEDIA_KEY_NAMES = tuple(key for key, _ in MEDIA_KEYS)
EXTENSIONS = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "heic"), "photo"),
    **dict.fromkeys(("mp4", "mov", "webm"), "video_file"),
    **dict.fromkeys(("ogg", "oga", "opus", "aac", "m4a", "mp3", "wav"), "audio_file"),
    "gif": "animation",
}

_BOM = b"\xef\xbb\xbf"
_DYI_KEYS = rb"participants|messages|title|is_still_participant|thread_path|thread_type"
_DYI_HEAD = re.compile(rb'\s*\{\s*"(?:' + _DYI_KEYS + rb'|magic_words|image|joinable_mode)"\s*:')
_DYI_PEOPLE = re.compile(rb'"participants"\s*:\s*\[\s*\{\s*"name"\s*:')
_E2EE_HEAD = re.compile(rb'\s*\{\s*"(?:participants|threadName|messages)"\s*:')
_E2EE_PEOPLE = re.compile(rb'"participants"\s*:\s*\[\s*"')
_THREAD_SUFFIX = re.compile(r"_\d+$")
_EARLIEST = int(datetime(1971, 1, 1, tzinfo=UTC).timestamp()) * 1000  # dates far outside any
_LATEST = int(datetime(9001, 1, 1, tzinfo=UTC).timestamp()) * 1000  # chat break arithmetic later


class Malformed(ValueError):
    """A message object that does not have the shape Facebook gives it."""


@dataclass(frozen=True)
class Thread:
    """The files of one chat: a DYI thread's parts, oldest first, or one E2EE file."""

    files: tuple[Source, ...]
    layout: str  # DYI or E2EE
    platform: str  # PLATFORM or INSTAGRAM
    fallback_id: str  # chat_id when the file has no thread_path


class Found(NamedTuple):
    """What one of Messenger's own texts stands for."""

    kind: Kind
    action: str | None = None
    media_type: str | None = None


# --- mojibake ---------------------------------------------------------------------------------


def repair(text: str) -> str:
    """Undo Facebook's mojibake (UTF-8 bytes written as U+0000-U+00FF); keep other strings."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text  # a character above U+00FF, or not UTF-8 bytes: already right


def _string(value: Any) -> str | None:
    return repair(value) if isinstance(value, str) else None


# --- Messenger's own texts --------------------------------------------------------------------

# After the name (or "You") of the sender: (kind, action, pattern), the pattern starting with a
# space. Media placeholders are apart: they leave a message media, not text.
_AFTER_NAME: list[tuple[Kind, str, str]] = [
    (Kind.SERVICE, "create_group", r" created the group(?: .+)?"),
    (Kind.SERVICE, "edit_group_title", r" (?:named the group|changed the group name to) .+"),
    (Kind.SERVICE, "edit_group_photo", r" (?:changed|removed) the group photo"),
    (Kind.SERVICE, "invite_members", r" added .+ to the (?:group|chat)"),
    (Kind.SERVICE, "invite_members", r" joined the (?:group|chat)(?: .+)?"),
    (Kind.SERVICE, "remove_members", r" removed .+ from the (?:group|chat)"),
    (Kind.SERVICE, "leave_group", r" left the (?:group|chat|conversation)"),
    (Kind.SERVICE, "admin", r" (?:made .+ an? (?:group )?admin|removed .+ as (?:a )?group admin)"),
    (Kind.SERVICE, "nickname", r" (?:set|cleared|changed) (?:the|your|his|her|their) .*nickname.*"),
    (Kind.SERVICE, "theme", r" (?:changed|set) the (?:chat |group )?(?:theme|emoji|colou?rs?|"
     r"quick reaction)(?: .+)?"),
    (Kind.SERVICE, "pin_message", r" (?:un)?pinned a message"),
    (Kind.SERVICE, "reaction", r" reacted .+ to (?:your|a|their|his|her) message\s*"),
    (Kind.SERVICE, "reaction", r" liked a message"),
    (Kind.SERVICE, "poll_vote", r" (?:voted for .+ in the poll|changed (?:your|their|his|her) "
     r"vote to .+).*"),
    (Kind.SERVICE, "wave", r" waved (?:at|hello to) .+"),
    (Kind.POLL, "create_poll", r" created (?:a|the) poll: .+"),
    (Kind.CALL, "phone_call", r" (?:started|joined) (?:a|an audio|a video|the|the video|the "
     r"audio) (?:call|chat)"),
    (Kind.CALL, "phone_call", r" missed (?:your|a|the) (?:video |audio )?(?:call|chat)(?: .+)?"),
    (Kind.CALL, "phone_call", r" called you"),
    (Kind.DELETED, "unsent", r" unsent a message"),
    (Kind.LOCATION, "location", r" (?:started|stopped) sharing (?:your |their |his |her )?"
     r"(?:live )?location"),
]  # fmt: skip
# The whole content, whoever sent it.
_WHOLE: list[tuple[Kind, str, str]] = [
    (Kind.SERVICE, "connected", r"You are now connected on Messenger"),
    (Kind.SERVICE, "connected", r"Say hi to your new Facebook friend,? .+"),
    (Kind.SERVICE, "connected", r"You can now (?:message|call) .+"),
    (Kind.SERVICE, "encryption", r"Messages and calls are (?:now )?secured with end-to-end "
     r"encryption.*"),
    (Kind.SERVICE, "reaction", r"Reacted .+ to your message\s*"),
    (Kind.SERVICE, "reaction", r"Liked a message"),
    (Kind.CALL, "phone_call", r"The (?:video |audio )?(?:call|chat) (?:has )?ended"),
    (Kind.CALL, "phone_call", r"(?:Video|Audio) (?:call|chat) ended"),
    (Kind.CALL, "phone_call", r"You missed a (?:video |audio )?(?:call|chat) (?:from|with) .+"),
    (Kind.DELETED, "unsent", r"This message (?:was unsent|has been deleted)"),
    (Kind.UNSUPPORTED, "unavailable", r"This message is (?:no longer )?unavailable.*"),
]  # fmt: skip
_PLACEHOLDER = re.compile(
    r" sent (?:an? |\d+ )?(?P<noun>attachment|photo|video|GIF|gif|sticker|voice message|"
    r"audio clip|audio|file|link|live location)s?(?: from .+)?\.?"
)
_NOUNS = {
    "attachment": Found(Kind.MEDIA, None, "file"),
    "photo": Found(Kind.MEDIA, None, "photo"),
    "video": Found(Kind.MEDIA, None, "video_file"),
    "gif": Found(Kind.MEDIA, None, "animation"),
    "sticker": Found(Kind.STICKER, None, "sticker"),
    "voice message": Found(Kind.MEDIA, None, "voice_message"),
    "audio clip": Found(Kind.MEDIA, None, "audio_file"),
    "audio": Found(Kind.MEDIA, None, "audio_file"),
    "file": Found(Kind.MEDIA, None, "file"),
    "link": Found(Kind.MEDIA, None, "link"),
    "live location": Found(Kind.LOCATION, "location", None),
}


def _table(rows: list[tuple[Kind, str, str]]) -> tuple[re.Pattern[str], list[Found]]:
    pattern = "|".join(f"(?P<t{i}>{text})" for i, (_, _, text) in enumerate(rows))
    return re.compile(f"(?:{pattern})\\.?", re.S), [Found(kind, act) for kind, act, _ in rows]


_AFTER_NAME_RE, _AFTER_NAME_FOUND = _table(_AFTER_NAME)
_WHOLE_RE, _WHOLE_FOUND = _table(_WHOLE)
_WHOLE_FIRST = frozenset(text[0] for _, _, text in _WHOLE)  # most typed text fails at once


def own_text(content: str, sender: str | None) -> Found | None:
    """What `content` stands for when it is Messenger's own text rather than typed, else None.

    A text about a person starts with the sender's name, first name or "You".
    """
    if not content or len(content) > LONGEST_OWN_TEXT:
        return None
    if content[0] in _WHOLE_FIRST and (match := _WHOLE_RE.fullmatch(content)):
        return _WHOLE_FOUND[int(cast(str, match.lastgroup)[1:])]
    rest = _after_sender(content, sender)
    if rest is None:
        return None
    if match := _AFTER_NAME_RE.fullmatch(rest):
        return _AFTER_NAME_FOUND[int(cast(str, match.lastgroup)[1:])]
    if match := _PLACEHOLDER.fullmatch(rest):
        return _NOUNS[match["noun"].lower()]
    return None


def _after_sender(content: str, sender: str | None) -> str | None:
    """`content` from the space after "You", the sender's name or first name, else None."""
    if content.startswith("You "):
        return content[3:]
    if not sender or content[0] != sender[0]:
        return None
    first = sender.split(" ", 1)[0]
    for name in (sender, first):
        if content.startswith(name) and content[len(name) : len(name) + 1] == " ":
            return content[len(name) :]
    return None


# --- one message ------------------------------------------------------------------------------


def to_message(obj: Any, platform: str, layout: str = DYI) -> Message:
    """Normalize one message object; chat fields and the id are the thread's to fill in.

    Raises:
        Malformed: not an object, or no plausible time.
    """
    if not isinstance(obj, dict):
        raise Malformed("a message must be an object")
    e2ee = layout == E2EE
    time = obj.get("timestamp") if e2ee else obj.get("timestamp_ms", obj.get("timestamp"))
    millis = _millis(time)
    message = Message(
        platform=platform,
        chat_id="",
        id="",
        timestamp=None,
        sender=_string(obj.get("senderName" if e2ee else "sender_name")),
        text=_string(obj.get("text" if e2ee else "content")) or "",
    )
    # Message would derive epoch from the datetime again; the milliseconds give it directly
    message.timestamp = datetime.fromtimestamp(millis / 1000, UTC)  # exact to the microsecond
    message.epoch = millis / 1000
    if e2ee:
        unsent = obj.get("isUnsent") is True or obj.get("type") == "placeholder"
    else:
        unsent = (
            obj.get("is_unsent") is True
            or obj.get("is_unsent_image_by_messenger_kid_parent") is True
        )
    if unsent:
        message.kind, message.text = Kind.DELETED, ""
    elif obj.get("is_geoblocked_for_viewer") is True:
        message.kind = Kind.UNSUPPORTED
    else:
        _classify(message, obj, e2ee)
    return message


def _millis(value: Any) -> int:
    """Epoch milliseconds of a message's time, within 1971-9000."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Malformed("a message needs a numeric time")
    millis = int(value * 1000 if value < SECONDS_BELOW else value)
    if not _EARLIEST <= millis < _LATEST:
        raise Malformed(f"time {value} is not a plausible message time")
    return millis


def _classify(message: Message, obj: dict[str, Any], e2ee: bool) -> None:
    kind_of = obj.get("type")
    found = own_text(message.text, message.sender)
    if kind_of == "Call" or "call_duration" in obj:
        message.kind, message.action = Kind.CALL, "phone_call"
    elif kind_of in ("Subscribe", "Unsubscribe"):
        message.kind = Kind.SERVICE
        default = "invite_members" if kind_of == "Subscribe" else "leave_group"
        message.action = found.action if found and found.kind is Kind.SERVICE else default
    elif found is not None and found.action is not None:
        message.kind, message.action = found.kind, found.action
        if found.kind is Kind.DELETED:
            message.text = ""
        elif found.kind is Kind.POLL:
            message.text = message.text.split(": ", 1)[1].removesuffix(".")
    else:
        _content(message, obj, e2ee, found)


def _content(message: Message, obj: dict[str, Any], e2ee: bool, placeholder: Found | None) -> None:
    """Stickers, media (the content as caption) and shares; a placeholder is no caption."""
    if placeholder is not None:
        message.text = ""
    sticker = obj.get("sticker")
    media_type = _media_type(obj, e2ee)
    if sticker:
        message.kind, message.media_type = Kind.STICKER, "sticker"
        uri = sticker.get("uri") if isinstance(sticker, dict) else None
        if isinstance(uri, str) and any(like in uri for like in LIKE_STICKERS):
            message.emoji = "👍"
    elif media_type is not None:
        message.kind, message.media_type = Kind.MEDIA, media_type
    elif isinstance(share := obj.get("share"), dict):
        message.text = message.text or _string(share.get("link")) or ""
        message.forwarded_from = _string(share.get("original_content_owner"))
    elif placeholder is not None:
        message.kind, message.media_type = placeholder.kind, placeholder.media_type


def _media_type(obj: dict[str, Any], e2ee: bool) -> str | None:
    if e2ee:
        media = obj.get("media")
        if media or obj.get("type") == "media":
            first = media[0] if isinstance(media, list) and media else None
            uri = first.get("uri") if isinstance(first, dict) else None
            extension = uri.rsplit(".", 1)[-1].lower() if isinstance(uri, str) else ""
            return EXTENSIONS.get(extension, "file")
        return None
    if obj.keys().isdisjoint(_MEDIA_KEY_NAMES):  # most messages: a cheap look
        return None
    for key, media_type in MEDIA_KEYS:
        if obj.get(key):
            return media_type
    return None


# --- finding the export -----------------------------------------------------------------------


def find_messenger(candidates: list[Source], root: Path | None = None) -> list[Thread] | None:
    """The Messenger or Instagram threads among the files of what the user named, or None.

    DYI thread files are recognised by their name (`message_N.json`, the first few checked by
    their head), other JSON files by their head: a DYI thread's, or an E2EE chat's. `root`:
    the folder the user named, whose threads may lie deeper than the candidates reach.
    """
    files: dict[str, tuple[Source, str]] = {}
    named = [s for s in candidates if DYI_FILE.fullmatch(base_name(s.label))]
    if root is not None and root.is_dir():
        named += _deep_thread_files(root)
    if any(_DYI_HEAD.match(_head(s)) for s in named[:10]):
        files.update((s.label, (s, DYI)) for s in named)  # the same file found twice counts once
    for source, layout in _scan_other_json(candidates, dyi_found=bool(files)):
        files[source.label] = (source, layout)
    if not files:
        return None
    return _threads(list(files.values()))


def is_html_download(candidates: Iterable[Source]) -> bool:
    """Whether the files are a DYI download in HTML format (`messages/inbox/x/message_1.html`)."""
    return any(HTML_FILE.fullmatch(base_name(s.label)) for s in candidates)


def _head(source: Source) -> bytes:
    try:
        return source.head().removeprefix(_BOM)
    except OSError:
        return b""


def _layout_of_head(head: bytes, dyi: bool) -> str | None:
    """E2EE, DYI (when `dyi` thread files may be recognised by head alone) or None."""
    if _E2EE_HEAD.match(head) and (b'"threadName"' in head or _E2EE_PEOPLE.search(head)):
        return E2EE
    if dyi and _DYI_HEAD.match(head) and (b'"sender_name"' in head or _DYI_PEOPLE.search(head)):
        return DYI
    return None


def _scan_other_json(candidates: list[Source], dyi_found: bool) -> Iterator[tuple[Source, str]]:
    """JSON files not named like thread parts whose head is an E2EE chat's (or, when no DYI
    thread was found by name, a DYI thread's); gives up after `SCAN_MISSES` others."""
    misses, hits = 0, 0
    for source in candidates:
        name = base_name(source.label)
        if not name.lower().endswith(".json") or DYI_FILE.fullmatch(name):
            continue
        if name.lower() in METADATA_FILES:
            continue
        if not hits and misses >= SCAN_MISSES:
            return
        layout = _layout_of_head(_head(source), dyi=not dyi_found)
        if layout is None:
            misses += 1
            continue
        hits += 1
        yield source, layout


def _deep_thread_files(root: Path) -> list[Source]:
    """`message_N.json` in `messages/<section>/<thread>/` under the root or a folder in it."""
    bases = [root]
    with contextlib.suppress(OSError):  # a folder the user may not list
        bases += sorted(p for p in root.iterdir() if p.is_dir())
    found = []
    for base in bases:
        for activity in (*ACTIVITY_FOLDERS, *INSTAGRAM_FOLDERS):
            messages = base / activity / "messages" if activity else base / "messages"
            if not messages.is_dir():
                continue
            for path in sorted(messages.glob("*/*/message_*.json")):
                if DYI_FILE.fullmatch(path.name) and path.is_file():
                    found.append(Source(str(path), path.stat().st_size, _opener(path)))
    return found


def _opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def _threads(files: list[tuple[Source, str]]) -> list[Thread]:
    """One thread per DYI folder (its parts oldest first) and per other file, by label."""
    folders: dict[str, list[Source]] = {}
    threads = []
    for source, layout in files:
        name = base_name(source.label)
        folder = source.label[: len(source.label) - len(name)]
        if layout == DYI and DYI_FILE.fullmatch(name):
            folders.setdefault(folder, []).append(source)
            continue
        stem = name.rsplit(".", 1)[0]
        fallback = f"e2ee/{stem}" if layout == E2EE else stem
        threads.append(Thread((source,), layout, _platform(source.label), fallback))
    for folder, parts in folders.items():
        parts.sort(key=lambda s: -int(cast(re.Match, DYI_FILE.fullmatch(base_name(s.label)))[1]))
        section_thread = "/".join(label_parts(folder.rstrip("/\\!"))[-2:])
        threads.append(Thread(tuple(parts), DYI, _platform(folder), section_thread))
    threads.sort(key=lambda t: t.files[0].label)
    return threads


def _platform(label: str) -> str:
    """Instagram's exports live in `your_instagram_activity/` or an `instagram-user-...` zip."""
    for part in label_parts(label.lower()):
        if part in INSTAGRAM_FOLDERS or part.startswith(("instagram-", "instagram_")):
            return INSTAGRAM
    return PLATFORM


# --- reading ----------------------------------------------------------------------------------


class MessengerExport:
    """Opened Messenger or Instagram threads; iterate for messages, each chat in time order."""

    format = PLATFORM

    def __init__(self, threads: Sequence[Thread], label: str | None = None):
        """`threads`: what `find_messenger` found; `label`: how to name them all, by default
        the file when there is one, else the folder or zip they share.

        Raises:
            TwinchatError: no threads.
        """
        if not threads:
            raise TwinchatError("no Messenger or Instagram threads to read")
        self.threads = list(threads)
        if all(thread.platform == INSTAGRAM for thread in self.threads):
            self.format = INSTAGRAM
        files = [source for thread in self.threads for source in thread.files]
        if len(files) == 1 and label is None:
            self.source = files[0]
        else:
            self.source = combined_source(files, label)
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self._read = 0

    @property
    def bytes_read(self) -> int:
        return self._read

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self.chats, self._read = 0, 0
        broken: list[str] = []
        for thread in self.threads:
            messages = self._thread(thread, broken)
            if messages:
                self.chats += 1
                yield from messages
        if broken and not self.chats:
            raise TwinchatError(
                f"{broken[0]}; the download may be cut short: download your information again "
                "in format JSON"
            )

    def _thread(self, thread: Thread, broken: list[str]) -> list[Message]:
        info: dict[str, Any] = {}
        messages: list[Message] = []
        for part in thread.files:
            data = self._load(part, broken)
            self._read += part.size
            if data is None:
                continue
            info.update((k, v) for k, v in data.items() if k != "messages")  # newest wins
            converted = [m for m in map(self._converter(thread), data["messages"]) if m]
            if converted and cast(float, converted[0].epoch) > cast(float, converted[-1].epoch):
                converted.reverse()  # newest first, as Facebook writes them
            messages += converted
        messages.sort(key=lambda m: cast(float, m.epoch))
        chat_id, chat_name, chat_type = _chat(info, thread)
        for number, message in enumerate(messages, 1):
            message.id = str(number)
            message.chat_id, message.chat_name, message.chat_type = chat_id, chat_name, chat_type
        return messages

    def _load(self, part: Source, broken: list[str]) -> dict[str, Any] | None:
        try:
            with part.open() as stream:
                data = json.loads(stream.read())
        except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
            self.problems["file not valid JSON (skipped)"] += 1
            broken.append(f"{part.label} is not valid JSON ({str(err).splitlines()[0]})")
            return None
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            self.problems["file without a 'messages' list (skipped)"] += 1
            broken.append(f"{part.label} is not a Messenger chat (no 'messages' list)")
            return None
        return data

    def _converter(self, thread: Thread):
        def convert(obj: Any) -> Message | None:
            try:
                return to_message(obj, thread.platform, thread.layout)
            except (Malformed, TypeError, ValueError, AttributeError, OverflowError):
                self.problems["malformed message"] += 1
                return None

        return convert


def _chat(info: dict[str, Any], thread: Thread) -> tuple[str, str | None, str]:
    """chat_id, chat_name and chat_type from a thread's file fields."""
    people = info.get("participants")
    names = []
    for person in people if isinstance(people, list) else []:
        name = _string(person.get("name") if isinstance(person, dict) else person)
        if name and name not in names:
            names.append(name)
    chat_id = _string(info.get("thread_path")) or thread.fallback_id
    title = _string(info.get("title")) or _string(info.get("threadName"))
    if title and thread.layout == E2EE:
        title = _THREAD_SUFFIX.sub("", title)
    thread_type = info.get("thread_type")
    chat_type = CHAT_TYPES.get(thread_type) if isinstance(thread_type, str) else None
    if chat_type is None:
        chat_type = "private_group" if len(names) > 2 else "personal_chat"
    return chat_id, title or ", ".join(names) or None, chat_type


__all__ = [
    "MessengerExport",
    "Thread",
    "find_messenger",
    "is_html_download",
    "own_text",
    "repair",
    "to_message",
]
