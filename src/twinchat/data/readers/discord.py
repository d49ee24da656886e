"""DiscordChatExporter (DCE) JSON exports: one file per channel, alone or in a folder or zip.

Read field by field as DCE's `JsonMessageWriter.cs` writes it (../shared/reference/formats.md
§3). A file is `{guild, channel, dateRange, exportedAt?, messages: [...], messageCount}`; each
file is one chat (`chat_id` the channel's id, `chat_name` its name, `chat_type` its `type`,
e.g. `GuildTextChat`, `DirectGroupTextChat`, `GuildPublicThread`). Files are streamed with
ijson, so memory does not grow with their size.

Messages, by `type`:

* `Default` and `Reply` (and the slash-command replies `ChatInputCommand`/`ContextMenuCommand`,
  which DCE writes as the bare numbers `20`/`23` since its enum has no name for them): what
  people (and bots) wrote. The sender is `author.nickname` (the name DCE shows: the server
  nickname or display name) when there is one, else `author.name`; `sender_id` is `author.id`.
  Bots' messages (`author.isBot`) keep their kind and get `action="bot"`. Then, by content:
  * `attachments` → `Kind.MEDIA`, `media_type` from the first file's extension (`photo`,
    `animation`, `video_file`, `audio_file`, `voice_message`, `file`), the content its caption
    (kept as what the person wrote, like every caption);
  * `stickers` and no text → `Kind.STICKER`, `emoji` the sticker's name as `:name:` (as DCE
    writes custom emoji in text); with text it stays `Kind.TEXT`, `media_type="sticker"`;
  * no text, only `embeds` (what bots and webhooks post) → `Kind.OTHER`, `media_type="embed"`,
    the text the embeds' titles and descriptions;
  * text and embeds → `Kind.TEXT`, the text as written; when it is only a link that Discord
    shows as its picture or GIF (an embed of that URL with no title or description, e.g.
    Tenor), `media_type` says so (`photo` or `animation`);
  * else `Kind.TEXT`.
  `reference` (of type `Default`, or with no type in older DCE) is the message replied to
  (`reply_to`, also on `Default` messages: older DCE had no `Reply` type); a `Forward`
  reference marks a forwarded message (`forwarded_from="(unknown)"`: DCE does not say whose),
  whose text and files are those of its `forwardedMessage`.
* `Call` → `Kind.CALL`, action `call`.
* The other system types (`RecipientAdd`, `RecipientRemove`, `ChannelNameChange`,
  `ChannelIconChange`, `ChannelPinnedMessage`, `GuildMemberJoin`, `ThreadCreated`, and the
  numbers DCE writes for types it has no name for: boosts, follows, stage events, AutoMod, poll
  results…) → `Kind.SERVICE`, `action` the type in snake case (`guild_member_join`) or Discord's
  name for the number (`guild_boost`). Their text is DCE's fallback ("Joined the server."),
  made here when an older DCE left it empty.

`timestamp` is ISO 8601 with an offset (the exporting PC's zone, or UTC with `--utc`): read as
aware UTC. `timestampEdited` gives `edited`. Content is plain text as DCE renders it: mentions
are already `@Name`, custom emoji `:name:`. An export made with `--markdown false` keeps
Discord's tokens; those that the file can resolve are rendered the same way (`<@id>` by the
message's `mentions` or the authors seen so far, `<:name:id>`, the channel's own `<#id>`).

A folder or zip may hold many channels (DCE's `exportguild`) and a channel several files
(`--partition`: `... [part 2].json`); a channel's files are read together, oldest first, and
a message in two of them (overlapping exports of one channel) counts once. An export made with
`--reverse` (newest first) is detected and read oldest first, spilled to a temporary file in
batches so memory stays flat. A message that is not an object with an id and a timestamp
counts in `problems["malformed message"]`.
"""

from __future__ import annotations

import pickle
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, cast

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.files import CountingStream
from twinchat.data.readers.source import Source, base_name, combined_source, first_line
from twinchat.errors import TwinchatError

PLATFORM = "discord"
PEEK = 32  # first timestamps of a file that tell whether it runs newest first
SPILL_BATCH = 4096  # messages of a reversed file held in memory at once

