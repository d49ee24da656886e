"""The Messenger and Instagram reader against formats.md §4, on the project's own fixtures.

Run: pytest tests/test_messenger.py -q
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, SHARED
from roundtrip import CONVERSATION, Line, assert_same

from twinchat import Kind, TwinchatError
from twinchat.data.readers import read_export
from twinchat.data.readers.messenger import (
    MessengerExport,
    find_messenger,
    is_html_download,
    own_text,
    repair,
    to_message,
)
from twinchat.data.readers.source import sources_of

MESSENGER = FIXTURES / "messenger"
FACEBOOK = MESSENGER / "facebook-bobstone"
MESSAGES = FACEBOOK / "your_facebook_activity" / "messages"
ALICE = MESSAGES / "inbox" / "alicemartin_10158"
CREW = MESSAGES / "inbox" / "hikingcrew_20231" / "message_1.json"
INSTAGRAM = MESSENGER / "instagram-bob.stone"
E2EE = MESSENGER / "e2ee"
SAMPLES = SHARED / "samples" / "messenger"

ALICE_TEXTS = [
    "You are now connected on Messenger",
    "Salut Bob ! Ça va ?",
    "très bien, et toi ?",
    "super 😀",
    "le lac ❤️",
    "",
    "",
    "https://example.com/trail?d=2&e=3",
    "",
    "Alice Martin reacted 😆 to your message ",
    "The video chat ended.",
    "Bob Stone left the group.",
    "two",
    "three",
]


def read(path: Path):
    """(export, messages) of a path, read as the Messenger reader reads it."""
    export = read_export(path, source="messenger")
    return export, list(export)


def fb_strings(value: Any) -> Any:
    """Every string the way Facebook writes it: each UTF-8 byte as one U+0000-U+00FF char."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, list):
        return [fb_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: fb_strings(v) for k, v in value.items()}
    return value


def write_thread(folder: Path, messages: list[dict], part: int = 1, **fields: Any) -> Path:
    """One `message_N.json` as Facebook's DYI writes it: `messages` (oldest first) newest
    first, every string in mojibake, written as `\\u00XX` escapes."""
    thread = {
        "participants": [{"name": "Alice Martin"}, {"name": "Bob Stone"}],
        "messages": messages[::-1],
        "title": "Alice Martin",
        "is_still_participant": True,
        "thread_path": f"inbox/{folder.name}",
        "magic_words": [],
        **fields,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"message_{part}.json"
    path.write_text(json.dumps(fb_strings(thread), indent=2), encoding="ascii")
    return path


def fb(sender: str, ms: int, content: str | None = None, **extra: Any) -> dict[str, Any]:
    message = {"sender_name": sender, "timestamp_ms": ms, **extra}
    if content is not None:
        message["content"] = content
    return message


def one(obj: dict[str, Any], platform: str = "messenger", layout: str = "dyi"):
    return to_message({"sender_name": "Alice Martin", "timestamp_ms": 1_700_000_000_000, **obj},
                      platform, layout)  # fmt: skip


# --- the mojibake (formats.md §4) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("caf\u00c3\u00a9", "café"),
        ("\u00e2\u009d\u00a4", "❤"),
        ("\u00f0\u009f\u0098\u0080 ok", "😀 ok"),
        ("\u00d0\u009f\u00d1\u0080\u00d0\u00b8", "При"),
        ("café", "café"),  # right already: é alone is not UTF-8
        ("déjà vu", "déjà vu"),
        ("naïve — 😀", "naïve — 😀"),  # characters above U+00FF: right already
        ("\u00c3", "\u00c3"),  # a lone lead byte: not UTF-8, kept
        ("plain ascii", "plain ascii"),
        ("", ""),
    ],
)
def test_repair_undoes_mojibake_and_keeps_right_strings(stored, expected):
    assert repair(stored) == expected


