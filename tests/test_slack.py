"""The Slack reader against formats.md §7, on the project's own export and inline ones.

Run: pytest tests/test_slack.py -q -p no:cacheprovider
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, SHARED
from roundtrip import CONVERSATION, Line, assert_same

from twinchat.data.message import Kind, Message
from twinchat.data.readers import read_export
from twinchat.data.readers.slack import SlackExport, find_slack
from twinchat.data.readers.source import sources_of
from twinchat.errors import TwinchatError

EXPORT = FIXTURES / "slack" / "export"
SAMPLE = SHARED / "samples" / "slack" / "slack-export-viewer_testarchive.zip"
D1 = 1714550400  # 2024-05-01 08:00:00 UTC, the fixture's first message
UNKNOWN = "user id not in users.json (named by the id)"
USERS = [
    {
        "id": "U01ANA",
        "name": "ana.lima",
        "real_name": "Ana Lima",
        "profile": {"display_name": "ana"},
    },
    {"id": "U02BEN", "name": "ben", "profile": {"real_name": "Ben Okafor", "display_name": ""}},
]


def read(path: Path) -> tuple[SlackExport, list[Message]]:
    export = read_export(path, source="slack")
    return export, list(export)


def by_id(messages: list[Message]) -> dict[str, Message]:
    return {m.id: m for m in messages}


def write_export(
    root: Path,
    days: dict[str, list[Any]],
    users: list[dict[str, Any]] | None = None,
    channels: list[dict[str, Any]] | None = None,
    **lists: list[dict[str, Any]],
) -> Path:
    """A Slack export folder: `days` maps `folder/YYYY-MM-DD` to that day's messages."""
    root.mkdir(parents=True, exist_ok=True)
    if channels is None:
        folders = sorted({key.split("/")[0] for key in days})
        channels = [{"id": f"C{i:04d}", "name": name} for i, name in enumerate(folders)]
    files = {"users.json": USERS if users is None else users, "channels.json": channels}
    files.update({f"{name}.json": value for name, value in lists.items()})
    for name, value in files.items():
        (root / name).write_text(json.dumps(value, indent=4), encoding="utf-8")
    for key, messages in days.items():
        path = root / f"{key}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(messages, ensure_ascii=False, indent=4), encoding="utf-8")
    return root