_HEAD = re.compile(rb'^\s*\{\s*"(?:guild|channel)"\s*:\s*\{')
_GUILD = re.compile(rb'"guild"\s*:\s*\{')
_CHANNEL = re.compile(rb'"channel"\s*:\s*\{')
_HTML = re.compile(rb"chatlog__|Tyrrrz/DiscordFonts")
_TEXT = re.compile(rb"^={62}\r?\nGuild: .*\r?\nChannel: ")
_CSV = b"AuthorID,Author,Date,Content,Attachments,Reactions"
_ID_IN_NAME = re.compile(r"\[(\d{6,})\](?:\s*\[part \d+\])?\.json$", re.IGNORECASE)
_TOKEN = re.compile(r"<(?:@!?(\d+)|#(\d+)|a?:(\w+):\d+)>")
_LINK = re.compile(r"https?://\S+")
_DIGITS = re.compile(r"(\d+)")

# Types whose messages are what someone wrote (slash-command replies and thread starters
# included); DCE writes the types it has no name for as Discord's number.
_SPOKEN = {"Default", "Reply", "ChatInputCommand", "ContextMenuCommand", "0", "19", "20", "23"}
_CALLS = {"Call", "3"}
# Discord's names for the types DCE writes as numbers
# (discord.com/developers/docs/resources/message#message-object-message-types)
_NUMBERED = {
    1: "recipient_add",
    2: "recipient_remove",
    4: "channel_name_change",
    5: "channel_icon_change",
    6: "channel_pinned_message",
    7: "guild_member_join",
    8: "guild_boost",
    9: "guild_boost_tier_1",
    10: "guild_boost_tier_2",
    11: "guild_boost_tier_3",
    12: "channel_follow_add",
    14: "guild_discovery_disqualified",
    15: "guild_discovery_requalified",
    16: "guild_discovery_grace_period_initial_warning",
    17: "guild_discovery_grace_period_final_warning",
    18: "thread_created",
    21: "thread_starter_message",
    22: "guild_invite_reminder",
    24: "auto_moderation_action",
    25: "role_subscription_purchase",
    26: "interaction_premium_upsell",
    27: "stage_start",
    28: "stage_end",
    29: "stage_speaker",
    31: "stage_topic",
    32: "guild_application_premium_subscription",
    36: "guild_incident_alert_mode_enabled",
    37: "guild_incident_alert_mode_disabled",
    38: "guild_incident_report_raid",
    39: "guild_incident_report_false_alarm",
    44: "purchase_notification",
    46: "poll_result",
}
# DCE's texts for system messages (PlainTextMessageExtensions.GetFallbackContent), for older
# versions that wrote Discord's own content, which is mostly empty
_FALLBACK = {
    "channel_name_change": "Changed the channel name.",
    "channel_icon_change": "Changed the channel icon.",
    "channel_pinned_message": "Pinned a message.",
    "thread_created": "Started a thread.",
    "guild_member_join": "Joined the server.",
}
_MEDIA = {
    "photo": {"jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "avif", "tif", "tiff"},
    "animation": {"gif", "gifv", "apng"},
    "video_file": {"mp4", "mov", "webm", "mkv", "avi", "m4v", "3gp"},
    "audio_file": {"mp3", "m4a", "aac", "wav", "ogg", "oga", "opus", "flac", "wma"},
}
_MEDIA_OF = {ext: kind for kind, exts in _MEDIA.items() for ext in exts}


class Malformed(ValueError):
    """A message object that does not have the shape DCE gives it."""


@dataclass(frozen=True)
class Chat:
    id: str
    name: str | None
    type: str | None


@dataclass
class _File:
    """One export file, surveyed: its chat, its first message times and their direction."""

    source: Source
    chat: Chat
    first: float | None  # epoch of the first message with a time
    reverse: bool


def looks_like_discord(source: Source) -> bool:
    """Whether a file starts like DCE's JSON: `{"guild": {...}, "channel": {...}`."""
    try:
        head = source.head().removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return False
    return bool(_HEAD.match(head) and _GUILD.search(head) and _CHANNEL.search(head))


def discord_files(sources: Sequence[Source]) -> list[Source]:
    """The DCE JSON exports among `sources`: any one file named alone, else the `.json` ones."""
    alone = len(sources) == 1
    return [
        source
        for source in sources
        if (alone or source.label.lower().endswith(".json")) and looks_like_discord(source)
    ]


def other_dce_format(source: Source) -> str | None:
    """The format (HTML, plain text or CSV) of a DCE export that is not JSON, else None."""
    try:
        head = source.head(16384).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return None
    label = source.label.lower()
    if label.endswith((".html", ".htm")) and _HTML.search(head):
        return "HTML"
    if _TEXT.match(head):
        return "plain text"
    if head.startswith(_CSV):
        return "CSV"
    return None


class DiscordExport:
    """Opened DCE exports; iterate for messages, channel by channel, each oldest first."""

    format = PLATFORM

    def __init__(self, files: Sequence[Source], label: str | None = None):
        """`files`: DCE JSON exports (see `discord_files`); `label`: how to name them all, by
        default their common folder.

        Raises:
            TwinchatError: no files.
        """
        if not files:
            raise TwinchatError("no DiscordChatExporter exports to read")
        self._files = sorted(files, key=lambda source: _natural(source.label))
        if len(self._files) == 1 and label is None:
            self.source = self._files[0]
        else:
            self.source = combined_source(self._files, label)
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self._done = 0
        self._stream: CountingStream | None = None

    @property
    def bytes_read(self) -> int:
        return self._done + (self._stream.position if self._stream else 0)

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self.chats = 0
        self._done = 0
        surveyed = [self._survey(source) for source in self._files]
        channels: dict[str, list[_File]] = {}
        for file in surveyed:
            channels.setdefault(file.chat.id, []).append(file)
        for files in channels.values():
            files.sort(key=lambda f: (f.first is None, f.first or 0.0))
            seen: set[int | str] | None = set() if len(files) > 1 else None
            counted = False
            for file in files:
                for message in self._read(file):
                    if not counted:
                        self.chats += 1
                        counted = True
                    if seen is not None:
                        key = int(message.id) if message.id.isdigit() else message.id
                        if key in seen:
                            continue
                        seen.add(key)
                    yield message
                self._done += file.source.size

    # --- one file -------------------------------------------------------------------------

    def _open(self, source: Source) -> CountingStream:
        self._stream = CountingStream(source.open())
        return self._stream

    def _survey(self, source: Source) -> _File:
        """The chat of a file and whether it runs newest first, from its first messages."""
        info: dict[str, Any] = {}
        times: list[float] = []
        found = False
        stream = self._open(source)
        try:
            for prefix, event, value in ijson.parse(stream):
                if prefix in ("channel.id", "channel.name", "channel.type") and isinstance(
                    value, (str, int)
                ):
                    info[prefix[8:]] = str(value)
                elif prefix == "messages" and event == "start_array":
                    found = True
                elif prefix == "messages.item.timestamp" and len(times) < PEEK:
                    try:
                        moment, _ = _time(value)
                    except (Malformed, TypeError, ValueError):
                        moment = None
                    if moment is not None:
                        times.append(_epoch(moment))
                if (
                    found
                    and "id" in info
                    and (len(times) >= PEEK or (prefix == "messages" and event == "end_array"))
                ):
                    break
        except (ijson.JSONError, UnicodeDecodeError) as err:
            if not found:
                raise self._broken(source, err) from None
        finally:
            stream.close()
            self._stream = None
        if not found:
            raise TwinchatError(
                f"{source.label} is JSON but not a DiscordChatExporter export (no 'messages'); "
                "export the channel again with DiscordChatExporter, format JSON"
            )
        chat = Chat(
            id=info.get("id") or _id_from_name(source.label),
            name=info.get("name"),
            type=info.get("type"),
        )
        down = sum(b < a for a, b in pairwise(times))
        up = sum(b > a for a, b in pairwise(times))
        return _File(source, chat, times[0] if times else None, reverse=down > up)

    def _read(self, file: _File) -> Iterator[Message]:
        messages = self._messages(file)
        return _oldest_first(messages) if file.reverse else messages

    def _messages(self, file: _File) -> Iterator[Message]:
        names: dict[str, str] = {}
        stream = self._open(file.source)
        try:
            for obj in ijson.items(stream, "messages.item"):
                try:
                    message = to_message(obj, file.chat, names)
                except (Malformed, TypeError, ValueError, AttributeError, OverflowError):
                    self.problems["malformed message"] += 1
                    continue
                yield message
        except (ijson.JSONError, UnicodeDecodeError) as err:
            raise self._broken(file.source, err) from None
        finally:
            stream.close()
            self._stream = None

    def _broken(self, source: Source, error: Exception) -> TwinchatError:
        position = self._stream.position if self._stream else 0
        if isinstance(error, UnicodeDecodeError):
            return TwinchatError(
                f"{source.label} is not valid UTF-8 near byte {position:,} ({error.reason}); "
                "export the channel again"
            )
        return TwinchatError(
            f"{source.label} is not valid JSON near byte {position:,} ({first_line(error)}); "
            "the file may be truncated: export the channel again"
        )


# --- one message ------------------------------------------------------------------------------


def to_message(obj: Any, chat: Chat, names: dict[str, str] | None = None) -> Message:
    """Normalize one message object of a DCE export; `names` (author id → shown name) learns
    from every message and resolves raw `<@id>` mentions."""
    if not isinstance(obj, dict):
        raise Malformed("a message needs to be an object")
    ident = obj.get("id")
    if isinstance(ident, bool) or not isinstance(ident, (str, int)) or ident == "":
        raise Malformed("a message needs an id")
    timestamp, tz_known = _time(obj.get("timestamp"))
    if timestamp is None:
        raise Malformed("a message needs a timestamp")
    edited = _lenient_time(obj.get("timestampEdited"))
    author = obj.get("author")
    author = author if isinstance(author, dict) else {}
    sender_id = _string(author.get("id"))
    sender = _shown_name(author)
    if names is not None and sender_id and sender:
        names[sender_id] = sender
    content = obj.get("content")
    if content is None:
        content = ""
    elif not isinstance(content, str):
        raise Malformed(f"content of type {type(content).__name__}")
    message = Message(
        platform=PLATFORM,
        chat_id=chat.id,
        chat_name=chat.name,
        chat_type=chat.type,
        id=str(ident),
        timestamp=timestamp,
        tz_known=tz_known,
        sender=sender,
        sender_id=sender_id,
        text=content,
        edited=edited,
    )
    kind = obj.get("type", "Default")
    kind = "Default" if kind is None else str(kind)
    if kind in _CALLS:
        message.kind = Kind.CALL
        message.action = "call"
        message.text = content or _call_text(obj, timestamp)
    elif kind not in _SPOKEN:
        message.kind = Kind.SERVICE
        message.action = _action(kind)
        message.text = content or _service_text(message.action, obj, sender_id)
    else:
        _spoken(message, obj, chat, names)
        if author.get("isBot") is True:
            message.action = "bot"
    return message


def _spoken(
    message: Message, obj: dict[str, Any], chat: Chat, names: dict[str, str] | None
) -> None:
    """Kind, text, reply and forward of a message someone wrote."""
    body = obj
    reference = obj.get("reference")
    reference = reference if isinstance(reference, dict) else {}
    forwarded = obj.get("forwardedMessage")
    if reference.get("type") == "Forward" or isinstance(forwarded, dict):
        message.forwarded_from = "(unknown)"
        if isinstance(forwarded, dict):
            body = forwarded
            if not message.text.strip():
                message.text = _string(forwarded.get("content")) or ""
    elif reference.get("type") in (None, "Default"):
        replied = reference.get("messageId")
        if isinstance(replied, (str, int)) and not isinstance(replied, bool) and replied != "":
            message.reply_to = str(replied)
    if "<" in message.text:
        message.text = _render_tokens(message.text, obj, chat, names)
    attachments = _list(body.get("attachments"))
    stickers = _list(body.get("stickers"))
    embeds = _list(body.get("embeds"))
    has_text = bool(message.text.strip())
    if attachments:
        message.kind = Kind.MEDIA  # a caption stays its text, which the builder keeps
        first = attachments[0] if isinstance(attachments[0], dict) else {}
        message.media_type = media_type_of(_string(first.get("fileName")) or "")
    elif stickers:
        first = stickers[0] if isinstance(stickers[0], dict) else {}
        name = _string(first.get("name"))
        if has_text:
            message.media_type = "sticker"
        else:
            message.kind = Kind.STICKER
            message.media_type = "sticker"
            message.emoji = f":{name}:" if name else None
    elif embeds and not has_text:
        message.kind = Kind.OTHER
        message.media_type = "embed"
        message.text = _embeds_text(embeds)
    elif embeds:
        # the link the person sent stays their text; the embed only says what it shows
        message.media_type = _link_shown_as_media(message.text, embeds)


def media_type_of(file_name: str) -> str:
    """The media type of an attachment, from its file name (Telegram's words for them)."""
    lower = file_name.lower()
    if lower.startswith("voice-message"):  # what Discord names recorded voice messages
        return "voice_message"
    extension = lower.rsplit(".", 1)[-1] if "." in lower else ""
    return _MEDIA_OF.get(extension, "file")


def _shown_name(author: dict[str, Any]) -> str | None:
    """DCE's `nickname` is the name Discord shows (server nickname or display name)."""
    return _string(author.get("nickname")) or _string(author.get("name"))


def _action(kind: str) -> str:
    if kind.isdigit():
        return _NUMBERED.get(int(kind), f"type_{int(kind)}")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind).lower()


