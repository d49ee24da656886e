"""The iMessage reader: chat.db files built here with sqlite3, as macOS writes them.

pytest tests/test_imessage.py -q
"""

from __future__ import annotations

import json
import sqlite3
import stat
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from roundtrip import CONVERSATION, assert_same

from twinchat.data.message import Kind, Message
from twinchat.data.readers import imessage, read_export
from twinchat.data.readers.imessage import (
    IMessageExport,
    apple_time,
    attributed_text,
    find_imessage,
)
from twinchat.data.readers.source import file_source, sources_of
from twinchat.errors import TwinchatError

EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
T0 = datetime(2024, 3, 1, 9, 15, tzinfo=UTC)

# the tables and columns the reader uses, as recent macOS declares them
TABLES = {
    "handle": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, service TEXT",
    "chat": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER, "
    "chat_identifier TEXT, service_name TEXT, display_name TEXT",
    "message": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, "
    "handle_id INTEGER DEFAULT 0, attributedBody BLOB, date INTEGER, is_from_me INTEGER DEFAULT 0, "
    "cache_has_attachments INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0, "
    "other_handle INTEGER DEFAULT 0, group_title TEXT, group_action_type INTEGER DEFAULT 0, "
    "associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0, "
    "balloon_bundle_id TEXT, is_audio_message INTEGER DEFAULT 0, reply_to_guid TEXT, "
    "thread_originator_guid TEXT, date_edited INTEGER DEFAULT 0, "
    "date_retracted INTEGER DEFAULT 0",
    "chat_message_join": "chat_id INTEGER, message_id INTEGER, message_date INTEGER DEFAULT 0, "
    "PRIMARY KEY (chat_id, message_id)",
    "chat_handle_join": "chat_id INTEGER, handle_id INTEGER, UNIQUE (chat_id, handle_id)",
    "attachment": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, "
    "filename TEXT, mime_type TEXT, transfer_name TEXT, is_sticker INTEGER DEFAULT 0",
    "message_attachment_join": "message_id INTEGER, attachment_id INTEGER",
}
# the message table of an older macOS (10.12): no replies, edits, unsends, audio flags
OLD_MESSAGE = (
    "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, "
    "handle_id INTEGER DEFAULT 0, attributedBody BLOB, date INTEGER, is_from_me INTEGER DEFAULT 0, "
    "cache_has_attachments INTEGER DEFAULT 0, associated_message_type INTEGER DEFAULT 0"
)


def ts_int(n: int, order: str = "little") -> bytes:
    """An integer as typedstream writes it: one byte, or 0x81 + 2 bytes, or 0x82 + 4 bytes."""
    if 0 <= n < 0x80:
        return bytes([n])
    if n < 0x8000:
        return b"\x81" + n.to_bytes(2, order, signed=True)  # type: ignore[arg-type]
    return b"\x82" + n.to_bytes(4, order, signed=True)  # type: ignore[arg-type]


def typedstream(text: str, mutable: bool = False, order: str = "little") -> bytes:
    """An attributedBody as macOS writes it: an NSAttributedString of `text` with one run whose
    attribute is __kIMMessagePartAttributeName = 0 (edited messages: the mutable classes)."""
    data = text.encode("utf-8")
    units = len(text.encode("utf-16-le")) // 2
    signature = b"streamtyped" if order == "little" else b"typedstream"
    if mutable:
        classes = (
            b"\x84\x84\x84\x19NSMutableAttributedString\x00\x84\x84\x12NSAttributedString\x00"
            b"\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x0fNSMutableString\x01"
            b"\x84\x84\x08NSString\x01\x95"
        )
    else:
        classes = (
            b"\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85"
            b"\x92\x84\x84\x84\x08NSString\x01\x94"
        )
    return (
        b"\x04\x0b" + signature + ts_int(1000, order) + b"\x84\x01@" + classes
        + b"\x84\x01+" + ts_int(len(data), order) + data + b"\x86"
        + b"\x84\x02iI\x01" + ts_int(units, order)
        + b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01"
        + b"\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86"
        + b"\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00"
        + b"\x86\x86\x86"
    )  # fmt: skip