def zip_folder(folder: Path, path: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return path


def message(ts: str, text: str = "hi", user: str | None = "U01ANA", **extra: Any) -> dict:
    obj: dict[str, Any] = {"type": "message", "text": text, "ts": ts, **extra}
    if user is not None:
        obj["user"] = user
    return obj


def one(tmp_path: Path, obj: dict[str, Any], **options: Any) -> tuple[Message, Counter[str]]:
    export, messages = read(write_export(tmp_path / "x", {"general/2024-05-01": [obj]}, **options))
    assert len(messages) == 1
    return messages[0], export.problems


# --- chats ----------------------------------------------------------------------------------


def test_every_conversation_is_one_chat_in_list_order():
    export, messages = read(EXPORT)
    chats = list(dict.fromkeys((m.chat_id, m.chat_name, m.chat_type) for m in messages))
    assert chats == [
        ("C0GENERAL1", "general", "channel"),
        ("G0PRIV0001", "private-team", "private_channel"),
        ("G0MPIM0001", "ana, Ben Okafor, cy", "group_dm"),
        ("D0DM000001", "ana, Ben Okafor", "dm"),
    ]
    assert export.chats == 4  # the listed channel without a folder has no messages
    assert len(messages) == 23
    assert export.problems == {UNKNOWN: 1}  # U0GHOST, written into the fixture on purpose
    assert export.format == "slack" and all(m.platform == "slack" for m in messages)


def test_day_files_in_date_order_and_each_day_by_ts(tmp_path):
    days = {
        "general/2024-05-02": [message(f"{D1 + 86400}.000001", "second day")],
        "general/2024-05-01": [
            message(f"{D1 + 60}.000002", "later"),
            message(f"{D1}.000010", "earlier, same second as below but after it"),
            message(f"{D1}.000009", "first"),
        ],
    }
    _, messages = read(write_export(tmp_path / "x", days))
    texts = [m.text for m in messages]
    assert texts == ["first", "earlier, same second as below but after it", "later", "second day"]
    epochs = [m.epoch for m in messages]
    assert epochs == sorted(epochs)


def test_fixture_is_in_time_order_within_each_chat():
    _, messages = read(EXPORT)
    for chat in {m.chat_id for m in messages}:
        ids = [m.id for m in messages if m.chat_id == chat]
        assert ids == sorted(ids, key=float)


def test_unlisted_folder_is_read_under_its_own_name(tmp_path):
    folder = write_export(tmp_path / "x", {"general/2024-05-01": [message(f"{D1}.000001")]})
    stray = folder / "stray" / "2024-05-01.json"
    stray.parent.mkdir()
    stray.write_text(json.dumps([message(f"{D1}.000002", "lost")]), encoding="utf-8")
    export, messages = read(folder)
    assert [(m.chat_id, m.chat_name, m.chat_type) for m in messages] == [
        ("C0000", "general", "channel"),
        ("stray", "stray", None),
    ]
    assert export.chats == 2


def test_dm_folder_is_its_id_and_named_by_its_members(tmp_path):
    days = {"D0DM1/2024-05-01": [message(f"{D1}.000001")]}
    dms = [{"id": "D0DM1", "created": D1, "members": ["U01ANA", "U02BEN"]}]
    _, messages = read(write_export(tmp_path / "x", days, channels=[], dms=dms))
    assert (messages[0].chat_id, messages[0].chat_name, messages[0].chat_type) == (
        "D0DM1",
        "ana, Ben Okafor",
        "dm",
    )


# --- users ----------------------------------------------------------------------------------


def test_names_from_display_name_then_real_name_then_name():
    _, messages = read(EXPORT)
    senders = {m.sender_id: m.sender for m in messages}
    assert senders["U01ANA"] == "ana"  # profile.display_name
    assert senders["U02BEN"] == "Ben Okafor"  # display_name empty: profile.real_name
    assert senders["U03CY"] == "cy"  # a deleted user with an empty profile: name
    assert senders["USLACKBOT"] == "Slackbot"


def test_user_profile_on_the_message_names_users_from_other_orgs():
    _, messages = read(EXPORT)
    eve = by_id(messages)[f"{D1 + 720}.001200"]
    assert (eve.sender, eve.sender_id) == ("eve", "U09EVE")
    assert eve.text == "hello from the partner org, I'm @eve"  # the mention resolves too


def test_unknown_ids_are_kept_and_counted_once_each(tmp_path):
    days = {
        "general/2024-05-01": [
            message(f"{D1}.000001", "boo", user="U0GHOST"),
            message(f"{D1}.000002", "again", user="U0GHOST"),
            message(f"{D1}.000003", "hi <@U0OTHER> and <@U0NAMED|named>"),
        ]
    }
    export, messages = read(write_export(tmp_path / "x", days))
    assert [m.sender for m in messages[:2]] == ["U0GHOST", "U0GHOST"]
    assert messages[2].text == "hi @U0OTHER and @named"  # an old-style mention names itself
    assert export.problems == {UNKNOWN: 2}


def test_org_users_json_of_enterprise_grid(tmp_path):
    folder = write_export(tmp_path / "x", {"general/2024-05-01": [message(f"{D1}.000001")]})
    (folder / "users.json").rename(folder / "org_users.json")
    export, messages = read(folder)
    assert messages[0].sender == "ana" and not export.problems


# --- text -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered():
    export = read_export(EXPORT, source="slack")
    list(export)  # loads users and channel names
    return export


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<@U01ANA> hi", "@ana hi"),
        ("<@U02BEN|ben> hi", "@Ben Okafor hi"),  # users.json wins over the stored label
        ("<#C0GENERAL1|general>", "#general"),
        ("<#C0GENERAL1>", "#general"),
        ("<#G0PRIV0001>", "#private-team"),
        ("<!here> <!channel> <!everyone> <!here|here>", "@here @channel @everyone @here"),
        ("<!subteam^S0DESIGN|@designers>", "@designers"),
        ("<!date^1714550400^{date_short}|May 1st>", "May 1st"),
        ("<https://example.com/a?b=1&amp;c=2>", "https://example.com/a?b=1&c=2"),
        ("<https://example.com/x|the plan>", "the plan (https://example.com/x)"),
        ("<http://example.org|example.org>", "example.org"),
        ("<https://example.org/|Example.org>", "Example.org"),
        ("<mailto:ana@example.com|ana@example.com>", "ana@example.com"),
        ("<tel:28919.8689279|28919.8689279>", "28919.8689279"),
        ("a &amp; b &lt;c&gt; &amp;lt;", "a & b <c> &lt;"),
        (
            "&quot;as typed&quot; *bold* _it_ ~no~ `code`",
            "&quot;as typed&quot; *bold* _it_ ~no~ `code`",
        ),
        ("plain :+1: text", "plain :+1: text"),
        ("unescaped a <b> c &nbsp;", "unescaped a <b> c &nbsp;"),  # not Slack's: left alone
    ],
)
def test_markup_is_rendered(rendered, markup, text):
    assert rendered.render(markup) == text