def _service_text(action: str, obj: dict[str, Any], sender_id: str | None) -> str:
    """DCE's fallback text of a system message, for exports that left it empty."""
    mentioned = [m for m in _list(obj.get("mentions")) if isinstance(m, dict)]
    who = _shown_name(mentioned[0]) if mentioned else None
    if action == "recipient_add":
        return f"Added {who} to the group." if who else "Added a recipient."
    if action == "recipient_remove":
        if not who:
            return "Removed a recipient."
        if _string(mentioned[0].get("id")) == sender_id:
            return "Left the group."
        return f"Removed {who} from the group."
    return _FALLBACK.get(action, "")


def _call_text(obj: dict[str, Any], started: datetime) -> str:
    ended = _lenient_time(obj.get("callEndedTimestamp"))
    minutes = 0 if ended is None else int((ended - started).total_seconds() / 60 + 0.5)
    return f"Started a call that lasted {minutes:,} minutes."


def _render_tokens(text: str, obj: dict[str, Any], chat: Chat, names: dict[str, str] | None) -> str:
    """Discord's raw tokens (an export with `--markdown false`) as DCE would render them."""
    mentioned: dict[str, str] = {}
    for user in _list(obj.get("mentions")):
        if isinstance(user, dict) and _string(user.get("id")) and _shown_name(user):
            mentioned[str(user["id"])] = cast(str, _shown_name(user))

    def render(match: re.Match[str]) -> str:
        user, channel, emoji = match.groups()
        if user is not None:
            name = mentioned.get(user) or (names or {}).get(user)
            return f"@{name}" if name else match.group(0)
        if channel is not None:
            return f"#{chat.name}" if channel == chat.id and chat.name else match.group(0)
        return f":{emoji}:"

    return _TOKEN.sub(render, text)


