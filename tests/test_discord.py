"""The Discord reader: DiscordChatExporter JSON (formats.md §3), on the project's own fixtures."""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES, SHARED, TELEGRAM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError
from twinchat.data.readers import discord, read_export
from twinchat.data.readers.discord import (
    DiscordExport,
    discord_files,
    looks_like_discord,
    media_type_of,
    other_dce_format,
)
from twinchat.data.readers.source import file_source, sources_of

DISCORD = FIXTURES / "discord"
SERVER = DISCORD / "night_owls"
GENERAL = SERVER / "Night Owls - Text Channels - general [1100000000000000001].json"
SAMPLE = SHARED / "samples" / "discord" / "chat-analytics_GC_3A_5M.json"


def by_id(path: Path) -> dict[str, Any]:
    return {m.id: m for m in read_export(path, source="discord")}


def author(name: str, nickname: str | None = None, uid: int = 1, bot: bool = False) -> dict:
    return {
        "id": str(uid),
        "name": name,
        "discriminator": "0000",
        "nickname": nickname if nickname is not None else name,
        "color": None,
        "isBot": bot,
        "roles": [],
        "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png",
    }


def dce_message(ident: int, when: datetime, content: str, who: dict | None = None, **extra):
    """One message as DiscordChatExporter's JSON writer lays it out."""
    return {
        "id": str(ident),
        "type": extra.pop("type", "Default"),
        "timestamp": when.isoformat(),
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": who or author("ada", "Ada"),
        "attachments": [],
        "components": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
        **extra,
        "inlineEmojis": [],
    }