def test_markup_in_a_message():
    _, messages = read(EXPORT)
    first = by_id(messages)[f"{D1 + 120}.000300"]
    assert first.text == (
        "Hi @Ben Okafor! See #general and the plan (https://example.com/plan?a=1&b=2) "
        "or example.org <3"
    )


def test_bots_posting_only_attachments_get_their_summaries(tmp_path):
    obj = message(
        f"{D1}.000001",
        "",
        user=None,
        subtype="bot_message",
        bot_id="B0CI",
        username="ci",
        attachments=[
            {"fallback": "[repo:main] <https://git.example.com/c/1|1 new commit> by Ana"},
            {"pretext": "second", "text": "ignored when a pretext is there"},
            {"color": "ff0000"},
        ],
    )
    got, _ = one(tmp_path, obj)
    assert got.text == "[repo:main] 1 new commit (https://git.example.com/c/1) by Ana\nsecond"
    assert got.kind == Kind.TEXT


# --- threads, edits, times ------------------------------------------------------------------


def test_thread_replies_point_at_their_parent_ts():
    _, messages = read(EXPORT)
    found = by_id(messages)
    parent = f"{D1 + 120}.000300"
    assert found[parent].reply_to is None  # a parent's thread_ts is its own ts
    assert found[f"{D1 + 180}.000400"].reply_to == parent
    assert found[f"{D1 + 300}.000500"].reply_to == parent  # thread_broadcast
    assert found[f"{D1 + 86460}.000200"].reply_to == f"{D1 + 86400}.000100"  # to a tombstone


def test_ts_is_the_id_and_an_aware_utc_time_in_whole_seconds():
    _, messages = read(EXPORT)
    first = messages[0]
    assert first.id == f"{D1}.000100"
    assert first.timestamp == datetime(2024, 5, 1, 8, 0, tzinfo=UTC) and first.tz_known
    assert all(m.timestamp.microsecond == 0 for m in messages)


def test_edited_time():
    _, messages = read(EXPORT)
    edited = [m for m in messages if m.edited is not None]
    assert [(m.id, m.edited) for m in edited] == [
        (f"{D1 + 180}.000400", datetime(2024, 5, 1, 8, 4, tzinfo=UTC))
    ]


# --- kinds ----------------------------------------------------------------------------------


