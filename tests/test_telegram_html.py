"""Telegram Desktop's HTML export: pages in order, joined messages, replies, forwards, media,
notices, old exports without a zone, and the round trip."""

from __future__ import annotations

import html
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from roundtrip import CONVERSATION, assert_same

from twinchat import Kind, TwinchatError, read_export

EXPORT = FIXTURES / "telegram_html" / "ChatExport_2024-03-02"


def read(path: Path) -> tuple:
    export = read_export(path)
    return export, list(export)


def test_a_two_page_export():
    export, messages = read(EXPORT)
    assert (export.format, export.chats) == ("telegram", 1) and not export.problems
    assert [(m.id, m.sender, m.text, m.kind) for m in messages] == [
        ("1", None, "Ann created group «Weekend & Trip»", Kind.SERVICE),
        ("2", "Ann Lee", "Morning! Are we still on?\n8pm <sharp>", Kind.TEXT),
        ("3", "Ann Lee", "the view", Kind.MEDIA),  # joined: the sender is the one before
        ("4", "Bob", "yes, see https://example.com/a?b=1&c=2", Kind.TEXT),
        ("5", "Bob", "", Kind.STICKER),  # the first of messages2.html, joined to page one's
        ("6", "Ann Lee", "old news", Kind.TEXT),
    ]
    assert messages[1].timestamp == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert (messages[3].reply_to, messages[5].forwarded_from) == ("2", "Carl Smith")
    assert messages[0].timestamp == datetime(2024, 3, 1)  # a notice: its day's start
    assert {m.chat_name for m in messages} == {"Weekend & Trip"}


def test_one_page_named_alone_and_a_zip_of_the_folder(tmp_path):
    _, page = read(EXPORT / "messages2.html")
    assert [m.id for m in page] == ["5", "6"]
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(EXPORT.iterdir(), reverse=True):
            out.write(path, f"ChatExport_2024-03-02/{path.name}")
    _, messages = read(archive)
    assert [m.id for m in messages] == ["1", "2", "3", "4", "5", "6"]


def test_pages_are_read_in_number_order(tmp_path):
    folder = tmp_path / "ChatExport"
    folder.mkdir()
    for number in (1, 2, 10):
        name = "messages.html" if number == 1 else f"messages{number}.html"
        (folder / name).write_text(page([message(number, "Ann", str(number))]), "utf-8")
    _, messages = read(folder)
    assert [m.text for m in messages] == ["1", "2", "10"]


def test_an_old_export_without_a_zone_is_local_time(tmp_path):
    path = tmp_path / "messages.html"
    path.write_text(page([message(7, "Ann", "hi", title="05.01.2019 23:59:00")]), "utf-8")
    _, messages = read(path)
    assert (messages[0].timestamp, messages[0].tz_known) == (datetime(2019, 1, 5, 23, 59), False)


def test_a_message_without_a_date_is_counted(tmp_path):
    path = tmp_path / "messages.html"
    body = message(7, "Ann", "hi").replace('title="', 'data-x="')
    export, messages = read_path(path, page([body]))
    assert [m.text for m in messages] == ["hi"]
    assert export.problems == {"message without a readable date": 1}


def read_path(path: Path, text: str) -> tuple:
    path.write_text(text, "utf-8")
    return read(path)


def test_another_html_file_is_not_taken_for_telegram(tmp_path):
    path = tmp_path / "messages.html"
    path.write_text("<html><body><p>hello</p></body></html>", "utf-8")
    with pytest.raises(TwinchatError, match="not a chat export twinchat can read"):
        read_export(path)