def write_dce(
    path: Path, messages: list, channel_id: str = "900", name: str = "general", **header
) -> Path:
    export = {
        "guild": {"id": "800", "name": "Test Server", "iconUrl": None},
        "channel": {
            "id": channel_id,
            "type": "GuildTextChat",
            "categoryId": "700",
            "category": "Text Channels",
            "name": name,
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-06-02T00:00:00+00:00",
        "messages": messages,
        "messageCount": len(messages),
        **header,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def minutes(n: int) -> datetime:
    return datetime(2024, 6, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n)


# --- one channel ------------------------------------------------------------------------------


def test_every_message_type_gets_its_kind():
    messages = by_id(GENERAL)
    kinds = {i[-2:]: (m.kind, m.action) for i, m in messages.items()}
    assert kinds == {
        "01": (Kind.SERVICE, "guild_member_join"),
        "02": (Kind.TEXT, None),
        "03": (Kind.TEXT, None),  # Reply
        "04": (Kind.MEDIA, None),
        "05": (Kind.MEDIA, None),  # a photo with a caption, its text
        "06": (Kind.STICKER, None),
        "07": (Kind.OTHER, "bot"),  # embeds only
        "08": (Kind.TEXT, None),  # a Tenor link, shown as its GIF: the link stays text
        "09": (Kind.TEXT, None),
        "10": (Kind.SERVICE, "channel_pinned_message"),
        "11": (Kind.SERVICE, "thread_created"),
        "12": (Kind.SERVICE, "guild_boost"),  # DCE writes unnamed types as numbers
        "13": (Kind.TEXT, "bot"),  # "20": a slash command's reply
        "14": (Kind.TEXT, None),  # forwarded
        "15": (Kind.MEDIA, None),
        "16": (Kind.TEXT, None),
        "17": (Kind.TEXT, None),
        "18": (Kind.TEXT, None),  # text and a sticker
        "19": (Kind.TEXT, None),  # a link with its preview
    }


def test_text_is_the_content_dce_rendered():
    messages = by_id(GENERAL)
    text = {i[-2:]: m.text for i, m in messages.items()}
    assert text["02"] == "hi all! 👋 game night is on for saturday"  # from \uD83D\uDC4B
    assert text["16"] == "@Jonas 🎧 did you read #rules? :owl_wave:"
    assert text["09"] == "ok i'll bring snacks, see you at 8 — or 9?"
    assert text["01"] == "Joined the server."
    assert text["19"] == "look https://example.org/owls"


def test_sender_is_the_nickname_when_there_is_one():
    messages = by_id(GENERAL)
    assert messages["1245000000000000002"].sender == "Mara"  # name "mara.k"
    assert messages["1245000000000000002"].sender_id == "2100000000000000001"
    assert messages["1245000000000000003"].sender == "Jonas 🎧"
    assert messages["1245000000000000004"].sender == "priya"
    assert messages["1245000000000000017"].sender == "Deleted User"


def test_nickname_missing_or_null_falls_back_to_name(tmp_path):
    nameless = author("bo", uid=5)
    nameless["nickname"] = None
    older = author("cy", uid=6)
    del older["nickname"]
    path = write_dce(
        tmp_path / "c.json",
        [dce_message(1, minutes(0), "a", nameless), dce_message(2, minutes(1), "b", older)],
    )
    assert [m.sender for m in read_export(path, source="discord")] == ["bo", "cy"]


def test_media_caption_sticker_embeds_and_bots():
    messages = by_id(GENERAL)
    photo, captioned = messages["1245000000000000004"], messages["1245000000000000005"]
    assert (photo.text, photo.media_type) == ("", "photo")
    assert (captioned.text, captioned.media_type) == ("our setup from last time", "photo")
    assert (photo.kind, captioned.kind) == (Kind.MEDIA, Kind.MEDIA)
    sticker = messages["1245000000000000006"]
    assert (sticker.text, sticker.media_type, sticker.emoji) == ("", "sticker", ":Wave:")
    embed = messages["1245000000000000007"]
    assert embed.sender == "Carl-bot" and embed.media_type == "embed"
    assert embed.text == "Event reminder\nGame night starts **saturday 20:00**"
    gif = messages["1245000000000000008"]
    assert (gif.text, gif.media_type) == (
        "https://tenor.com/view/owl-dance-gif-2315120",
        "animation",
    )
    assert messages["1245000000000000015"].media_type == "voice_message"
    assert messages["1245000000000000018"].text == "see you there"
    assert messages["1245000000000000018"].media_type == "sticker"
    assert messages["1245000000000000013"].text == "🎲 Jonas 🎧 rolled **17**"


def test_replies_forwards_and_edits():
    messages = by_id(GENERAL)
    assert messages["1245000000000000003"].reply_to == "1245000000000000002"
    assert messages["1245000000000000010"].reply_to is None  # a pin's reference is no reply
    forwarded = messages["1245000000000000014"]
    assert forwarded.forwarded_from == "(unknown)" and forwarded.reply_to is None
    assert forwarded.text == "owls are just cats with wings"
    edited = messages["1245000000000000009"]
    assert edited.edited == datetime(2024, 6, 1, 19, 7, 2, 900000, tzinfo=UTC)


def test_timestamps_with_offsets_become_utc():
    dm = by_id(DISCORD / "group_dm.json")
    first = dm["1250000000000000001"]  # 08:15:02.1234567-05:00: seven digits of fraction
    assert first.tz_known and first.timestamp == datetime(
        2024, 7, 10, 13, 15, 2, 123456, tzinfo=UTC
    )
    assert by_id(GENERAL)["1245000000000000002"].timestamp == datetime(
        2024, 6, 1, 19, 0, 15, 867000, tzinfo=UTC
    )
    assert first.to_dict()["timestamp"] == "2024-07-10T13:15:02.123456Z"


def test_group_dm_system_messages_and_call():
    messages = list(read_export(DISCORD / "group_dm.json", source="discord"))
    assert [(m.kind, m.action) for m in messages if m.kind is not Kind.TEXT] == [
        (Kind.SERVICE, "recipient_add"),
        (Kind.SERVICE, "channel_name_change"),
        (Kind.SERVICE, "channel_icon_change"),
        (Kind.CALL, "call"),
        (Kind.SERVICE, "recipient_remove"),
    ]
    first = messages[0]
    assert (first.chat_id, first.chat_name, first.chat_type) == (
        "3200000000000000001",
        "trip planning",
        "DirectGroupTextChat",
    )
    assert messages[4].text == "porto!! 🇵🇹" and messages[6].reply_to == messages[4].id
    assert messages[5].text == "Started a call that lasted 98 minutes."


def test_older_dce_empty_system_texts_and_raw_tokens():
    """DCE 2.x: Discord's own (empty) system content, no reference type, and with
    `--markdown false` raw `<@id>` tokens, rendered where the file says who they are."""
    messages = list(read_export(DISCORD / "old_version.json", source="discord"))
    text = [m.text for m in messages]
    assert text == [
        "Added Vee to the group.",
        "@Vee welcome! :rockon: see #band",
        "thanks @Rin, hi <@4100000000000000002> and <@&4300000000000000001>",
        "Started a call that lasted 45 minutes.",
        "Pinned a message.",
        "Removed otto from the group.",
        ":partyparrot:",
    ]
    assert messages[2].reply_to == messages[1].id
    assert messages[3].kind is Kind.CALL


def test_types_beyond_dce_names(tmp_path):
    messages = [
        dce_message(1, minutes(0), "", type="46"),
        dce_message(2, minutes(1), "/roll", type="23"),
        dce_message(3, minutes(2), "", type="99"),
        dce_message(4, minutes(3), "", type="GuildScheduledEvent"),
        dce_message(5, minutes(4), "hi", type=None),
    ]
    export = read_export(write_dce(tmp_path / "c.json", messages), source="discord")
    got = [(m.kind, m.action) for m in export]
    assert got == [
        (Kind.SERVICE, "poll_result"),
        (Kind.TEXT, None),
        (Kind.SERVICE, "type_99"),
        (Kind.SERVICE, "guild_scheduled_event"),
        (Kind.TEXT, None),
    ]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("IMG_1.JPG", "photo"),
        ("a.webp", "photo"),
        ("funny.gif", "animation"),
        ("clip.MOV", "video_file"),
        ("song.mp3", "audio_file"),
        ("voice-message.ogg", "voice_message"),
        ("report.pdf", "file"),
        ("README", "file"),
    ],
)
def test_media_type_of_attachments(name, media_type):
    assert media_type_of(name) == media_type