def test_subtypes_become_kinds_and_actions():
    _, messages = read(EXPORT)
    general = [(m.kind, m.action, m.sender) for m in messages if m.chat_id == "C0GENERAL1"]
    assert general == [
        (Kind.SERVICE, "join", "ana"),
        (Kind.SERVICE, "purpose", "ana"),
        (Kind.TEXT, None, "ana"),
        (Kind.TEXT, None, "Ben Okafor"),
        (Kind.TEXT, None, "Ben Okafor"),  # thread_broadcast
        (Kind.TEXT, "me", "cy"),  # me_message
        (Kind.MEDIA, None, "ana"),  # file_share
        (Kind.MEDIA, None, "Ben Okafor"),  # files without a subtype
        (Kind.TEXT, None, "deploybot"),  # bot_message
        (Kind.SERVICE, "pin", "Ben Okafor"),  # pinned_item
        (Kind.SERVICE, "topic", "ana"),
        (Kind.TEXT, None, "eve"),
        (Kind.TEXT, None, "U0GHOST"),
        (Kind.DELETED, None, None),  # tombstone
        (Kind.TEXT, None, "cy"),
        (Kind.CALL, None, "ana"),  # huddle_thread
        (Kind.TEXT, None, "Slackbot"),
        (Kind.SERVICE, "leave", "cy"),
    ]
    texts = {m.action: m.text for m in messages if m.kind == Kind.SERVICE}
    assert texts["purpose"] == "@ana set the channel purpose: Plans & trips"
    assert texts["leave"] == "@cy has left the channel"


def test_tombstone_is_deleted_without_text_or_sender():
    _, messages = read(EXPORT)
    gone = by_id(messages)[f"{D1 + 86400}.000100"]
    assert (gone.kind, gone.text, gone.sender, gone.sender_id) == (Kind.DELETED, "", None, None)


@pytest.mark.parametrize(
    ("subtype", "action"),
    [
        ("channel_name", "rename"),
        ("group_join", "join"),
        ("channel_archive", "archive"),
        ("unpinned_item", "unpin"),
        ("bot_remove", "bot_remove"),
        ("something_new", "something_new"),
    ],
)
def test_other_subtypes_are_service_messages(tmp_path, subtype, action):
    got, _ = one(tmp_path, message(f"{D1}.000001", "<@U01ANA> did it", subtype=subtype))
    assert (got.kind, got.action, got.text, got.sender) == (
        Kind.SERVICE,
        action,
        "@ana did it",
        "ana",
    )


@pytest.mark.parametrize(
    ("file", "media_type"),
    [
        ({"mimetype": "image/png"}, "photo"),
        ({"mimetype": "image/gif"}, "animation"),
        ({"mimetype": "video/quicktime"}, "video_file"),
        ({"mimetype": "audio/mpeg"}, "audio_file"),
        ({"mimetype": "audio/webm", "subtype": "slack_audio"}, "voice_message"),
        ({"mimetype": "video/mp4", "subtype": "slack_video"}, "video_message"),
        ({"mimetype": "application/pdf"}, "file"),
        ({"mode": "tombstone"}, "file"),
    ],
)
def test_files_are_media_typed_by_mimetype(tmp_path, file, media_type):
    obj = message(f"{D1}.000001", "look &amp; see", subtype="file_share", files=[file])
    got, _ = one(tmp_path, obj)
    assert (got.kind, got.media_type, got.text) == (Kind.MEDIA, media_type, "look & see")