def ns(moment: datetime) -> int:
    """`moment` as a chat.db date: nanoseconds since 2001-01-01 UTC."""
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


class ChatDb:
    """A chat.db under construction."""

    def __init__(self, path: Path, tables: dict[str, str] | None = None):
        self.path = path
        self.db = sqlite3.connect(path)
        for name, columns in (tables or TABLES).items():
            self.db.execute(f"CREATE TABLE {name} ({columns})")
        self.columns = {name: self._columns(name) for name in (tables or TABLES)}
        self.count = 0

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def handle(self, id: str) -> int:
        return self.db.execute(
            "INSERT INTO handle (id, service) VALUES (?, 'iMessage')", (id,)
        ).lastrowid  # type: ignore[return-value]

    def chat(self, guid: str, handles: list[int], style: int = 45, name: str | None = None) -> int:
        rowid = self.db.execute(
            "INSERT INTO chat (guid, style, chat_identifier, service_name, display_name) "
            "VALUES (?, ?, ?, 'iMessage', ?)",
            (guid, style, guid.rsplit(";", 1)[-1], name),
        ).lastrowid
        for handle in handles:
            self.db.execute("INSERT INTO chat_handle_join VALUES (?, ?)", (rowid, handle))
        return rowid  # type: ignore[return-value]

    def message(
        self,
        chat: int | None,
        text: str | None = None,
        *,
        at: datetime = T0,
        date: int | None = None,
        attachments: list[dict[str, Any]] = (),  # type: ignore[assignment]
        **columns: Any,
    ) -> str:
        self.count += 1
        guid = columns.pop("guid", f"GUID-{self.count}")
        row = {"guid": guid, "text": text, "date": ns(at) if date is None else date, **columns}
        if attachments and "cache_has_attachments" in self.columns["message"]:
            row["cache_has_attachments"] = 1
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))
        rowid = self.db.execute(
            f"INSERT INTO message ({names}) VALUES ({marks})", tuple(row.values())
        ).lastrowid
        if chat is not None:
            self.db.execute(
                "INSERT INTO chat_message_join (chat_id, message_id) VALUES (?, ?)", (chat, rowid)
            )
        for i, attachment in enumerate(attachments):
            fields = {"guid": f"{guid}-att-{i}", **attachment}
            attachment_id = self.db.execute(
                f"INSERT INTO attachment ({', '.join(fields)}) VALUES "
                f"({', '.join('?' * len(fields))})",
                tuple(fields.values()),
            ).lastrowid
            self.db.execute(
                "INSERT INTO message_attachment_join VALUES (?, ?)", (rowid, attachment_id)
            )
        return guid

    def close(self) -> Path:
        self.db.commit()
        self.db.close()
        return self.path


@pytest.fixture
def chat_db(tmp_path: Path) -> ChatDb:
    return ChatDb(tmp_path / "chat.db")


def one_to_one(db: ChatDb, who: str = "+15551234567") -> tuple[int, int]:
    handle = db.handle(who)
    return db.chat(f"iMessage;-;{who}", [handle]), handle


def read(path: Path, **options: Any) -> tuple[IMessageExport, list[Message]]:
    export = IMessageExport(file_source(path), **options)
    return export, list(export)


# --- messages -------------------------------------------------------------------------------


def test_messages(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(chat, "Hi there", handle_id=handle, guid="A1")
    chat_db.message(chat, "hello!", at=T0 + timedelta(seconds=30), is_from_me=1, guid="A2")
    path = chat_db.close()
    export, (first, second) = read(path)
    assert (first.platform, first.id, first.kind, first.text) == (
        "imessage",
        "A1",
        Kind.TEXT,
        "Hi there",
    )
    assert first.timestamp == T0 and first.timestamp.tzinfo is UTC and first.tz_known
    assert (first.sender, first.sender_id) == ("+15551234567", "+15551234567")
    assert first.chat_id == "iMessage;-;+15551234567"
    assert (first.chat_name, first.chat_type) == ("+15551234567", "personal_chat")
    assert (second.sender, second.sender_id) == ("Me", None)
    assert second.timestamp == T0 + timedelta(seconds=30)
    assert first.reply_to is first.edited is first.media_type is None
    assert export.format == "imessage" and export.chats == 1
    assert not export.problems and not export.tapbacks
    assert export.bytes_read == export.source.size == path.stat().st_size


def test_me_names_own_messages(chat_db):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "mine", is_from_me=1)
    _, (message,) = read(chat_db.close(), me="Alice")
    assert message.sender == "Alice"