def test_link_with_a_titled_preview_stays_text(tmp_path):
    url = "https://www.youtube.com/watch?v=x"
    embed = {"title": "A video", "url": url, "description": "", "video": {"url": url}}
    image = {"title": "", "url": "https://i.example.org/a.png", "description": "", "image": {}}
    path = write_dce(
        tmp_path / "c.json",
        [
            dce_message(1, minutes(0), url, embeds=[embed]),
            dce_message(2, minutes(1), "https://i.example.org/a.png", embeds=[image]),
        ],
    )
    first, second = read_export(path, source="discord")
    assert (first.kind, first.text) == (Kind.TEXT, url)
    assert (second.kind, second.media_type, second.text) == (
        Kind.TEXT,
        "photo",
        "https://i.example.org/a.png",
    )


# --- many files -------------------------------------------------------------------------------


def test_a_folder_of_channels_is_one_chat_each():
    export = read_export(SERVER, source="discord")
    messages = list(export)
    assert export.chats == 3 and export.problems == {}
    assert export.source.label == str(SERVER)
    assert export.source.size == sum(p.stat().st_size for p in SERVER.glob("*.json"))
    assert export.bytes_read == export.source.size
    chats = {}
    for m in messages:
        chats.setdefault(m.chat_id, []).append(m)
    assert {c: (ms[0].chat_name, ms[0].chat_type, len(ms)) for c, ms in chats.items()} == {
        "1100000000000000001": ("general", "GuildTextChat", 19),
        "1100000000000000002": ("memes", "GuildTextChat", 4),
        "1100000000000000003": ("saturday snacks", "GuildPublicThread", 3),
    }
    # a channel's messages come together (its two parts one after the other), oldest first
    order = [m.chat_id for m in messages]
    assert order == sorted(order, key=order.index)
    assert [m.text for m in chats["1100000000000000002"]] == [
        "first meme of the day",
        "peak",
        "morning owls",
        "too early",
    ]