def _embeds_text(embeds: list[Any]) -> str:
    parts: list[str] = []
    for embed in embeds:
        if isinstance(embed, dict):
            for key in ("title", "description"):
                value = _string(embed.get(key))
                if value and value.strip():
                    parts.append(value.strip())
    return "\n".join(parts)


def _link_shown_as_media(text: str, embeds: list[Any]) -> str | None:
    """`photo` or `animation` when the text is only a link that Discord shows as the picture
    or GIF it points to (an embed of that URL with no title or description), else None."""
    link = text.strip()
    if not _LINK.fullmatch(link):
        return None
    for embed in embeds:
        if not isinstance(embed, dict) or embed.get("url") != link:
            continue
        if _string(embed.get("title")) or _string(embed.get("description")):
            return None
        if isinstance(embed.get("video"), dict) or link.lower().endswith((".gif", ".gifv")):
            return "animation"
        if isinstance(embed.get("image"), dict) or isinstance(embed.get("thumbnail"), dict):
            return "photo"
    return None


def _time(value: Any) -> tuple[datetime | None, bool]:
    """ISO 8601 with an offset → aware UTC; without one (never seen) → naive, zone unknown."""
    if value is None or value == "":
        return None, False
    if not isinstance(value, str):
        raise Malformed(f"a time of type {type(value).__name__}")
    moment = datetime.fromisoformat(value)
    if not 1971 <= moment.year <= 9000:
        raise Malformed(f"date {value} is not a plausible message date")
    if moment.tzinfo is None:
        return moment, False
    return moment.astimezone(UTC), True