def test_every_string_is_repaired():
    _, messages = read(CREW)
    assert {m.chat_name for m in messages} == {"Hiking Crew 🥾"}
    assert "Dana Kovač" in {m.sender for m in messages}
    assert "Привет всем! 你好" in [m.text for m in messages]
    _, messages = read(E2EE / "Alice Martin_3.json")
    texts = [m.text for m in messages]
    assert texts[:3] == ["on se voit où ?", "déjà vu", "naïve résumé — 😀"]


def test_a_bom_before_the_json_is_allowed(tmp_path):
    path = write_thread(tmp_path / "inbox" / "x_1", [fb("Alice Martin", 1_700_000_000_000, "hi")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    export, messages = read(path)
    assert [m.text for m in messages] == ["hi"] and not export.problems


# --- files of a thread, and what a user may point at ------------------------------------------


def test_parts_merge_in_time_order_with_ties_kept_in_writing_order():
    export, messages = read(ALICE)
    assert [m.text for m in messages] == ALICE_TEXTS
    # message_10 is the oldest part: its last message comes before message_2's first, which
    # has the same millisecond; in message_1 "three" is listed before "two" at one millisecond
    assert [m.id for m in messages] == [str(i) for i in range(1, 15)]
    assert export.chats == 1 and not export.problems


def test_parts_are_ordered_by_number_not_by_name(tmp_path):
    folder = tmp_path / "inbox" / "t_1"
    at = 1_700_000_000_000
    write_thread(folder, [fb("Bob Stone", at, "newest")], part=1)
    write_thread(folder, [fb("Bob Stone", at, "middle")], part=2)
    write_thread(folder, [fb("Bob Stone", at, "oldest")], part=10)
    _, messages = read(folder)
    assert [m.text for m in messages] == ["oldest", "middle", "newest"]


@pytest.mark.parametrize(
    "named",
    [
        ALICE,
        MESSAGES / "inbox",
        MESSAGES,
        FACEBOOK / "your_facebook_activity",
        FACEBOOK,
    ],
    ids=["thread folder", "inbox", "messages", "activity folder", "export root"],
)
def test_every_level_of_the_export_finds_the_thread(named):
    export, messages = read(named)
    alice = [m for m in messages if m.chat_id == "inbox/alicemartin_10158"]
    assert [m.text for m in alice] == ALICE_TEXTS
    assert export.source.label == str(named) and not export.problems


def test_the_whole_export_has_every_section(tmp_path):
    export, messages = read(FACEBOOK)
    chats = list(dict.fromkeys(m.chat_id for m in messages))
    assert chats == [
        "archived_threads/carolsmith_3301",
        "inbox/alicemartin_10158",
        "inbox/hikingcrew_20231",
    ]
    assert export.chats == 3 and len(messages) == 3 + 14 + 16
    assert export.bytes_read == export.source.size
    assert export.source.size == sum(p.stat().st_size for p in MESSAGES.rglob("message_*.json"))


def test_threads_deeper_than_the_candidates_are_found_from_root(tmp_path):
    """`sources_of` looks 5 levels down; the threads of an export in the folder named lie 6
    down."""
    root = tmp_path / "downloads"
    shutil.copytree(FACEBOOK, root / FACEBOOK.name)
    candidates = sources_of(root)
    assert find_messenger(candidates) is None
    threads = find_messenger(candidates, root=root)
    assert threads is not None and len(threads) == 3
    assert [len(t.files) for t in threads] == [1, 3, 1]


def test_a_zip_of_the_export_reads_like_its_folder(tmp_path):
    archive = tmp_path / "facebook-bobstone-2025-01-05-Ab12Cd.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(FACEBOOK.rglob("*")):
            z.write(path, path.relative_to(FACEBOOK))
    threads = find_messenger(sources_of(archive))
    assert threads is not None
    export = MessengerExport(threads)
    zipped = [(m.chat_id, m.sender, m.text, m.kind) for m in export]
    assert zipped == [(m.chat_id, m.sender, m.text, m.kind) for m in read(FACEBOOK)[1]]
    assert export.source.label == str(archive) and export.chats == 3


def test_a_folder_of_several_exports_reads_them_all():
    export, messages = read(MESSENGER)
    platforms = Counter(m.platform for m in messages)
    assert platforms == {"messenger": 33 + 10, "instagram": 6}
    assert export.chats == 3 + 2 + 1 and export.format == "messenger" and not export.problems


def test_one_message_file_reads_only_that_part():
    export, messages = read(ALICE / "message_2.json")
    assert [m.text for m in messages] == ["super 😀", "le lac ❤️", "", ""]
    assert {m.chat_id for m in messages} == {"inbox/alicemartin_10158"}
    assert export.source.label == str(ALICE / "message_2.json")


def test_a_renamed_thread_file_is_known_by_its_head(tmp_path):
    renamed = tmp_path / "alice.json"
    shutil.copy(ALICE / "message_1.json", renamed)
    _, messages = read(renamed)
    assert [m.text for m in messages] == ALICE_TEXTS[7:]
    assert {m.chat_id for m in messages} == {"inbox/alicemartin_10158"}


def test_media_and_settings_files_are_not_chats():
    threads = find_messenger(sources_of(MESSAGES))
    assert threads is not None
    labels = [s.label for t in threads for s in t.files]
    assert all(label.endswith(".json") and "autofill" not in label for label in labels)


def test_source_progress_and_chat_count():
    export = read_export(MESSAGES / "inbox", source="messenger")
    assert export.chats == 0 and export.bytes_read == 0
    iterator = iter(export)
    next(iterator)
    assert 0 < export.bytes_read < export.source.size  # one thread at a time
    rest = list(iterator)
    assert len(rest) == 14 + 16 - 1 and export.chats == 2
    assert export.bytes_read == export.source.size
    with export.source.open() as stream:
        assert len(stream.read()) == export.source.size


# --- chats -------------------------------------------------------------------------------------


def test_chat_id_name_and_type():
    _, messages = read(FACEBOOK)
    chats = {m.chat_id: (m.chat_name, m.chat_type) for m in messages}
    assert chats == {
        "archived_threads/carolsmith_3301": ("Carol Smith", "personal_chat"),  # no thread_type
        "inbox/alicemartin_10158": ("Alice Martin", "personal_chat"),  # Regular
        "inbox/hikingcrew_20231": ("Hiking Crew 🥾", "private_group"),  # RegularGroup
    }
    assert {m.platform for m in messages} == {"messenger"}


def test_chat_fallbacks_without_thread_path_or_title(tmp_path):
    folder = tmp_path / "inbox" / "group_42"
    people = [{"name": n} for n in ("Ann", "Ben", "Cy")]
    path = write_thread(folder, [fb("Ann", 1_700_000_000_000, "hi")], participants=people)
    data = json.loads(path.read_text())
    del data["thread_path"], data["title"]
    path.write_text(json.dumps(data))
    _, messages = read(folder)
    assert (messages[0].chat_id, messages[0].chat_name, messages[0].chat_type) == (
        "inbox/group_42",
        "Ann, Ben, Cy",
        "private_group",
    )


def test_the_newest_part_names_the_chat(tmp_path):
    folder = tmp_path / "inbox" / "t_1"
    write_thread(folder, [fb("Bob Stone", 1_700_000_100_000, "b")], part=1, title="New name")
    write_thread(folder, [fb("Bob Stone", 1_700_000_000_000, "a")], part=2, title="Old name")
    _, messages = read(folder)
    assert {m.chat_name for m in messages} == {"New name"}


# --- times ------------------------------------------------------------------------------------


def test_times_are_utc_epoch_milliseconds():
    _, messages = read(ALICE)
    assert messages[2].timestamp == datetime(2024, 3, 1, 9, 0, 30, 250_000, tzinfo=UTC)
    assert all(m.tz_known and m.timestamp.tzinfo is UTC for m in messages)


def test_2018_exports_wrote_seconds():
    message = to_message({"sender_name": "Ann", "timestamp": 1_520_000_000, "content": "hi"},
                         "messenger")  # fmt: skip
    assert message.timestamp == datetime.fromtimestamp(1_520_000_000, UTC)


# --- kinds ------------------------------------------------------------------------------------


def test_kinds_of_a_group_chat():
    _, messages = read(CREW)
    got = [(m.kind, m.action, m.media_type, m.text) for m in messages]
    assert got == [
        (Kind.SERVICE, "create_group", None, "Bob Stone created the group."),
        (Kind.SERVICE, "invite_members", None, "Bob Stone added Chen Wei to the group."),
        (Kind.TEXT, None, None, "Привет всем! 你好"),
        (Kind.SERVICE, "edit_group_title", None, "Bob Stone named the group Hiking Crew 🥾."),
        (Kind.SERVICE, "edit_group_photo", None, "Alice Martin changed the group photo."),
        (Kind.MEDIA, None, "video_file", ""),
        (Kind.MEDIA, None, "animation", ""),  # "Dana sent a GIF from GIPHY.": a placeholder
        (Kind.MEDIA, None, "audio_file", ""),
        (Kind.MEDIA, None, "file", "the map"),  # a caption
        (Kind.POLL, "create_poll", None, "Saturday or Sunday?"),
        (Kind.SERVICE, "poll_vote", None, 'Alice Martin voted for "Sunday" in the poll.'),
        (Kind.SERVICE, "nickname", None, "Chen Wei set the nickname for Alice Martin to Al."),
        (Kind.SERVICE, "pin_message", None, "Dana Kovač pinned a message."),
        (Kind.CALL, "phone_call", None, "Alice Martin missed your call."),
        (Kind.SERVICE, "leave_group", None, "Chen Wei left the group."),
        (Kind.TEXT, None, None, "see you all 👋"),
    ]


def test_kinds_of_a_direct_chat():
    _, messages = read(ALICE)
    got = [(m.kind, m.action, m.media_type, m.emoji) for m in messages]
    assert got == [
        (Kind.SERVICE, "connected", None, None),
        (Kind.TEXT, None, None, None),
        (Kind.TEXT, None, None, None),  # its `reactions` are not messages
        (Kind.TEXT, None, None, None),
        (Kind.MEDIA, None, "photo", None),
        (Kind.MEDIA, None, "photo", None),  # "You sent a photo." is no caption
        (Kind.DELETED, None, None, None),  # is_unsent
        (Kind.TEXT, None, None, None),  # a share whose content is its link
        (Kind.STICKER, None, "sticker", "👍"),  # the "like" sticker
        (Kind.SERVICE, "reaction", None, None),
        (Kind.CALL, "phone_call", None, None),
        (Kind.TEXT, None, None, None),  # "Bob Stone left the group." typed by Alice
        (Kind.TEXT, None, None, None),
        (Kind.TEXT, None, None, None),
    ]


def test_geoblocked_messages_are_unsupported():
    _, messages = read(MESSAGES / "archived_threads")
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.UNSUPPORTED, Kind.TEXT]


@pytest.mark.parametrize(
    ("obj", "kind", "action", "media_type", "text"),
    [
        ({"call_duration": 61}, Kind.CALL, "phone_call", None, ""),  # newer exports: no type
        ({"content": "Alice Martin added Ann to the group."}, Kind.SERVICE, "invite_members",
         None, "Alice Martin added Ann to the group."),
        ({"type": "Subscribe", "content": "Ann joined."}, Kind.SERVICE, "invite_members", None,
         "Ann joined."),
        ({"type": "Unsubscribe"}, Kind.SERVICE, "leave_group", None, ""),
        ({"content": "Alice sent an attachment."}, Kind.MEDIA, None, "file", ""),  # media lost
        ({"content": "You sent a sticker."}, Kind.STICKER, None, "sticker", ""),
        ({"content": "Alice Martin unsent a message."}, Kind.DELETED, "unsent", None, ""),
        ({"is_unsent_image_by_messenger_kid_parent": True, "photos": [{"uri": "x.jpg"}]},
         Kind.DELETED, None, None, ""),
        ({"content": "hi", "share": {"link": "https://x.org"}}, Kind.TEXT, None, None, "hi"),
        ({"sticker": {"uri": "messages/stickers_used/42.png"}}, Kind.STICKER, None, "sticker",
         ""),
        ({"videos": [{"uri": "v.mp4"}], "content": "look"}, Kind.MEDIA, None, "video_file",
         "look"),
        ({"content": "Alice Martin started sharing location."}, Kind.LOCATION, "location", None,
         "Alice Martin started sharing location."),
        ({"type": "Generic"}, Kind.TEXT, None, None, ""),
    ],
)  # fmt: skip
def test_kinds_of_single_messages(obj, kind, action, media_type, text):
    message = one(obj)
    assert (message.kind, message.action, message.media_type, message.text) == (
        kind,
        action,
        media_type,
        text,
    )


@pytest.mark.parametrize(
    ("content", "sender", "action"),
    [
        ("You are now connected on Messenger", "Bob", "connected"),
        ("Say hi to your new Facebook friend, Ann.", "Bob", "connected"),
        ("Liked a message", "bob.stone", "reaction"),
        ("Reacted 😂 to your message ", "bob.stone", "reaction"),
        ("Ann Lee reacted ❤ to your message", "Ann Lee", "reaction"),
        ("Ann liked a message", "Ann Lee", "reaction"),  # the first name
        ("You named the group Trip.", "Bob", "edit_group_title"),
        ("Ann Lee removed Bob from the group.", "Ann Lee", "remove_members"),
        ("Ann Lee made Bob an admin.", "Ann Lee", "admin"),
        ("Ann Lee changed the theme to Love.", "Ann Lee", "theme"),
        ("Ann Lee set the emoji to 🔥.", "Ann Lee", "theme"),
        ("Ann Lee waved at you!", "Ann Lee", "wave"),
        ("The video chat ended.", "Ann Lee", "phone_call"),
        ("You missed a call from Ann Lee.", "Bob", "phone_call"),
        ("Ann Lee started a video call.", "Ann Lee", "phone_call"),
        ("Messages and calls are secured with end-to-end encryption. Learn more", None,
         "encryption"),
    ],
)  # fmt: skip
def test_messengers_own_texts(content, sender, action):
    found = own_text(content, sender)
    assert found is not None and found.action == action


@pytest.mark.parametrize(
    ("content", "sender"),
    [
        ("Ann Lee left the group.", "Bob"),  # about someone else: typed by Bob
        ("I left the group, sorry", "Bob"),
        ("liked a message? no, loved it", "Bob"),
        ("Ann Lee named the group Trip. Funny, right? " + "x" * 600, "Ann Lee"),  # too long
        ("Ann Lee a quitté le groupe.", "Ann Lee"),  # other languages are text
        ("", "Bob"),
    ],
)
def test_typed_text_is_not_taken_for_messengers_own(content, sender):
    assert own_text(content, sender) is None


def test_instagram_export():
    export, messages = read(INSTAGRAM)
    assert export.format == "instagram" and {m.platform for m in messages} == {"instagram"}
    got = [(m.sender, m.kind, m.text, m.forwarded_from) for m in messages]
    assert got == [
        ("Jamie Lee", Kind.TEXT, "hey! saw your hike pics 🏔️", None),
        ("bob.stone", Kind.SERVICE, "Liked a message", None),
        ("Jamie Lee", Kind.TEXT, "https://www.instagram.com/p/Cx1AbC/", "natgeo"),
        ("bob.stone", Kind.SERVICE, "Reacted ❤️ to your message ", None),
        ("bob.stone", Kind.TEXT, "wow, where is that?", None),
        ("Jamie Lee", Kind.MEDIA, "", None),
    ]
    assert {m.chat_id for m in messages} == {"inbox/jamielee_17843"}


def test_instagram_and_messenger_zips_are_told_apart(tmp_path):
    archive = tmp_path / "instagram-bob.stone-2025-02-01-x.zip"
    source = INSTAGRAM / "your_instagram_activity" / "messages" / "inbox" / "jamielee_17843"
    with zipfile.ZipFile(archive, "w") as z:  # the old layout: messages/ at the root
        z.write(source / "message_1.json", "messages/inbox/jamielee_17843/message_1.json")
    _, messages = read(archive)
    assert {m.platform for m in messages} == {"instagram"}


# --- the end-to-end-encrypted layout ------------------------------------------------------------


def test_e2ee_chats():
    export, messages = read(E2EE)
    assert export.chats == 2 and not export.problems and export.format == "messenger"
    alice = [m for m in messages if m.chat_id == "e2ee/Alice Martin_3"]
    assert {(m.chat_name, m.chat_type) for m in alice} == {("Alice Martin", "personal_chat")}
    got = [(m.sender, m.kind, m.media_type, m.text) for m in alice]
    assert got == [
        ("Alice Martin", Kind.TEXT, None, "on se voit où ?"),
        ("Bob Stone", Kind.TEXT, None, "déjà vu"),
        ("Bob Stone", Kind.TEXT, None, "naïve résumé — 😀"),
        ("Alice Martin", Kind.MEDIA, "photo", ""),
        ("Bob Stone", Kind.MEDIA, "file", ""),  # "Failed to download media"
        ("Alice Martin", Kind.TEXT, None, "https://example.org/x"),  # type link
        ("Bob Stone", Kind.DELETED, None, ""),  # type placeholder
        ("Alice Martin", Kind.DELETED, None, ""),  # isUnsent: its text is not kept
    ]
    chen = [(m.sender, m.text) for m in messages if m.chat_name == "Chen Wei"]
    assert chen == [("Chen Wei", "早上好"), ("Bob Stone", "morning!")]  # written oldest first


# --- problems and errors ------------------------------------------------------------------------


def test_malformed_messages_and_files_are_counted(tmp_path):
    good = fb("Ann", 1_700_000_000_000, "kept")
    write_thread(tmp_path / "inbox" / "a_1", [good])
    path = write_thread(tmp_path / "inbox" / "b_2", [good])
    data = json.loads(path.read_text())
    data["messages"] += [
        "not an object",
        {"sender_name": "Ann", "content": "no time"},
        {"sender_name": "Ann", "timestamp_ms": "soon", "content": "bad time"},
        {"sender_name": "Ann", "timestamp_ms": -5, "content": "1969"},
        {"sender_name": "Ann", "timestamp_ms": True, "content": "a boolean"},
        {"sender_name": "Ann", "timestamp_ms": float("inf"), "content": "Infinity"},
    ]
    path.write_text(json.dumps(data))
    (tmp_path / "inbox" / "c_3").mkdir()
    (tmp_path / "inbox" / "c_3" / "message_1.json").write_text('{"participants": [], "messa')
    (tmp_path / "inbox" / "d_4").mkdir()
    (tmp_path / "inbox" / "d_4" / "message_1.json").write_text('{"participants": []}')
    export, messages = read(tmp_path)
    assert [m.text for m in messages] == ["kept", "kept"]
    assert export.problems == {
        "malformed message": 6,
        "file not valid JSON (skipped)": 1,
        "file without a 'messages' list (skipped)": 1,
    }
    assert export.chats == 2


def test_nothing_but_broken_files_is_an_error(tmp_path):
    path = tmp_path / "inbox" / "a_1" / "message_1.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"participants": [{"name": "Ann"}], "messages": [{"sender_na')
    export = read_export(path, source="messenger")
    with pytest.raises(TwinchatError, match=r"message_1\.json is not valid JSON.*download"):
        list(export)


def test_html_download_says_to_ask_for_json(tmp_path):
    thread = tmp_path / "messages" / "inbox" / "alice_1"
    thread.mkdir(parents=True)
    (thread / "message_1.html").write_text("<html><body>Alice</body></html>")
    candidates = sources_of(tmp_path / "messages")
    assert find_messenger(candidates) is None and is_html_download(candidates)
    with pytest.raises(TwinchatError, match="HTML download.*format 'JSON'"):
        read_export(tmp_path / "messages")


def test_missing_path_and_empty_thread_list(tmp_path):
    with pytest.raises(TwinchatError, match="no such file"):
        read_export(tmp_path / "nowhere", source="messenger")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TwinchatError, match="no Messenger or Instagram export found"):
        read_export(tmp_path, source="messenger")
    with pytest.raises(TwinchatError):
        MessengerExport([])