def test_received_message_without_handle_takes_the_chats_one_handle(chat_db):
    chat, _ = one_to_one(chat_db, "bob@example.com")
    chat_db.message(chat, "from bob", handle_id=0)
    export, (message,) = read(chat_db.close())
    assert message.sender == message.sender_id == "bob@example.com" and not export.problems


def test_sender_unknown_in_a_group_is_a_problem(chat_db):
    a, b = chat_db.handle("+1555"), chat_db.handle("+1666")
    chat = chat_db.chat("iMessage;+;chat1", [a, b], style=43)
    chat_db.message(chat, "who?", handle_id=0)
    export, (message,) = read(chat_db.close())
    assert message.sender is None and export.problems == {"message without sender": 1}


def test_chats_come_one_after_another_each_in_time_order(chat_db):
    first, _ = one_to_one(chat_db, "+1555")
    a, b = chat_db.handle("+1666"), chat_db.handle("+1777")
    group = chat_db.chat("iMessage;+;chat9", [a, b], style=43, name="Trip")
    chat_db.message(group, "g2", at=T0 + timedelta(minutes=2), handle_id=a)
    chat_db.message(first, "p2", at=T0 + timedelta(minutes=3), is_from_me=1)
    chat_db.message(group, "g1", at=T0, handle_id=b)
    chat_db.message(first, "p1", at=T0 + timedelta(minutes=1), is_from_me=1)
    chat_db.message(group, "g3", at=T0 + timedelta(minutes=2), handle_id=b)  # same time: ROWID
    export, messages = read(chat_db.close())
    assert [m.text for m in messages] == ["p1", "p2", "g1", "g2", "g3"]
    assert [m.chat_name for m in messages[2:]] == ["Trip"] * 3
    assert {m.chat_type for m in messages[2:]} == {"private_group"}
    assert export.chats == 2


def test_unnamed_group_is_named_by_its_handles(chat_db):
    a, b = chat_db.handle("+1555"), chat_db.handle("carol@example.com")
    chat = chat_db.chat("iMessage;+;chat7", [a, b], style=43)
    chat_db.message(chat, "hey all", handle_id=a)
    _, (message,) = read(chat_db.close())
    assert message.chat_name == "+1555, carol@example.com"
    assert message.chat_id == "iMessage;+;chat7"


# --- dates ----------------------------------------------------------------------------------


def test_dates_in_nanoseconds_and_in_seconds(chat_db):
    assert apple_time(0) is None and apple_time(None) is None
    assert apple_time(10**11) == EPOCH + timedelta(seconds=100)  # from 1e11: nanoseconds
    assert apple_time(731_000_000) == EPOCH + timedelta(seconds=731_000_000)  # seconds
    assert apple_time(731_000_000_123_456_789) == EPOCH + timedelta(
        seconds=731_000_000, microseconds=123_456
    )
    chat, _ = one_to_one(chat_db)
    seconds = int((T0 - EPOCH).total_seconds())
    chat_db.message(chat, "old db", date=seconds)
    chat_db.message(chat, "new db", date=ns(T0 + timedelta(minutes=1)))
    _, (old, new) = read(chat_db.close())
    assert old.timestamp == T0 and new.timestamp == T0 + timedelta(minutes=1)


def test_missing_and_impossible_dates_are_problems(chat_db):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "no date", date=0)
    chat_db.message(chat, "before year 1", date=-99_999_999_999)  # seconds, 3000 years back
    export, messages = read(chat_db.close())
    assert [m.timestamp for m in messages] == [None, None]
    assert export.problems == {"message without date": 1, "date out of range": 1}


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "x" * 127,  # the longest one-byte length
        "y" * 300,  # 0x81 and a 2-byte length
        "z" * 70_000,  # 0x82 and a 4-byte length
        "Привет, 你好 🙂 ça va?",
        "",
    ],
)
def test_attributed_body_is_decoded(text):
    assert attributed_text(typedstream(text)) == text
    assert attributed_text(typedstream(text, mutable=True)) == text
    assert attributed_text(typedstream(text, order="big")) == text


