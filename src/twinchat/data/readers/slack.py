"""Slack's workspace export: the zip an admin downloads, or its unzipped folder.

Read as ../shared/reference/formats.md §7 describes it. The export's root holds the lists
`channels.json` (public channels), `groups.json` (private channels), `mpims.json` (group DMs),
`dms.json` (DMs), `users.json` (`org_users.json` on Enterprise Grid), and one folder per
conversation of `YYYY-MM-DD.json` day files, each a list of message objects. A public-only
export lacks groups, dms and mpims; a zip may wrap it all in one folder.

Chats: every conversation folder is one chat, read day file by day file in date order and
each day's messages in `ts` order, so memory holds one day at a time. The lists give its id,
name and type (`channel`, `private_channel`, `group_dm`, `dm`); a channel's folder is its name,
a DM's its id. A DM or group DM is named by its members (`Alice, Bob`). A folder no list names
is read too, its name as id and name, its type unknown. Chats come in list order, then the
unlisted folders by name.

Messages, field by field:
* `ts` (`"1452837318.000002"`) is the id, as written, and the time: its whole seconds as aware
  UTC. Its fraction is left out of the time: old exports count messages in it, not
  microseconds. `edited.ts` gives `edited`; a reply (`thread_ts` other than its own `ts`) has
  `reply_to` its thread's parent's ts.
* The sender is the `user` id resolved through users.json (`profile.display_name`, else
  `profile.real_name`, `real_name`, `name`), else the message's own `user_profile`, else the id
  itself; the ids not found are counted in `problems` once each. `USLACKBOT` is Slackbot.
* Bots (`subtype` `bot_message`, or a `bot_id` and no `user`) are `Kind.TEXT` from the bot's
  name: `username`, else `bot_profile.name`, else the name a `bot_add` message gave that
  `bot_id` earlier (`added an integration to this channel: <…/services/B123|github>`), else the
  user's name, else the bot id. `sender_id` is the bot id (a webhook's may be null: the user).
* Text: Slack's markup rendered to plain text. `<@U123>` (or `<@U123|name>`) -> `@Name`,
  `<#C123|name>` -> `#name`, `<!here>` `<!channel>` `<!everyone>` -> `@here`…, other `<!…|label>`
  (user groups, dates) -> the label; `<https://url|label>` -> `label (https://url)`, or just
  the label when it is the address itself (`<http://example.com|example.com>`,
  `<tel:123|123>`, as Slack writes links people typed); `<https://url>` -> the url. `&amp;`,
  `&lt;` and `&gt;`, Slack's only escapes, are undone in one pass; a `<` that opens none of
  these stays as written. `*bold*`, `_italics_`, `` `code` `` and `:emoji:` stay as typed. A
  message with no text but attachments (bots' posts) takes their `fallback` summaries, one a
  line.
* Kinds by `subtype`: none, `thread_broadcast` (`reply_broadcast`), `slackbot_response` ->
  TEXT; `me_message` -> TEXT with `action="me"`; a message with `files` (or the old singular
  `file`), `file_share`, `file_mention` -> MEDIA, its text the caption (old exports' generated
  `<@U1> uploaded a file: <…|title>` gives only what followed `and commented:`, else the
  file's `initial_comment`) and `media_type` from the first file's mimetype (photo,
  animation, video_file, audio_file, voice_message for Slack's clips, else file);
  `file_comment` (old) -> TEXT, the comment's text from its author; `tombstone` (a deleted
  thread parent), `message_deleted` -> DELETED with no text or sender; `huddle_thread`,
  `sh_room_created` -> CALL; every other subtype (`channel_join`, `channel_leave`,
  `channel_topic`, `channel_purpose`, `channel_name`, `pinned_item`, `bot_add`…) -> SERVICE,
  its `action` the subtype without its `channel_`/`group_` prefix (`join`, `leave`, `topic`,
  `purpose`, `archive`…; `name` -> `rename`, `pinned_item` -> `pin`), its text the rendered
  system line.
* Left out: `reactions`, link unfurls (`attachments` of messages that have text), `blocks`
  (the same text, structured), file contents.

Detection (`find_slack`): a list file whose head is a JSON array of objects with Slack ids
marks the export's root; without one, a `YYYY-MM-DD.json` whose head is a list of Slack
messages does (a single channel's folder).

Counted in `problems`, never raised: a message that is not an object or has no usable `ts`, a
day file that is not a JSON list, a second message with a `ts` already seen that day, and user
ids users.json does not know. Raised as `TwinchatError`: lists without any conversation
folder (the user pointed at part of the export), and a list that is not valid JSON.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ijson

from twinchat.data.message import Kind, Message
from twinchat.data.readers.source import Source, base_name, first_line
from twinchat.errors import TwinchatError

PLATFORM = "slack"
CHAT_LISTS = {  # list file -> chat type, in the order chats are read
    "channels.json": "channel",
    "groups.json": "private_channel",
    "mpims.json": "group_dm",
    "dms.json": "dm",
}
USER_LISTS = ("users.json", "org_users.json")
LIST_NAMES = (*CHAT_LISTS, *USER_LISTS)
SLACKBOT = "USLACKBOT"
DAY_SCAN_FILES = 3  # day files looked at when no list says it is Slack
UNKNOWN_USER = "user id not in users.json (named by the id)"

_DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}\.json")
_BOM = b"\xef\xbb\xbf"
# a list's head: a JSON array whose first object starts with a Slack id (C…, D…, G…, U…)
_LIST_HEAD = re.compile(rb'\s*\[\s*\{[^{}]*?"id"\s*:\s*"[A-Z][A-Z0-9]+"')
_DAY_HEAD = re.compile(rb"\s*\[\s*\{")
_DAY_HINT = re.compile(rb'"ts"\s*:\s*"\d+\.\d+"|"type"\s*:\s*"message"')
_TS = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")
# a mention, a special word or a link (`<scheme:…>`); Slack escapes any other `<` it stores
_MARKUP = re.compile(r"<([@#!][^<>]*|[A-Za-z][A-Za-z0-9+.-]*:[^<>]*)>|&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?://)?", re.IGNORECASE)
_BOT_ADDED = re.compile(r"<[^<>|]*/services/(B[A-Z0-9]+)\|([^<>]+)>")
_OLD_UPLOAD = re.compile(
    r"<@[A-Z0-9]+(?:\|[^<>]*)?> (?:uploaded|shared) a file: <[^<>]*>(?: and commented: (.*))?",
    re.S,
)
_BROADCASTS = {"here", "channel", "everyone"}

TEXT_SUBTYPES = {None, "thread_broadcast", "reply_broadcast", "slackbot_response", "me_message"}
MEDIA_SUBTYPES = {"file_share", "file_mention"}
DELETED_SUBTYPES = {"tombstone", "message_deleted"}
CALL_SUBTYPES = {"huddle_thread", "sh_room_created"}


class Malformed(ValueError):
    """A message object that does not have the shape Slack writes."""


@dataclass(frozen=True)
class SlackFiles:
    """The files of one Slack export among what the user named (what `find_slack` returns)."""

    label: str  # the export: its zip or folder
    lists: dict[str, Source]  # channels.json, users.json… by file name
    folders: dict[str, list[Source]]  # conversation folder -> its day files, in date order


_Listed = tuple[str | None, str | None, tuple[str, ...]]  # a listed chat's id, name, members


@dataclass(frozen=True)
class Chat:
    id: str
    name: str | None
    type: str | None
    folder: str


def find_slack(candidates: list[Source]) -> SlackFiles | None:
    """The Slack export among the files of what the user named, or None.

    It is one when a list file (`channels.json`, `users.json`…) starts like Slack's (a JSON
    array of objects with Slack ids), or, without lists, when a day file `YYYY-MM-DD.json` in a
    conversation folder starts like a list of Slack messages.
    """
    root = None
    for src in candidates:
        if base_name(src.label) in LIST_NAMES and _LIST_HEAD.match(_head(src)):
            root = _parent(src.label)
            break
    days = [src for src in candidates if _DAY_FILE.fullmatch(base_name(src.label))]
    if root is None:
        for src in days[:DAY_SCAN_FILES]:
            head = _head(src)
            if _DAY_HEAD.match(head) and _DAY_HINT.search(head):
                root = _parent(_parent(src.label))
                break
        else:
            return None
    lists = {
        base_name(src.label): src
        for src in candidates
        if base_name(src.label) in LIST_NAMES and _parent(src.label) == root
    }
    folders: dict[str, list[Source]] = {}
    for src in days:
        folder = _parent(src.label)
        if _parent(folder) == root:
            folders.setdefault(_folder_name(folder), []).append(src)
    for files in folders.values():
        files.sort(key=lambda src: base_name(src.label))
    return SlackFiles(_strip(root), lists, folders)


class SlackExport:
    """An opened Slack export; iterate it for messages, chat by chat, each in time order."""

    format = PLATFORM

    def __init__(self, files: SlackFiles):
        """Raises:
        TwinchatError: the export has lists but no conversation folder of day files.
        """
        if not files.folders:
            raise TwinchatError(
                f"{files.label} has Slack's lists ({', '.join(sorted(files.lists))}) but no "
                "conversation folders of YYYY-MM-DD.json files; point at the whole export: "
                "the zip Slack gave you, or its unzipped folder"
            )
        self._files = files
        every = [*files.lists.values(), *(s for days in files.folders.values() for s in days)]
        main = files.lists.get("channels.json") or every[0]
        # the export as one source: its label, and the size of everything read as the total
        self.source = Source(files.label, sum(src.size for src in every), main.open)
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self._read = 0
        self._names: dict[str, str] = {}  # user id -> name
        self._channels: dict[str, str] = {}  # conversation id -> name
        self._bots: dict[str, str] = {}  # bot id -> name
        self._unknown: set[str] = set()

    @property
    def bytes_read(self) -> int:
        return self._read

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self.chats = 0
        self._read = 0
        self._bots = {}
        self._unknown = set()
        self._names = {SLACKBOT: "Slackbot"}
        for name in USER_LISTS:
            for user in self._list(name):
                uid = user.get("id")
                if isinstance(uid, str) and uid not in self._names:
                    self._names[uid] = _user_name(user) or uid
        listed = {name: [_listed(item) for item in self._list(name)] for name in CHAT_LISTS}
        self._channels = {
            cid: name for items in listed.values() for cid, name, _ in items if cid and name
        }
        for chat in self._chats(listed):
            self.chats += 1
            for day in self._files.folders[chat.folder]:
                yield from self._day(day, chat)

    def _list(self, name: str) -> Iterator[dict[str, Any]]:
        """The objects of a list file, streamed (users.json can be large)."""
        src = self._files.lists.get(name)
        if src is None:
            return
        try:
            with src.open() as stream:
                for item in ijson.items(stream, "item", use_float=True):
                    if isinstance(item, dict):
                        yield item
        except (ijson.JSONError, UnicodeDecodeError) as err:
            raise TwinchatError(
                f"{src.label} is not valid JSON ({first_line(err)}); the export may be "
                "damaged: download it from Slack again"
            ) from None
        self._read += src.size

    def _chats(self, listed: dict[str, list[_Listed]]) -> Iterator[Chat]:
        """Listed conversations that have a folder, in list order, then unlisted folders."""
        folders = self._files.folders
        seen: set[str] = set()
        for list_name, chat_type in CHAT_LISTS.items():
            for cid, name, members in listed[list_name]:
                folder = next((f for f in (name, cid) if f in folders), None)
                if folder is None or folder in seen:
                    continue
                seen.add(folder)
                if chat_type in ("dm", "group_dm"):
                    name = self._members_name(members) or name
                yield Chat(cid or folder, name or folder, chat_type, folder)
        for folder in sorted(folders.keys() - seen):
            yield Chat(folder, folder, None, folder)

    def _members_name(self, members: tuple[str, ...]) -> str | None:
        return ", ".join(self._user(uid) for uid in dict.fromkeys(members)) or None

    def _day(self, day: Source, chat: Chat) -> Iterator[Message]:
        with day.open() as stream:
            data = stream.read()
        self._read += len(data)
        try:
            objects = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            objects = None
        if not isinstance(objects, list):
            self.problems["day file that is not a JSON list (skipped)"] += 1
            return
        keyed = []
        for obj in objects:
            key = _ts_key(obj.get("ts")) if isinstance(obj, dict) else None
            if key is None:
                self.problems["malformed message"] += 1
            else:
                keyed.append((key, obj))
        keyed.sort(key=lambda pair: pair[0])
        previous = None
        for key, obj in keyed:
            if key == previous:
                self.problems["message repeated in its day file (skipped)"] += 1
                continue
            previous = key
            try:
                message = self._message(obj, chat)
            except (Malformed, TypeError, ValueError, AttributeError, OverflowError):
                self.problems["malformed message"] += 1
                continue
            yield message

    def _message(self, obj: dict[str, Any], chat: Chat) -> Message:
        subtype = obj.get("subtype")
        ts = str(obj["ts"])
        thread = obj.get("thread_ts")
        message = Message(
            platform=PLATFORM,
            chat_id=chat.id,
            chat_name=chat.name,
            chat_type=chat.type,
            id=ts,
            timestamp=_time(ts),
            sender=None,
            text="",
            reply_to=str(thread) if thread is not None and str(thread) != ts else None,
            edited=_edited(obj.get("edited")),
        )
        if subtype in DELETED_SUBTYPES:
            message.kind = Kind.DELETED  # no text and no sender: Slack's placeholder for both
            return message
        self._sender(message, obj, subtype)
        raw = obj.get("text")
        if raw is not None and not isinstance(raw, str):
            raise Malformed("text that is not a string")
        text = self.render(raw or "")
        files = obj.get("files")
        if not isinstance(files, list):
            files = [obj["file"]] if isinstance(obj.get("file"), dict) else []
        if subtype == "file_comment":
            comment = obj.get("comment") if isinstance(obj.get("comment"), dict) else {}
            message.text = self.render(comment.get("comment") or "")
            if isinstance(comment.get("user"), str):
                message.sender_id = comment["user"]
                message.sender = self._user(comment["user"])
        elif subtype in MEDIA_SUBTYPES or (files and subtype in TEXT_SUBTYPES):
            message.kind = Kind.MEDIA
            message.media_type = _media_type(files[0] if files else None)
            message.text = self._caption(raw or "", text, files)
        elif subtype in CALL_SUBTYPES:
            message.kind = Kind.CALL
            message.text = text
        elif subtype in TEXT_SUBTYPES or subtype == "bot_message":
            message.text = text or self._attachments(obj.get("attachments"))
            if subtype == "me_message":
                message.action = "me"
        else:
            message.kind = Kind.SERVICE
            message.action = _action(str(subtype))
            message.text = text
            if subtype == "bot_add":
                self._learn_bot(obj, raw or "")
        return message

    def _sender(self, message: Message, obj: dict[str, Any], subtype: Any) -> None:
        user = obj.get("user") if isinstance(obj.get("user"), str) else None
        bot = obj.get("bot_id") if isinstance(obj.get("bot_id"), str) else None
        if subtype == "bot_message" or (bot and not user):
            profile = obj.get("bot_profile") if isinstance(obj.get("bot_profile"), dict) else {}
            name = _text_of(obj.get("username")) or _text_of(profile.get("name"))
            if name and bot:
                self._bots[bot] = name
            elif not name and bot in self._bots:
                name = self._bots[bot]
            elif not name and user:
                name = self._user(user)
            message.sender, message.sender_id = name or bot, bot or user
        elif user:
            if user not in self._names and isinstance(obj.get("user_profile"), dict):
                name = _profile_name(obj["user_profile"])
                if name:
                    self._names[user] = name
            message.sender, message.sender_id = self._user(user), user

    def _user(self, uid: str) -> str:
        name = self._names.get(uid)
        if name is None:
            if uid not in self._unknown:
                self._unknown.add(uid)
                self.problems[UNKNOWN_USER] += 1
            return uid
        return name

    def _learn_bot(self, obj: dict[str, Any], raw: str) -> None:
        match = _BOT_ADDED.search(raw)
        if match and match[1] == obj.get("bot_id", match[1]):
            self._bots.setdefault(match[1], match[2])

    def _caption(self, raw: str, text: str, files: list[Any]) -> str:
        """What the sender wrote with a file: old exports generate the text around it."""
        old = _OLD_UPLOAD.fullmatch(raw)
        if old is None:
            return text
        if old[1] is not None:
            return self.render(old[1])
        first = files[0] if files and isinstance(files[0], dict) else {}
        comment = first.get("initial_comment")
        if isinstance(comment, dict) and isinstance(comment.get("comment"), str):
            return self.render(comment["comment"])
        return ""

    def _attachments(self, attachments: Any) -> str:
        """Bots often post only attachments: their plain-text summaries, one a line."""
        if not isinstance(attachments, list):
            return ""
        lines = []
        for item in attachments:
            if isinstance(item, dict):
                summary = next(
                    (item[k] for k in ("fallback", "pretext", "title", "text") if item.get(k)),
                    None,
                )
                if isinstance(summary, str):
                    lines.append(self.render(summary))
        return "\n".join(lines)

    def render(self, text: str) -> str:
        """Slack's markup as the plain text people read (see the module docstring)."""
        if "<" not in text and "&" not in text:
            return text
        return _MARKUP.sub(self._markup, text)

    def _markup(self, match: re.Match[str]) -> str:
        if match[2] is not None:
            return _ENTITIES[match[2]]
        target, _, label = match[1].partition("|")
        target, label = _unescape(target), _unescape(label)
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (self._names.get(uid) or label or self._user(uid))
        if target.startswith("#"):
            return "#" + (label or self._channels.get(target[1:]) or target[1:])
        if target.startswith("!"):
            word = target[1:]
            if word in _BROADCASTS:
                return "@" + word
            return label or "@" + word.split("^")[0]
        if not label or _same_address(label, target):
            return label or target
        return f"{label} ({target})"