def test_a_zip_of_channels(tmp_path):
    archive = tmp_path / "night_owls.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(SERVER.rglob("*")):
            if path.is_file():
                z.write(path, f"export/{path.relative_to(SERVER)}")
    export = read_export(archive, source="discord")
    assert len(list(export)) == 26 and export.chats == 3
    assert export.source.label == str(archive)


def test_only_dce_files_are_picked():
    candidates = sources_of(SERVER)
    picked = discord_files(candidates)
    assert len(candidates) == 5 and len(picked) == 4  # not the media folder's picture
    assert looks_like_discord(file_source(GENERAL))
    assert not looks_like_discord(file_source(TELEGRAM / "single_chat.json"))


def test_parts_are_read_in_number_order(tmp_path):
    parts = []
    for n in (1, 2, 10):
        name = f"Server - general [900] [part {n}].json"
        parts.append(write_dce(tmp_path / name, [dce_message(n, minutes(n), f"part {n}")]))
    export = read_export(tmp_path, source="discord")
    assert [m.text for m in export] == ["part 1", "part 2", "part 10"]
    assert export.chats == 1


def test_overlapping_exports_of_a_channel_count_each_message_once(tmp_path):
    all_messages = [dce_message(i, minutes(i), f"m{i}") for i in range(1, 8)]
    write_dce(tmp_path / "general (first export).json", all_messages[:5])
    write_dce(tmp_path / "general (second export).json", all_messages[3:])
    write_dce(tmp_path / "other.json", all_messages[:2], channel_id="901", name="other")
    messages = list(read_export(tmp_path, source="discord"))
    assert [m.text for m in messages if m.chat_id == "900"] == [f"m{i}" for i in range(1, 8)]
    assert len([m for m in messages if m.chat_id == "901"]) == 2


def test_newest_first_export_is_read_oldest_first(tmp_path, monkeypatch):
    monkeypatch.setattr(discord, "SPILL_BATCH", 3)  # spill to the temporary file
    messages = [dce_message(i, minutes(i), f"m{i}") for i in range(1, 12)]
    path = write_dce(tmp_path / "reversed.json", list(reversed(messages)))
    export = read_export(path, source="discord")
    assert [m.text for m in export] == [f"m{i}" for i in range(1, 12)]
    assert export.bytes_read == export.source.size


def test_reversed_parts_are_read_oldest_first(tmp_path):
    newest = [dce_message(i, minutes(i), f"m{i}") for i in (6, 5, 4)]
    oldest = [dce_message(i, minutes(i), f"m{i}") for i in (3, 2, 1)]
    write_dce(tmp_path / "c [part 1].json", newest)
    write_dce(tmp_path / "c [part 2].json", oldest)
    messages = read_export(tmp_path, source="discord")
    assert [m.text for m in messages] == [f"m{i}" for i in range(1, 7)]


# --- what goes wrong --------------------------------------------------------------------------