def test_attributed_body_that_is_not_a_typedstream():
    assert attributed_text(b"") is None
    assert attributed_text(b"bplist00\x00\x01") is None
    blob = typedstream("hello")
    assert attributed_text(blob[:-40]) == "hello"  # the string is whole; the rest is not needed
    assert attributed_text(blob[: blob.index(b"hello") + 2]) is None  # cut inside the string
    assert attributed_text(blob.replace(b"\x84\x01+", b"\x84\x01*")) is None


def test_text_comes_from_attributed_body_when_text_is_null(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(chat, None, attributedBody=typedstream("from the blob 🍕"), handle_id=handle)
    chat_db.message(chat, "", attributedBody=typedstream("empty text too"), handle_id=handle)
    chat_db.message(chat, "text wins", attributedBody=typedstream("blob"), handle_id=handle)
    export, messages = read(chat_db.close())
    assert [m.text for m in messages] == ["from the blob 🍕", "empty text too", "text wins"]
    assert {m.kind for m in messages} == {Kind.TEXT} and not export.problems


def test_undecodable_attributed_body_is_kept_as_unsupported_and_counted(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(chat, None, attributedBody=b"\x04\x0bstreamtyped garbage", handle_id=handle)
    export, (message,) = read(chat_db.close())
    assert (message.kind, message.text) == (Kind.UNSUPPORTED, "")
    assert export.problems == {"attributedBody not decodable": 1}


def test_text_not_utf8_is_replaced_and_counted(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.db.execute(
        "INSERT INTO message (guid, text, date, handle_id) VALUES ('B', CAST(? AS TEXT), ?, ?)",
        (b"caf\xe9", ns(T0), handle),
    )
    chat_db.db.execute(
        "INSERT INTO chat_message_join (chat_id, message_id) VALUES (?, last_insert_rowid())",
        (chat,),
    )
    export, (message,) = read(chat_db.close())
    assert message.text == "caf\ufffd"
    assert export.problems == {"text not UTF-8 (bytes replaced)": 1}


# --- tapbacks, attachments, replies, events, edits ------------------------------------------


def test_tapbacks_are_not_messages_but_are_counted(chat_db):
    chat, handle = one_to_one(chat_db)
    target = chat_db.message(chat, "funny", handle_id=handle)
    for kind in (2000, 2003, 2003, 3003, 2006):
        chat_db.message(
            chat,
            "Laughed at “funny”",
            is_from_me=1,
            associated_message_type=kind,
            associated_message_guid=f"p:0/{target}",
        )
    export, messages = read(chat_db.close())
    assert [m.text for m in messages] == ["funny"]
    assert export.tapbacks == {"loved": 1, "laughed": 2, "removed": 1, "emoji": 1}
    assert not export.problems and export.bytes_read == export.source.size


def test_attachments_make_media_with_the_caption_as_text(chat_db):
    chat, handle = one_to_one(chat_db)
    photo = {"mime_type": "image/jpeg", "transfer_name": "IMG_0001.HEIC"}
    chat_db.message(chat, "\ufffc", handle_id=handle, attachments=[photo])
    chat_db.message(chat, None, attributedBody=typedstream("\ufffcthe view"), attachments=[photo])
    chat_db.message(chat, "\ufffc", attachments=[{"mime_type": "image/gif"}])
    chat_db.message(chat, "\ufffc", attachments=[{"mime_type": "video/quicktime"}])
    chat_db.message(chat, "\ufffc", is_audio_message=1, attachments=[{"mime_type": "audio/x-caf"}])
    chat_db.message(chat, "\ufffc", attachments=[{"mime_type": "audio/mpeg"}])
    chat_db.message(chat, "\ufffc", attachments=[{"transfer_name": "report.pdf"}])
    chat_db.message(chat, None, attachments=[{"mime_type": "image/png", "is_sticker": 1}])
    chat_db.message(chat, "\ufffc", attachments=[{"mime_type": "text/vcard"}])
    chat_db.message(chat, "\ufffc", attachments=[{"mime_type": "text/x-vlocation"}])
    chat_db.message(chat, "\ufffc\ufffctwo", attachments=[photo, {"mime_type": "video/mp4"}])
    export, messages = read(chat_db.close())
    assert [(m.kind, m.media_type, m.text) for m in messages] == [
        (Kind.MEDIA, "photo", ""),
        (Kind.MEDIA, "photo", "the view"),
        (Kind.MEDIA, "animation", ""),
        (Kind.MEDIA, "video_file", ""),
        (Kind.MEDIA, "voice_message", ""),
        (Kind.MEDIA, "audio_file", ""),
        (Kind.MEDIA, "file", ""),
        (Kind.STICKER, "sticker", ""),
        (Kind.CONTACT, "contact", ""),
        (Kind.LOCATION, "location", ""),
        (Kind.MEDIA, "photo", "two"),  # the first attachment decides
    ]
    assert not export.problems


def test_message_without_text_or_attachment_is_unsupported(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(chat, None, handle_id=handle)
    _, (message,) = read(chat_db.close())
    assert (message.kind, message.text) == (Kind.UNSUPPORTED, "")


def test_app_messages_are_other_and_link_previews_text(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(
        chat,
        "https://example.com",
        handle_id=handle,
        balloon_bundle_id="com.apple.messages.URLBalloonProvider",
    )
    chat_db.message(
        chat,
        "\ufffc",
        handle_id=handle,
        balloon_bundle_id="com.apple.messages.MSMessageExtensionBalloonPlugin:0000:com.x.game",
    )
    _, (link, game) = read(chat_db.close())
    assert (link.kind, link.text) == (Kind.TEXT, "https://example.com")
    assert game.kind == Kind.OTHER


def test_inline_replies_point_at_the_thread_originator(chat_db):
    chat, handle = one_to_one(chat_db)
    first = chat_db.message(chat, "lunch?", handle_id=handle)
    chat_db.message(chat, "sure", is_from_me=1, thread_originator_guid=first, reply_to_guid=first)
    chat_db.message(chat, "where", is_from_me=1, reply_to_guid="GUID-2")  # just the one before
    _, (_, reply, plain) = read(chat_db.close())
    assert reply.reply_to == first and plain.reply_to is None


def test_group_events_are_service_messages(chat_db):
    alice, bob, carol = (chat_db.handle(h) for h in ("+1555", "+1666", "+1777"))
    chat = chat_db.chat("iMessage;+;chat3", [alice, bob], style=43, name="Trip")
    chat_db.message(
        chat, None, handle_id=alice, item_type=1, group_action_type=0, other_handle=carol
    )
    chat_db.message(chat, None, is_from_me=1, item_type=1, group_action_type=1, other_handle=carol)
    chat_db.message(chat, None, handle_id=bob, item_type=2, group_title="Rome 2024")
    chat_db.message(chat, None, handle_id=bob, item_type=3, group_action_type=0)
    chat_db.message(chat, None, handle_id=alice, item_type=3, group_action_type=1)
    chat_db.message(chat, None, handle_id=alice, item_type=6)
    export, messages = read(chat_db.close())
    assert [(m.kind, m.action, m.sender, m.text) for m in messages] == [
        (Kind.SERVICE, "add", "+1555", "+1555 added +1777"),
        (Kind.SERVICE, "remove", "Me", "Me removed +1777"),
        (Kind.SERVICE, "title", "+1666", "+1666 named the conversation “Rome 2024”"),
        (Kind.SERVICE, "leave", "+1666", "+1666 left the conversation"),
        (Kind.SERVICE, "photo", "+1555", "+1555 changed the group photo"),
        (Kind.SERVICE, "other", "+1555", ""),
    ]
    assert not export.problems


def test_edited_and_unsent_messages(chat_db):
    chat, handle = one_to_one(chat_db)
    edit = T0 + timedelta(minutes=2)
    chat_db.message(
        chat,
        None,
        attributedBody=typedstream("fixed typo", mutable=True),
        handle_id=handle,
        date_edited=ns(edit),
    )
    chat_db.message(chat, None, handle_id=handle, date_retracted=ns(edit))
    _, (edited, unsent) = read(chat_db.close())
    assert (edited.kind, edited.text, edited.edited) == (Kind.TEXT, "fixed typo", edit)
    assert (unsent.kind, unsent.text) == (Kind.DELETED, "")


def test_older_schema_without_optional_columns_and_tables(tmp_path):
    tables = {
        "handle": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, service TEXT",
        "chat": "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, "
        "chat_identifier TEXT",
        "message": OLD_MESSAGE,
        "chat_message_join": "chat_id INTEGER, message_id INTEGER",
    }
    db = ChatDb(tmp_path / "chat.db", tables)
    handle = db.handle("+1555")
    chat = db.db.execute(
        "INSERT INTO chat (guid, chat_identifier) VALUES ('SMS;-;+1555', '+1555')"
    ).lastrowid
    seconds = int((T0 - EPOCH).total_seconds())
    db.message(chat, "old times", date=seconds, handle_id=handle)
    db.message(chat, "\ufffc", date=seconds + 60, is_from_me=1, attachments=[])
    db.db.execute("UPDATE message SET cache_has_attachments = 1 WHERE text = '\ufffc'")
    db.message(chat, "tapback", date=seconds + 90, associated_message_type=2001)
    export, messages = read(db.close())
    assert [(m.text, m.kind, m.media_type) for m in messages] == [
        ("old times", Kind.TEXT, None),
        ("", Kind.MEDIA, "file"),
    ]
    assert messages[0].timestamp == T0 and messages[0].chat_name == "+1555"
    assert messages[0].chat_type == "personal_chat"
    assert export.tapbacks == {"liked": 1} and not export.problems


def test_messages_in_no_chat_are_counted(chat_db):
    chat, handle = one_to_one(chat_db)
    chat_db.message(chat, "in a chat", handle_id=handle)
    chat_db.message(None, "lost", handle_id=handle)
    export, messages = read(chat_db.close())
    assert [m.text for m in messages] == ["in a chat"]
    assert export.problems == {"message in no chat (not read)": 1}


# --- errors ---------------------------------------------------------------------------------


def test_sqlite_file_that_is_not_a_messages_database(tmp_path):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE note (id INTEGER, body TEXT)")
    db.close()
    with pytest.raises(TwinchatError, match=r"not Apple Messages'.*~/Library/Messages/chat.db"):
        read(path)


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "chat.db"
    path.write_text("not a database at all, just some text " * 200)
    with pytest.raises(TwinchatError, match="not a SQLite database; copy"):
        read(path)


def test_locked_database_names_the_fix(chat_db, monkeypatch):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "hi")
    path = chat_db.close()
    monkeypatch.setattr(imessage, "BUSY_TIMEOUT_S", 0.0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TwinchatError, match="locked.*quit Messages, or copy chat.db"):
            read(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_database_is_never_written(chat_db):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "hi")
    path = chat_db.close()
    before = path.read_bytes()
    read(path)
    assert path.read_bytes() == before


def test_a_folder_without_a_database_names_the_fix(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TwinchatError, match="no Messages database found"):
        read_export(tmp_path, source="imessage")


# --- detection ------------------------------------------------------------------------------


def test_found_by_name_and_by_content(tmp_path, chat_db):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "hi")
    path = chat_db.close()
    assert find_imessage(sources_of(path)).label == str(path)
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "readme.txt").write_text("my messages")
    renamed = folder / "messages-2024.sqlite"
    renamed.write_bytes(path.read_bytes())
    assert find_imessage(sources_of(folder)).label == str(renamed)
    assert [m.text for m in read_export(folder, source="imessage")] == ["hi"]


def test_not_found_in_other_exports(tmp_path, write_export):
    telegram = write_export([{"id": 1, "type": "message", "text": "hi"}])
    assert find_imessage(sources_of(telegram)) is None
    whatsapp = tmp_path / "WhatsApp Chat with Bob.txt"
    whatsapp.write_text("12/01/2024, 09:15 - Bob: hi\n", encoding="utf-8")
    assert find_imessage(sources_of(whatsapp)) is None
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"messages": [], "handle": 1}))
    assert find_imessage(sources_of(data)) is None
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE message (id INTEGER)")  # a message table but no handle table
    db.close()
    assert find_imessage(sources_of(other)) is None