# --- detection: other apps' files are not claimed -------------------------------------------


def _write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


DISCORD = {
    "guild": {"id": "0", "name": "Direct Messages"},
    "channel": {"id": "1", "type": "DirectTextChat", "name": "ann"},
    "messages": [{"id": "2", "type": "Default", "timestamp": "2024-01-01T10:00:00+00:00",
                  "content": "hi", "author": {"id": "3", "name": "ann"}}],
}  # fmt: skip
OTHERS = {
    "telegram result.json": ("result.json", (FIXTURES / "telegram" / "single_chat.json")),
    "telegram full export": ("result.json", (FIXTURES / "telegram" / "full_export.json")),
    "telegram renamed": ("chat.json", (FIXTURES / "telegram" / "single_chat.json")),
    "whatsapp": ("_chat.txt", FIXTURES / "whatsapp" / "ios" / "_chat.txt"),
    "irc": ("2013-02-24.raw.txt", FIXTURES / "irc" / "late" / "2013-02-24.raw.txt"),
    "discord": ("dm.json", json.dumps(DISCORD, indent=2)),
    "discord named like a thread part": ("message_1.json", json.dumps(DISCORD)),
    "slack channels": ("channels.json", '[{"id": "C1", "name": "general", "members": []}]'),
    "slack day": ("general/2020-01-01.json", '[{"type": "message", "user": "U1", "text": "hi",'
                  ' "ts": "1577872800.000100"}]'),
    "signal-export": ("Ann/data.json", '{"date": "2024-01-01 10:00:00", "sender": "Ann", '
                      '"body": "hi", "quote": "", "sticker": "", "reactions": []}\n'),
    "google chat": ("messages.json", '{"messages": [{"creator": {"name": "Ann"}, "text": "hi",'
                    ' "created_date": "Monday, 1 January 2024"}]}'),
    "camelCase chat": ("chat.json", '{"messages": [{"senderName": "Ann", "text": "hi", '
                       '"timestamp": 1700000000000}]}'),
    "old instagram": ("messages.json", '[{"participants": ["ann", "bob"], "conversation": '
                      '[{"sender": "ann", "created_at": "2019-01-01T10:00:00", "text": "hi"}]}]'),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OTHERS))