def _lenient_time(value: Any) -> datetime | None:
    """An optional time (edited, call ended): one that cannot be read is left out."""
    try:
        return _time(value)[0]
    except (Malformed, TypeError, ValueError, OverflowError):
        return None


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _string(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- files ------------------------------------------------------------------------------------


def _oldest_first(messages: Iterator[Message]) -> Iterator[Message]:
    """A newest-first file's messages, oldest first: batches past the first go to a temporary
    file, read back last to first."""
    batch: list[Message] = []
    with tempfile.TemporaryFile() as spill:
        offsets: list[int] = []
        for message in messages:
            batch.append(message)
            if len(batch) >= SPILL_BATCH:
                offsets.append(spill.tell())
                pickle.dump(batch, spill, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        yield from reversed(batch)
        for offset in reversed(offsets):
            spill.seek(offset)
            yield from reversed(pickle.load(spill))


def _natural(label: str) -> list[Any]:
    """Sort key that puts `[part 10]` after `[part 9]`."""
    return [int(part) if part.isdigit() else part.casefold() for part in _DIGITS.split(label)]


def _id_from_name(label: str) -> str:
    """DCE names files `Guild - channel [id].json`; else the file's name stands for the id."""
    name = base_name(label)
    match = _ID_IN_NAME.search(name)
    return match.group(1) if match else name.rsplit(".", 1)[0]


__all__ = [
    "DiscordExport",
    "discord_files",
    "looks_like_discord",
    "media_type_of",
    "other_dce_format",
    "to_message",
]