def _listed(item: dict[str, Any]) -> _Listed:
    """What a list keeps of a conversation (channels.json objects also hold topics, pins…)."""
    cid, name, members = item.get("id"), item.get("name"), item.get("members")
    return (
        cid if isinstance(cid, str) and cid else None,
        name if isinstance(name, str) and name else None,
        tuple(m for m in members if isinstance(m, str)) if isinstance(members, list) else (),
    )


def _unescape(text: str) -> str:
    return _MARKUP.sub(lambda m: _ENTITIES.get(m[2], m[0]), text) if "&" in text else text


def _same_address(label: str, url: str) -> bool:
    """Whether a link's label is its address as typed (`example.com` for http://example.com)."""

    def bare(text: str) -> str:
        return _SCHEME.sub("", text.strip()).rstrip("/").casefold()

    return bare(label) == bare(url)


def _user_name(user: dict[str, Any]) -> str | None:
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    return (
        _text_of(profile.get("display_name"))
        or _text_of(profile.get("real_name"))
        or _text_of(user.get("real_name"))
        or _text_of(user.get("name"))
    )


def _profile_name(profile: dict[str, Any]) -> str | None:
    return (
        _text_of(profile.get("display_name"))
        or _text_of(profile.get("real_name"))
        or _text_of(profile.get("name"))
    )