@pytest.mark.parametrize(
    ("text", "file", "caption"),
    [
        ("<@U01ANA|ana.lima> uploaded a file: <https://x.slack.com/files/F1|notes>", {}, ""),
        (
            "<@U01ANA> uploaded a file: <https://x.slack.com/files/F1|notes> and commented: "
            "read &amp; sign",
            {},
            "read & sign",
        ),
        (
            "<@U01ANA> shared a file: <https://x.slack.com/files/F1|notes>",
            {"initial_comment": {"comment": "from <@U02BEN>"}},
            "from @Ben Okafor",
        ),
    ],
)
def test_old_uploads_keep_only_the_typed_caption(tmp_path, text, file, caption):
    obj = message(f"{D1}.000001", text, subtype="file_share", upload=True)
    obj["file"] = {"id": "F1", "name": "notes.txt", "mimetype": "text/plain", **file}
    got, _ = one(tmp_path, obj)
    assert (got.kind, got.media_type, got.text, got.sender) == (Kind.MEDIA, "file", caption, "ana")


def test_old_file_comment_is_the_comment_from_its_author(tmp_path):
    obj = message(
        f"{D1}.000001",
        "<@U02BEN> commented on <@U01ANA>’s file <https://x/F1|notes>: nice &amp; short",
        subtype="file_comment",
        user=None,
        comment={"id": "Fc1", "user": "U02BEN", "comment": "nice &amp; short"},
        file={"id": "F1", "mimetype": "text/plain"},
    )
    got, _ = one(tmp_path, obj)
    assert (got.kind, got.sender, got.sender_id, got.text) == (
        Kind.TEXT,
        "Ben Okafor",
        "U02BEN",
        "nice & short",
    )


def test_bot_names(tmp_path):
    bot = {"type": "message", "subtype": "bot_message", "text": "ping", "user": None}
    days = {
        "general/2024-05-01": [
            {**bot, "ts": f"{D1}.000001", "bot_id": "B0HOOK"},  # not named yet: its id
            message(
                f"{D1}.000002",
                "added an integration to this channel: <https://x.slack.com/services/B0HOOK|github>",
                subtype="bot_add",
                bot_id="B0HOOK",
            ),
            {**bot, "ts": f"{D1}.000003", "bot_id": "B0HOOK"},  # named by the bot_add
            {**bot, "ts": f"{D1}.000004", "bot_id": "B0APP", "bot_profile": {"name": "Polly"}},
            {**bot, "ts": f"{D1}.000005", "bot_id": "B0APP"},  # remembered
            {**bot, "ts": f"{D1}.000006", "bot_id": "B0U", "user": "U02BEN"},  # an app user
            {**bot, "ts": f"{D1}.000007", "bot_id": "B0X", "username": "hook", "subtype": None},
        ]
    }
    export, messages = read(write_export(tmp_path / "x", days))
    assert [(m.sender, m.sender_id, m.kind) for m in messages] == [
        ("B0HOOK", "B0HOOK", Kind.TEXT),
        ("ana", "U01ANA", Kind.SERVICE),
        ("github", "B0HOOK", Kind.TEXT),
        ("Polly", "B0APP", Kind.TEXT),
        ("Polly", "B0APP", Kind.TEXT),
        ("Ben Okafor", "B0U", Kind.TEXT),
        ("hook", "B0X", Kind.TEXT),
    ]
    assert messages[1].action == "bot_add" and not export.problems


def test_webhook_posts_without_a_bot_id_are_named_by_their_username(tmp_path):
    obj = message(f"{D1}.000001", "new lead", user=None, subtype="bot_message", bot_id=None)
    obj["username"] = "IFTTT"
    got, problems = one(tmp_path, obj)
    assert (got.sender, got.sender_id, got.kind, got.text) == ("IFTTT", None, Kind.TEXT, "new lead")
    assert not problems


# --- problems and errors --------------------------------------------------------------------