def test_other_apps_files_are_not_claimed(tmp_path, case):
    name, content = OTHERS[case]
    text = content.read_text(encoding="utf-8") if isinstance(content, Path) else content
    path = _write(tmp_path / "export", name, text)
    assert find_messenger(sources_of(path)) is None
    assert find_messenger(sources_of(tmp_path / "export"), root=tmp_path / "export") is None


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/samples")
def test_other_apps_shared_samples_are_not_claimed():
    others = [p for p in (SHARED / "samples").glob("*/*") if p.parent.name != "messenger"]
    assert others
    for path in others:
        assert find_messenger(sources_of(path)) is None, path


# --- round trip ---------------------------------------------------------------------------------


def _ms(line: Line) -> int:
    return int(line.time.timestamp()) * 1000


def write_dyi(folder: Path, lines: tuple[Line, ...]) -> Path:
    """CONVERSATION as Facebook's DYI writes it, split in two parts, newest first."""
    messages = []
    for line in lines:
        message = fb(line.sender, _ms(line), line.text or None, type="Generic")
        if line.kind is Kind.MEDIA:
            message["photos"] = [{"uri": "photos/1.jpg", "creation_timestamp": _ms(line) // 1000}]
        messages.append(message)
    people = [{"name": n} for n in dict.fromkeys(line.sender for line in lines)]
    half = len(messages) // 2
    fields = {"participants": people, "title": "Plans", "thread_type": "RegularGroup"}
    write_thread(folder, messages[half:], part=1, **fields)
    write_thread(folder, messages[:half], part=2, **fields)
    return folder


def write_e2ee(folder: Path, lines: tuple[Line, ...]) -> Path:
    """CONVERSATION as the E2EE download writes it (mojibake too, as msgvault assumes)."""
    messages = []
    for line in lines:
        media = [{"uri": "./media/a1.jpeg"}] if line.kind is Kind.MEDIA else []
        message = {"senderName": line.sender, "text": line.text, "timestamp": _ms(line)}
        kind = "media" if media else "text"
        messages.append({**message, "type": kind, "isUnsent": False, "media": media})
    people = list(dict.fromkeys(line.sender for line in lines))
    thread = {"participants": people, "threadName": "Plans_12", "messages": messages}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Plans_12.json").write_text(json.dumps(fb_strings(thread), indent=2))
    return folder


@pytest.mark.parametrize("writer", [write_dyi, write_e2ee])
def test_round_trip(tmp_path, writer):
    export, messages = read(writer(tmp_path / "plans_77", CONVERSATION))
    assert_same(messages)
    assert {(m.chat_name, m.chat_type) for m in messages} == {("Plans", "private_group")}
    assert not export.problems and export.chats == 1


# --- acceptance on the shared samples -------------------------------------------------------


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples")
def test_shared_samples_are_read_whole():
    """msgvault's fixtures (MIT): a DYI chat, a DYI chat of non-text messages, an E2EE chat."""
    export, messages = read(SAMPLES)
    assert not export.problems and export.chats == 3 and len(messages) == 13
    by_chat: dict[str, list] = {}
    for m in messages:
        by_chat.setdefault(m.chat_id, []).append((m.sender, m.kind, m.text))
    assert by_chat["inbox/alice_ABC123"] == [
        ("Test User", Kind.TEXT, "Hello"),
        ("Alice Example", Kind.TEXT, "café time?"),
        ("Test User", Kind.TEXT, "See you soon"),
    ]
    assert by_chat["inbox/sam_NONTXT"] == [
        ("Sam NonText", Kind.SERVICE, "Sam left the chat"),
        ("Test User", Kind.TEXT, "https://example.com/article"),
        ("Sam NonText", Kind.CALL, ""),  # missed
        ("Test User", Kind.CALL, ""),
        ("Sam NonText", Kind.MEDIA, ""),
        ("Test User", Kind.STICKER, ""),
    ]
    assert by_chat["e2ee/msgvault_e2ee_alice_1"] == [
        ("Test User", Kind.TEXT, "Hello"),
        ("Alice Example", Kind.TEXT, "café time?"),
        ("Test User", Kind.TEXT, "See you soon"),
        ("Test User", Kind.DELETED, ""),  # isUnsent "oops"
    ]
    assert {m.chat_name for m in messages} == {"Alice Example", "Sam NonText"}
    assert {m.platform for m in messages} == {"messenger"}


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples")
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_each_shared_sample_alone(name):
    export, messages = read(SAMPLES / name)
    assert messages and not export.problems and export.chats == 1
    assert export.source.label == str(SAMPLES / name)
    assert [m.epoch for m in messages] == sorted(m.epoch for m in messages)