def page(messages: list[str], chat: str = "Plans") -> str:
    return (
        '<!DOCTYPE html>\n<html>\n <head>\n  <meta charset="utf-8"/>\n<title>Exported Data</title>'
        '\n </head>\n <body>\n  <div class="page_wrap">\n   <div class="page_header">\n'
        f'    <div class="content">\n     <div class="text bold">\n{html.escape(chat)}\n'
        '     </div>\n    </div>\n   </div>\n   <div class="page_body chat_page">\n'
        '    <div class="history">\n' + "".join(messages) + "    </div>\n   </div>\n  </div>\n"
        " </body>\n</html>\n"
    )


def message(
    number: int,
    sender: str,
    text: str,
    title: str = "01.03.2024 10:00:00 UTC+01:00",
    media: bool = False,
) -> str:
    body = html.escape(text).replace("\n", "<br>")
    wrap = (
        '       <div class="media_wrap clearfix">\n        <a class="photo_wrap clearfix '
        f'pull_left" href="photos/photo_{number}.jpg">\n         <img class="photo" '
        f'src="photos/photo_{number}_thumb.jpg"/>\n        </a>\n       </div>\n'
        if media
        else ""
    )
    words = f'       <div class="text">\n{body}\n       </div>\n' if text else ""
    return (
        f'     <div class="message default clearfix" id="message{number}">\n'
        f'      <div class="body">\n       <div class="pull_right date details" title="{title}">'
        f'\n{title[11:16]}\n       </div>\n       <div class="from_name">\n'
        f"{html.escape(sender)} \n       </div>\n{wrap}{words}      </div>\n     </div>\n"
    )


def test_round_trip_of_every_readers_conversation(tmp_path):
    written = [
        message(
            n + 1,
            line.sender,
            line.text,
            title=f"{line.time:%d.%m.%Y %H:%M:%S} UTC+00:00",
            media=line.kind == Kind.MEDIA,
        )
        for n, line in enumerate(CONVERSATION)
    ]
    folder = tmp_path / "ChatExport_2024-03-02"
    folder.mkdir()
    (folder / "messages.html").write_text(page(written[:5]), "utf-8")
    (folder / "messages2.html").write_text(page(written[5:]), "utf-8")
    export, messages = read(folder)
    assert_same(messages, CONVERSATION)
    assert not export.problems and {m.chat_name for m in messages} == {"Plans"}


def test_a_message_sent_through_an_inline_bot_is_the_persons(tmp_path):
    """A 2017 export (itzmeanjan/tgnize's Devs Chat) writes the inline bot after the name,
    `Kim  via @ShrugBot` (two spaces: a name without a last name ends in one); the sender is
    Kim, and a joined message after it too."""

    def block(number: int, name: str | None, text: str) -> str:
        joined = " joined" if name is None else ""
        who = (
            '      <div class="pull_left userpic_wrap">\n\n       <div class="userpic userpic7" '
            'style="width: 42px; height: 42px">\n\n        <div class="initials" '
            'style="line-height: 42px">\nK\n        </div>\n\n       </div>\n\n      </div>\n\n'
            if name
            else ""
        )
        name_div = f'       <div class="from_name">\n{name}\n       </div>\n\n' if name else ""
        return (
            f'     <div class="message default clearfix{joined}" id="message{number}">\n\n'
            f'{who}      <div class="body">\n\n       <div class="pull_right date details" '
            'title="26.08.2017 17:22:17">\n17:22\n       </div>\n\n'
            f'{name_div}       <div class="text">\n{text}\n       </div>\n\n      </div>\n\n'
            "     </div>\n\n"
        )

    path = tmp_path / "messages.html"
    blocks = [
        block(1, "Kim ", "hello"),
        block(2, "Kim  via @ShrugBot", "¯\\_(ツ)_/¯"),
        block(3, None, "in ddg"),
        block(4, "Lee Park via @gif", "This one"),
    ]
    _, messages = read_path(path, page(blocks))
    assert [(m.sender, m.text) for m in messages] == [
        ("Kim", "hello"),
        ("Kim", "¯\\_(ツ)_/¯"),
        ("Kim", "in ddg"),
        ("Lee Park", "This one"),
    ]