def test_other_dce_formats_are_named(tmp_path):
    html = tmp_path / "html" / "Server - general [900].html"
    html.parent.mkdir()
    html.write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<title>Server - general</title>\n'
        "<style>.chatlog__message-group { margin-bottom: 1rem; }</style>"
    )
    text = tmp_path / "general.txt"
    text.write_text("=" * 62 + "\nGuild: Server\nChannel: Text / general\n" + "=" * 62 + "\n")
    csv = tmp_path / "general.csv"
    csv.write_text('AuthorID,Author,Date,Content,Attachments,Reactions\n"1","a#0001"')
    assert other_dce_format(file_source(html)) == "HTML"
    assert other_dce_format(file_source(text)) == "plain text"
    assert other_dce_format(file_source(csv)) == "CSV"
    assert other_dce_format(file_source(GENERAL)) is None
    for path, kind in ((html.parent, "HTML"), (text, "plain text"), (csv, "CSV")):
        with pytest.raises(TwinchatError, match=rf"DiscordChatExporter's {kind} export.*Json"):
            read_export(path, source="discord")
    with pytest.raises(TwinchatError, match="no DiscordChatExporter export found"):
        read_export(TELEGRAM / "single_chat.json", source="discord")
    with pytest.raises(TwinchatError, match="no such file"):
        read_export(tmp_path / "nope.json", source="discord")


def test_an_export_needs_files():
    with pytest.raises(TwinchatError, match="no DiscordChatExporter exports"):
        DiscordExport([])


def test_json_without_messages(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"guild": {"id": "1"}, "channel": {"id": "2"}, "dateRange": {}}')
    with pytest.raises(TwinchatError, match="not a DiscordChatExporter export"):
        list(read_export(path, source="discord"))


def test_truncated_json_says_which_file_and_where(tmp_path):
    data = GENERAL.read_bytes()
    write_dce(tmp_path / "fine.json", [dce_message(1, minutes(0), "ok")], channel_id="1")
    (tmp_path / "broken.json").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        TwinchatError,
        match=r"broken\.json is not valid JSON near byte [\d,]+ .*export the channel again",
    ):
        list(read_export(tmp_path, source="discord"))