def test_broken_records_are_counted_and_the_rest_kept(tmp_path):
    days = {
        "general/2024-05-01": [
            message(f"{D1}.000001", "kept"),
            "not an object",
            message(None, "no ts"),
            message("yesterday", "bad ts"),
            message("5.000001", "1970"),
            message(f"{D1}.000002", {"rich": "text"}),
            message(f"{D1}.000003", "twice"),
            message(f"{D1}.000003", "twice"),
            message(f"{D1}.000004", "bad edit", edited={"ts": "soon"}),
        ],
        "general/2024-05-02": {"not": "a list"},
    }
    folder = write_export(tmp_path / "x", days)
    (folder / "general" / "2024-05-03.json").write_text('[{"ts": "1', encoding="utf-8")
    export, messages = read(folder)
    assert [m.text for m in messages] == ["kept", "twice", "bad edit"]
    assert messages[2].edited is None
    assert export.problems == {
        "malformed message": 5,
        "message repeated in its day file (skipped)": 1,
        "day file that is not a JSON list (skipped)": 2,
    }


def test_lists_without_conversation_folders_name_the_fix(tmp_path):
    folder = write_export(tmp_path / "x", {})
    found = find_slack(sources_of(folder))
    assert found is not None
    with pytest.raises(TwinchatError, match="point at the whole export"):
        SlackExport(found)


def test_a_lone_users_json_names_the_fix(tmp_path):
    (tmp_path / "users.json").write_text(json.dumps(USERS), encoding="utf-8")
    with pytest.raises(TwinchatError, match=r"Slack's lists \(users\.json\) but no conversation"):
        read_export(tmp_path / "users.json", source="slack")


def test_empty_lists_alone_are_not_an_export(tmp_path):
    for name in ("channels.json", "groups.json", "dms.json", "users.json"):
        (tmp_path / name).write_text("[]", encoding="utf-8")
    assert find_slack(sources_of(tmp_path)) is None


def test_a_damaged_list_names_the_fix(tmp_path):
    folder = write_export(tmp_path / "x", {"general/2024-05-01": [message(f"{D1}.000001")]})
    (folder / "users.json").write_text('[{"id": "U01ANA", "name": ', encoding="utf-8")
    with pytest.raises(TwinchatError, match=r"users\.json is not valid JSON.*download it"):
        list(read_export(folder, source="slack"))


def test_something_else_names_the_slack_layout(tmp_path):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(TwinchatError, match="channels.json, users.json"):
        read_export(tmp_path, source="slack")


# --- where the export is --------------------------------------------------------------------


def test_zip_reads_like_its_folder(tmp_path):
    _, from_folder = read(EXPORT)
    export, from_zip = read(zip_folder(EXPORT, tmp_path / "slack export.zip"))
    assert [m.to_dict() for m in from_zip] == [m.to_dict() for m in from_folder]
    assert export.source.label == str(tmp_path / "slack export.zip")


def test_zip_of_the_unzipped_folder_and_mac_leftovers(tmp_path):
    path = zip_folder(EXPORT, tmp_path / "x.zip", prefix="Acme Slack export/")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("__MACOSX/Acme Slack export/._channels.json", b"\0\5\26\7")
        archive.writestr("__MACOSX/Acme Slack export/general/._2024-05-01.json", b"\0\5\26\7")
    export, messages = read(path)
    assert len(messages) == 23 and export.chats == 4
    assert export.source.label == f"{path}!Acme Slack export"


def test_one_channel_folder_alone(tmp_path):
    copy = shutil.copytree(EXPORT / "private-team", tmp_path / "private-team")
    export, messages = read(copy)
    assert [(m.chat_name, m.sender) for m in messages] == [
        ("private-team", "U02BEN"),  # without users.json names are ids
        ("private-team", "U01ANA"),
    ]
    assert export.problems == {UNKNOWN: 2}


def test_progress_source_and_bytes_read():
    export = read_export(EXPORT, source="slack")
    files = [p for p in EXPORT.rglob("*.json") if p.name != "integration_logs.json"]
    assert export.source.size == sum(p.stat().st_size for p in files)
    assert export.source.label == str(EXPORT)
    iterator = iter(export)
    next(iterator)
    assert 0 < export.bytes_read < export.source.size  # read day by day, not all at once
    list(iterator)
    assert export.bytes_read == export.source.size