def test_database_in_a_zip_is_read_from_a_private_copy_removed_afterwards(
    tmp_path, chat_db, monkeypatch
):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "zipped", is_from_me=1)
    chat_db.message(chat, "twice", is_from_me=1, at=T0 + timedelta(minutes=1))
    path = chat_db.close()
    archive = tmp_path / "backup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes/readme.txt", "hello")
        zf.write(path, "Messages/chat.db")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    found = find_imessage(sources_of(archive))
    assert found is not None and found.label == f"{archive}!Messages/chat.db"
    assert not any(temp.iterdir())
    export = IMessageExport(found)
    messages = iter(export)
    assert next(messages).text == "zipped"
    (folder,) = temp.iterdir()
    (copy,) = folder.iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    messages.close()  # stopped early: the copy goes all the same
    assert not any(temp.iterdir())
    assert [m.text for m in export] == ["zipped", "twice"]
    assert not any(temp.iterdir())


def test_sqlite_in_a_zip_found_by_content(tmp_path, chat_db, monkeypatch):
    chat, _ = one_to_one(chat_db)
    chat_db.message(chat, "hi")
    path = chat_db.close()
    archive = tmp_path / "backup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(path, "sms.sqlite")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    found = find_imessage(sources_of(archive))
    assert found is not None and found.label.endswith("!sms.sqlite")