def _text_of(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _action(subtype: str) -> str:
    action = subtype.removeprefix("channel_").removeprefix("group_")
    return {"pinned_item": "pin", "unpinned_item": "unpin", "name": "rename"}.get(action, action)


def _media_type(file: Any) -> str:
    if not isinstance(file, dict):
        return "file"
    mimetype = file.get("mimetype") if isinstance(file.get("mimetype"), str) else ""
    if file.get("subtype") == "slack_audio":
        return "voice_message"
    if file.get("subtype") == "slack_video":
        return "video_message"
    if mimetype == "image/gif":
        return "animation"
    for prefix, media_type in (
        ("image/", "photo"),
        ("video/", "video_file"),
        ("audio/", "audio_file"),
    ):
        if mimetype.startswith(prefix):
            return media_type
    return "file"


def _ts_key(value: Any) -> tuple[int, str] | None:
    """A `ts` as a sort key: whole seconds, then the fraction's digits."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    match = _TS.fullmatch(str(value))
    if match is None:
        return None
    return int(match[1]), (match[2] or "").ljust(9, "0")


def _time(ts: str) -> datetime:
    key = _ts_key(ts)
    if key is None:
        raise Malformed(f"ts {ts!r}")
    moment = datetime.fromtimestamp(key[0], UTC)
    if not 1971 <= moment.year <= 9000:
        raise Malformed(f"ts {ts!r} is not a plausible message time")
    return moment


def _edited(value: Any) -> datetime | None:
    if not isinstance(value, dict) or _ts_key(value.get("ts")) is None:
        return None
    try:
        return _time(str(value["ts"]))
    except Malformed:
        return None


def _head(src: Source) -> bytes:
    try:
        return src.head().removeprefix(_BOM)
    except OSError:
        return b""


def _strip(label: str) -> str:
    return label.rstrip("/\\!")


def _parent(label: str) -> str:
    """The label's folder, with its trailing separator (`x.zip!`, `/a/export/`)."""
    label = _strip(label)
    return label[: len(label) - len(base_name(label))]


def _folder_name(folder: str) -> str:
    name = base_name(_strip(folder))
    return name[:-4] if name.lower().endswith(".zip") else name


__all__ = ["SlackExport", "SlackFiles", "find_slack"]