def test_iterating_twice_gives_the_same_messages():
    export = read_export(EXPORT, source="slack")
    first = [m.to_dict() for m in export]
    problems, chats = Counter(export.problems), export.chats
    assert [m.to_dict() for m in export] == first
    assert (export.problems, export.chats) == (problems, chats)


# --- detection ------------------------------------------------------------------------------


def test_detection_finds_the_export_in_a_folder_and_a_zip(tmp_path):
    found = find_slack(sources_of(EXPORT))
    assert found is not None
    assert sorted(found.folders) == [
        "D0DM000001",
        "general",
        "mpdm-ana.lima--ben--cy-1",
        "private-team",
    ]
    assert [Path(s.label).name for s in found.folders["general"]] == [
        "2024-05-01.json",
        "2024-05-02.json",
    ]
    assert "users.json" in found.lists and "integration_logs.json" not in found.lists
    assert find_slack(sources_of(zip_folder(EXPORT, tmp_path / "x.zip"))) is not None


def write(root: Path, files: dict[str, Any]) -> Path:
    for name, value in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = value if isinstance(value, str) else json.dumps(value, indent=2)
        path.write_text(text, encoding="utf-8")
    return root


NOT_SLACK = {
    "telegram": {
        "result.json": {"name": "Ana", "type": "personal_chat", "id": 1, "messages": []},
    },
    "whatsapp": {"WhatsApp Chat with Ana.txt": "01/05/2024, 08:00 - Ana: hi\n"},
    "irc": {"#ubuntu/2004-11-15.txt": "[08:00] <ana> hi\n", "#ubuntu/2004-11-16.log": ""},
    "discord-chat-exporter": {
        "Guild - general [123].json": {
            "guild": {"id": "1", "name": "Guild"},
            "channel": {"id": "123", "type": "GuildTextChat", "name": "general"},
            "messages": [{"id": "9", "type": "Default", "timestamp": "2024-05-01T08:00:00+00:00"}],
        }
    },
    "discord-package": {
        "messages/c123/messages.json": [{"ID": 9, "Timestamp": "2024-05-01", "Contents": "hi"}],
        "messages/index.json": {"123": "general"},
        "account/user.json": {"id": "42", "username": "ana"},
    },
    "messenger": {
        "messages/inbox/ana_ABC123/message_1.json": {
            "participants": [{"name": "Ana"}],
            "messages": [{"sender_name": "Ana", "timestamp_ms": 1714550400000, "content": "hi"}],
        }
    },
    "signal-export": {
        "Ana/chat.md": "[2024-05-01 08:00] Ana: hi\n",
        "Ana/data.json": [{"date": "2024-05-01 08:00", "sender": "Ana", "body": "hi"}],
    },
    "other-users-json": {"users.json": [{"id": 42, "name": "ana"}], "a/2024-05-01.json": []},
    "dated-json-logs": {
        "logs/2024-05-01.json": [{"time": "08:00", "level": "info", "msg": "started"}],
        "logs/2024-05-02.json": {"events": []},
    },
}


@pytest.mark.parametrize("shape", sorted(NOT_SLACK))
def test_detection_leaves_other_apps_alone(tmp_path, shape):
    folder = write(tmp_path / shape, NOT_SLACK[shape])
    assert find_slack(sources_of(folder)) is None
    for file in folder.rglob("*"):
        if file.is_file():
            assert find_slack(sources_of(file)) is None
    assert find_slack(sources_of(zip_folder(folder, tmp_path / f"{shape}.zip"))) is None


def test_detection_on_other_readers_fixtures_and_empty_folders(tmp_path):
    others = [folder for folder in FIXTURES.iterdir() if folder.is_dir() and folder.name != "slack"]
    assert {"telegram", "whatsapp", "irc"} <= {folder.name for folder in others}
    for folder in others:
        assert find_slack(sources_of(folder)) is None, folder.name
    (tmp_path / "empty").mkdir()
    assert find_slack(sources_of(tmp_path / "empty")) is None