# --- round trip -----------------------------------------------------------------------------


def test_round_trip(tmp_path):
    """CONVERSATION written as macOS would: Bob is the owner (is_from_me, read with me="Bob"),
    Alice and Chen are handles whose ids are their names; every other row has only an
    attributedBody; the photos are attachments with U+FFFC in the text."""
    db = ChatDb(tmp_path / "chat.db")
    handles = {name: db.handle(name) for name in ("Alice Martin", "Chen Wei")}
    chat = db.chat("iMessage;+;chat42", list(handles.values()), style=43, name="Friends")
    for i, line in enumerate(CONVERSATION):
        text = line.text
        attachments = []
        if line.kind is Kind.MEDIA:
            text = "\ufffc" + text
            attachments = [{"mime_type": "image/jpeg", "transfer_name": f"IMG_{i}.jpeg"}]
        columns: dict[str, Any] = {"at": line.time, "attachments": attachments}
        if line.sender == "Bob":
            columns["is_from_me"] = 1
        else:
            columns["handle_id"] = handles[line.sender]
        if i % 2:
            db.message(chat, None, attributedBody=typedstream(text), **columns)
        else:
            db.message(chat, text, attributedBody=typedstream(text), **columns)
    export, messages = read(db.close(), me="Bob")
    assert_same(messages)
    assert {m.chat_name for m in messages} == {"Friends"}
    assert not export.problems and export.chats == 1