def test_truncated_in_the_header(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(GENERAL.read_bytes()[:300])
    with pytest.raises(TwinchatError, match="not valid JSON"):
        list(read_export(path, source="discord"))


def test_malformed_messages_are_counted_not_fatal(tmp_path):
    good = dce_message(1, minutes(0), "ok")
    messages = [
        good,
        {**good, "id": "2", "timestamp": "yesterday"},
        {**good, "id": "3", "timestamp": None},
        {k: v for k, v in good.items() if k != "id"},
        {**good, "id": "5", "content": 5},
        {**good, "id": "6", "timestamp": "0001-01-01T00:00:00+00:00"},
        {**good, "id": "7", "timestampEdited": "garbage", "author": None, "content": None},
        "not an object",
    ]
    export = read_export(write_dce(tmp_path / "c.json", messages), source="discord")
    got = list(export)
    assert [m.id for m in got] == ["1", "7"]
    assert got[1].edited is None and got[1].sender is None and got[1].text == ""
    assert export.problems == {"malformed message": 6}


def test_channel_without_id_takes_the_id_in_its_file_name(tmp_path):
    path = write_dce(
        tmp_path / "Server - general [123456789].json", [dce_message(1, minutes(0), "x")]
    )
    data = json.loads(path.read_text())
    del data["channel"]["id"]
    path.write_text(json.dumps(data))
    assert next(iter(read_export(path, source="discord"))).chat_id == "123456789"


def test_streaming_reads_one_message_at_a_time(tmp_path):
    """Messages come out before the file has been read to its end."""
    messages = [dce_message(i, minutes(i), "x" * 200) for i in range(1, 5001)]
    export = read_export(write_dce(tmp_path / "big.json", messages), source="discord")
    iterator = iter(export)
    next(iterator)
    assert export.bytes_read < export.source.size / 4
    assert sum(1 for _ in iterator) == 4999


def test_records_serialize():
    """Every message writes as a JSON line and reads back the same."""
    for message in read_export(SERVER, source="discord"):
        record = orjson.loads(message.to_line())
        assert record["platform"] == "discord"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", record["timestamp"])


def test_round_trip(tmp_path):
    people = {}
    messages = []
    zone = timezone(timedelta(hours=-7))  # DCE writes the exporting PC's zone
    for i, line in enumerate(CONVERSATION, 1):
        who = people.setdefault(
            line.sender, author(line.sender.split()[0].lower(), line.sender, uid=len(people) + 1)
        )
        extra = {}
        if line.kind is Kind.MEDIA:
            attachment = {"id": str(500 + i), "url": "https://cdn.discordapp.com/x/photo.jpg"}
            extra["attachments"] = [{**attachment, "fileName": "photo.jpg", "fileSizeBytes": 1}]
        messages.append(dce_message(i, line.time.astimezone(zone), line.text, who, **extra))
    assert_same(read_export(write_dce(tmp_path / "chat.json", messages), source="discord"))


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/samples")
def test_real_sample_from_chat_analytics():
    """A group DM: system types, nickname over name, a reply on a Default message, a call."""
    messages = list(read_export(SAMPLE, source="discord"))
    assert len(messages) == 6
    assert [m.kind for m in messages] == [
        Kind.SERVICE,
        Kind.TEXT,
        Kind.SERVICE,
        Kind.TEXT,
        Kind.TEXT,
        Kind.CALL,
    ]
    assert messages[1].sender == "theplant" and messages[1].sender_id == "333333333333333333"
    assert messages[4].reply_to == messages[1].id
    assert messages[5].text == "Started a call that lasted 113 minutes."
    assert all(m.tz_known and m.chat_type == "DirectGroupTextChat" for m in messages)


def test_byte_order_mark_and_empty_channel(tmp_path):
    path = write_dce(tmp_path / "c.json", [dce_message(1, minutes(0), "hi")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    write_dce(tmp_path / "empty.json", [], channel_id="901")
    export = read_export(tmp_path, source="discord")
    assert [m.text for m in export] == ["hi"]
    assert export.chats == 1  # a channel with no messages is no chat


# --- fuzz -------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=int(os.environ.get("TWINCHAT_FUZZ_EXAMPLES", "150")),  # more for a longer hunt
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
DOC = json.loads(GENERAL.read_text(encoding="utf-8"))
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def read_or_refuse(path: Path) -> tuple[Counter[str], list]:
    """The problems and messages, or none after the one-line user error; never anything else."""
    try:
        export = read_export(path, source="discord")
        messages = list(export)
    except TwinchatError as error:
        assert "\n" not in str(error) and path.name in str(error)
        return Counter(), []
    for message in messages:
        message.to_line()
    return export.problems, messages


@FUZZ
@given(data=st.data())
def test_fuzz_fields_of_messages(tmp_path, data):
    """Any value in any field of a message: a message, or a count of malformed ones."""
    doc = json.loads(json.dumps(DOC))
    for _ in range(data.draw(st.integers(1, 4))):
        message = data.draw(st.sampled_from(doc["messages"]))
        path = [data.draw(st.sampled_from(sorted(message)))]
        target = message
        while isinstance(target[path[-1]], dict) and target[path[-1]] and data.draw(st.booleans()):
            target = target[path[-1]]
            path.append(data.draw(st.sampled_from(sorted(target))))
        target[path[-1]] = data.draw(JSON_VALUES)
    file = tmp_path / "fuzz.json"
    file.write_text(json.dumps(doc), encoding="utf-8")
    problems, messages = read_or_refuse(file)
    assert len(messages) + problems["malformed message"] == len(doc["messages"])


@FUZZ
@given(
    cut=st.integers(0, len(GENERAL.read_bytes())),
    flips=st.lists(
        st.tuples(st.integers(0, len(GENERAL.read_bytes()) - 1), st.integers(0, 255)), max_size=3
    ),
)
def test_fuzz_bytes(tmp_path, cut, flips):
    """Truncated or corrupted files: messages, or the one-line user error."""
    data = bytearray(GENERAL.read_bytes())
    for at, value in flips:
        data[at] = value
    file = tmp_path / "fuzz.json"
    file.write_bytes(bytes(data[:cut]) if cut else bytes(data))
    read_or_refuse(file)