# --- round trip -----------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+")


def slack_text(text: str) -> str:
    """Text as Slack stores what was typed: &, <, > escaped, then addresses linked."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _URL.sub(lambda m: f"<{m[0]}>", escaped)


def write_slack_zip(path: Path, lines: tuple[Line, ...], channel: str = "random") -> Path:
    """`lines` as Slack's export writes a channel: users.json, channels.json, a day a file."""
    names = list(dict.fromkeys(line.sender for line in lines))
    ids = {name: f"U{i:08d}" for i, name in enumerate(names, 1)}
    users = [
        {
            "id": ids[name],
            "team_id": "T00000001",
            "name": name.split()[0].lower(),
            "real_name": name,
            # one real name only, as people who never set a display name have it
            "profile": {"real_name": name, "display_name": "" if " " in name else name},
        }
        for name in names
    ]
    channels = [{"id": "C00000001", "name": channel, "members": list(ids.values())}]
    days: dict[str, list[dict[str, Any]]] = {}
    for sequence, line in enumerate(lines, 1):
        obj: dict[str, Any] = {
            "type": "message",
            "text": slack_text(line.text),
            "user": ids[line.sender],
            "ts": f"{int(line.time.timestamp())}.{sequence:06d}",
        }
        if line.kind == Kind.MEDIA:
            obj["subtype"] = "file_share"
            obj["files"] = [
                {"id": f"F{sequence:08d}", "name": "IMG_1.jpg", "mimetype": "image/jpeg"}
            ]
            obj["upload"] = True
        days.setdefault(f"{line.time:%Y-%m-%d}", []).append(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("channels.json", json.dumps(channels, indent=4))
        archive.writestr("users.json", json.dumps(users, indent=4))
        archive.writestr("integration_logs.json", "[]")
        for day, messages in days.items():
            text = json.dumps(messages, ensure_ascii=False, indent=4)
            archive.writestr(f"{channel}/{day}.json", text)
    return path


def test_round_trip(tmp_path):
    export, messages = read(write_slack_zip(tmp_path / "Acme Slack export.zip", CONVERSATION))
    assert_same(messages)
    assert not export.problems and export.chats == 1
    assert all(m.timestamp.tzinfo is UTC and m.tz_known for m in messages)


# --- acceptance on the shared sample ----------------------------------------------------------


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/samples")
def test_slack_export_viewer_sample():
    """A real 2016 export: two channels, 158 messages, mostly a GitHub integration's posts.

    Its bots carry only a `bot_id`; they are named by the channel's earlier `bot_add` line
    ("added an integration to this channel: <…|github>"). Its three uploads are old-style
    `file_share` lines with no comment, so their caption is empty; its one `file_comment` is
    text from the commenter.
    """
    export, messages = read(SAMPLE)
    assert not export.problems
    assert (len(messages), export.chats) == (158, 2)
    assert Counter(m.chat_name for m in messages) == {"enrique": 102, "traveling-sailor": 56}
    assert Counter(m.sender for m in messages) == {
        "github": 94,
        "hamza": 38,
        "doubledeez": 16,
        "abilinski": 7,
        "heroeshannibal": 3,
    }
    assert Counter(m.kind for m in messages) == {Kind.TEXT: 144, Kind.SERVICE: 11, Kind.MEDIA: 3}
    assert Counter(m.action for m in messages if m.action) == {"join": 8, "bot_add": 3}
    assert [m.text for m in messages if m.kind == Kind.MEDIA] == ["", "", ""]
    assert sum(m.edited is not None for m in messages) == 1
    assert not any(re.search(r"<[@#!]|<https?:|&(amp|lt|gt);", m.text) for m in messages)
    for chat in ("enrique", "traveling-sailor"):
        epochs = [m.epoch for m in messages if m.chat_name == chat]
        assert epochs == sorted(epochs)