@pytest.mark.parametrize(
    "dropped",
    [("chat",), ("chat", "chat_handle_join"), ("chat", "chat_handle_join", "chat_message_join")],
)
def test_a_trimmed_copy_without_a_chat_table_is_read(tmp_path, dropped):
    """Tools and tests trim chat.db to message, handle and chat_message_join, or less; in a
    one-to-one chat even the owner's messages carry the other person's handle_id."""
    db = ChatDb(tmp_path / "chat.db")
    chat, handle = one_to_one(db, "+15557654321")
    db.message(chat, "are you there?", handle_id=handle)
    db.message(chat, "yes, on my way", is_from_me=1, handle_id=handle, at=T0 + timedelta(minutes=1))
    db.message(chat, "great", handle_id=handle, at=T0 + timedelta(minutes=2))
    for table in dropped:
        db.db.execute(f"DROP TABLE {table}")
    export, messages = read(db.close())
    assert [(m.sender, m.text) for m in messages] == [
        ("+15557654321", "are you there?"),
        ("Me", "yes, on my way"),
        ("+15557654321", "great"),
    ]
    assert export.chats == 1 and not export.problems
    assert {m.chat_name for m in messages} == {"+15557654321"}
    assert {m.chat_type for m in messages} == {"personal_chat"}
