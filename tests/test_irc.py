"""The IRC reader: the Ubuntu IRC corpus layout, on own fixtures and, when present, the corpus."""

from __future__ import annotations

import time
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED, TELEGRAM
from roundtrip import CONVERSATION as EVERY_READER
from roundtrip import assert_same

from twinchat.data.message import Kind, Message
from twinchat.data.readers.irc import IrcExport, file_date, irc_logs, looks_like_irc
from twinchat.data.readers.source import file_source, sources_of
from twinchat.errors import TwinchatError

IRC = FIXTURES / "irc"
CORPUS = SHARED / "corpora" / "ubuntu-irc"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "train").is_dir(), reason=f"the ubuntu-irc corpus is not at {CORPUS}"
)


def write_log(folder: Path, name: str, lines: list[str] | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path.write_bytes(text.encode("utf-8"))
    return path


def open_logs(path: Path, **options) -> IrcExport:
    """The Ubuntu-corpus-style logs at `path`, opened as `read_export` opens them."""
    logs = irc_logs(sources_of(path))
    return IrcExport(logs, label=str(path) if len(logs) > 1 else None, **options)


def read(path: Path, **options) -> tuple[IrcExport, list[Message]]:
    export = open_logs(path, **options)
    return export, list(export)


def assert_in_time_order(messages: list[Message]) -> None:
    for a, b in pairwise(messages):
        assert a.timestamp is not None and b.timestamp is not None
        assert a.timestamp <= b.timestamp, (a, b)


def test_messages(tmp_path):
    path = write_log(
        tmp_path / "logs",
        "2004-12-25.raw.txt",
        ["[09:14] <crimsun> kleedrac: I'm afraid not", "[09:16] <@Kleedrac> crimsun: Hmmm ..."],
    )
    export, messages = read(path)
    first, second = messages
    assert (first.platform, first.kind, first.sender, first.sender_id) == (
        "irc",
        Kind.TEXT,
        "crimsun",
        "crimsun",
    )
    assert first.text == "kleedrac: I'm afraid not"
    assert first.id == "2004-12-25.raw.txt:0" and second.id == "2004-12-25.raw.txt:1"
    assert first.timestamp == datetime(2004, 12, 25, 9, 14) and not first.tz_known
    assert first.chat_id == first.chat_name == "logs"  # no channel named: the folder's name
    assert first.chat_type == "irc_channel" and first.action is None
    assert (second.sender, second.sender_id) == ("Kleedrac", "kleedrac")  # op mark dropped
    assert export.format == "irc" and export.chats == 1 and not export.problems
    assert export.bytes_read == export.source.size == path.stat().st_size


def test_actions_in_both_styles():
    _, messages = read(IRC / "late" / "2013-02-24.raw.txt")
    wave = next(m for m in messages if m.action == "me")
    assert (wave.kind, wave.sender, wave.text) == (Kind.TEXT, "bob", "waves")
    _, early = read(IRC / "early" / "2005-06-12.raw.txt")
    looks = next(m for m in early if m.action == "me")  # `=== nick does x`
    assert (looks.kind, looks.sender, looks.text) == (Kind.TEXT, "bob[w]", "looks it up")


def test_joins_quits_and_other_events_are_service_messages():
    export, messages = read(IRC / "early" / "2005-06-12.raw.txt")
    service = [(m.action, m.sender, m.text) for m in messages if m.kind is Kind.SERVICE]
    assert service == [
        ("join", "alice", "alice has joined #ubuntu"),
        ("rename", "carol", "carol is now known as carol_"),
        ("mode", "ChanServ", "mode/#ubuntu [+o dave] by ChanServ"),
        ("topic", "dave", "..[topic/#ubuntu:dave]: Official Ubuntu support | be nice"),
        ("leave", "eve", 'eve has left #ubuntu ["Leaving"]'),
        ("kick", "dave", "mallory was kicked off #ubuntu by dave (flood)"),
        ("netjoin", None, "netjoined: irc.example.net -> leaf.example.net"),
    ]
    assert not export.problems and {m.chat_id for m in messages} == {"#ubuntu"}


def test_renames_are_counted(tmp_path):
    path = write_log(
        tmp_path,
        "2010-08-05.log",
        [
            "[08:30] <slidinghorn_> hi",
            "=== slidinghorn_ is now known as slidinghorn",
            "=== cricket[] is now known as cricket[",
            "[08:31] <slidinghorn> back",
        ],
    )
    _, messages = read(path)
    renames = [m for m in messages if m.action == "rename"]
    assert len(renames) == 2 and all(m.kind is Kind.SERVICE for m in renames)
    assert [m.sender for m in renames] == ["slidinghorn_", "cricket[]"]
    assert [m.text for m in messages if m.kind is Kind.TEXT] == ["hi", "back"]


def test_early_logs_extra_space_after_brackets_is_taken_out():
    _, messages = read(IRC / "early" / "2005-06-12.raw.txt")
    texts = {m.sender: m.text for m in messages if m.kind is Kind.TEXT and m.action is None}
    assert texts["bob[w]"] == "alice: which chipset?"
    assert messages[1].text == "hi all, my wifi card[1] is not found"
    assert texts["dave"] == "welcome back"


def test_later_logs_keep_brackets_as_written():
    export, messages = read(IRC / "late" / "2013-02-24.raw.txt")
    assert messages[0].text == "the kernel says [ 12.345] sr 1:0:0:0: [sr0] Sense Key"
    notice = next(m for m in messages if m.action == "notice")
    assert (notice.kind, notice.sender, notice.text) == (Kind.SERVICE, "spammer", "buy cheap stuff")
    relayed = next(m for m in messages if m.sender == "soundray")
    assert (relayed.kind, relayed.text) == (Kind.TEXT, "carol: hi")
    assert next(m for m in messages if m.text == "happy new day").sender == "carol"
    assert export.problems == {"unparsed line": 1}
    assert messages[0].chat_id == "late"  # no join, mode, topic or kick line names it


def test_one_bracket_with_two_spaces_does_not_make_an_early_log(tmp_path):
    lines = ["[09:41] <j> thank you :]  I feel better", "[09:42] <j> [sudo] password for j:"]
    _, messages = read(write_log(tmp_path, "2010-10-17.log", lines))
    assert [m.text for m in messages] == ["thank you :]  I feel better", "[sudo] password for j:"]


def test_clock_wrap_adds_a_day():
    _, messages = read(IRC / "late" / "2013-02-24.raw.txt")
    minutes = [m.timestamp.replace(second=0) for m in messages if m.kind is Kind.TEXT]
    assert minutes[0] == datetime(2013, 2, 24, 23, 57)
    assert minutes[-1] == datetime(2013, 2, 25, 0, 2)
    assert_in_time_order(messages)


def test_twelve_hour_clock_wraps_by_twelve_hours(tmp_path):
    _, messages = read(IRC / "early" / "2005-06-12.raw.txt")
    at = {m.text: m.timestamp for m in messages}
    assert at["bcm43xx i think"].replace(second=0) == datetime(2005, 6, 12, 12, 59)
    assert at["thanks!"].replace(second=0) == datetime(2005, 6, 12, 13, 3)  # `[01:03]`
    path = write_log(
        tmp_path, "2006-01-02.log", ["[11:59] <a> x", "[00:00] <b> y", "[00:01] <a> z"]
    )
    _, messages = read(path)
    assert [m.timestamp for m in messages] == [
        datetime(2006, 1, 2, 11, 59),
        datetime(2006, 1, 2, 12, 0),
        datetime(2006, 1, 2, 12, 1),
    ]


def test_a_small_step_back_is_not_a_wrap(tmp_path):
    lines = ["[13:05] <a> x", "[13:04] <b> y", "[13:06] <a> z"]
    _, messages = read(write_log(tmp_path, "2020-05-01.log", lines))
    assert [m.timestamp.replace(second=0) for m in messages] == [
        datetime(2020, 5, 1, 13, 5),
        datetime(2020, 5, 1, 13, 5),
        datetime(2020, 5, 1, 13, 6),
    ]


def test_seconds_spread_within_a_minute(tmp_path):
    path = write_log(
        tmp_path,
        "2020-05-01.log",
        [
            "=== early [~e@h]  has joined #c",  # before any time: the first line's
            "[14:00] <a> one",
            "[14:00] <b> two",
            "=== b [~b@h]  has left #c []",  # no time: the line before's
            "[14:01] <a> three",
        ],
    )
    _, messages = read(path)
    assert [m.timestamp.second for m in messages] == [0, 15, 30, 45, 0]
    assert [m.timestamp.minute for m in messages] == [0, 0, 0, 0, 1]
    assert all(m.epoch == Message.from_dict(m.to_dict()).epoch for m in messages)


def test_date_comes_from_the_file_name(tmp_path):
    assert file_date("2004-12-25.train-c.raw.txt") == date(2004, 12, 25)
    assert file_date("2004-11-15_03.raw.txt") == date(2004, 11, 15)
    assert file_date("#ubuntu_20041225.log") == date(2004, 12, 25)
    assert file_date("v2-2019-13-45-2020-02-29.log") == date(2020, 2, 29)  # first valid date
    assert file_date("notes.txt") is None
    path = write_log(tmp_path, "channel.log", ["[10:00] <a> hi"])
    with pytest.raises(TwinchatError, match="date of an IRC log comes from its file name"):
        open_logs(path)


def two_days(folder: Path) -> None:
    # written in the wrong order, beside a corpus annotation file that is no log
    write_log(
        folder,
        "2024-03-02.raw.txt",
        ["=== bob [~bob@h]  has joined #chan", "[09:00] <bob> morning", "[09:01] <ann> hi bob"],
    )
    write_log(folder, "2024-03-01.raw.txt", ["[22:00] <ann> evening", "[22:05] <bob> night"])
    write_log(folder, "2024-03-01.annotation.txt", ["0 0 -", "0 1 -"])


def test_a_folder_is_read_day_by_day(tmp_path):
    two_days(tmp_path / "logs")
    export, messages = read(tmp_path / "logs")
    assert [m.text for m in messages if m.kind is Kind.TEXT] == [
        "evening",
        "night",
        "morning",
        "hi bob",
    ]
    assert_in_time_order(messages)
    assert {m.chat_id for m in messages} == {"#chan"}  # named on day 2, for day 1 too
    assert export.chats == 1 and not export.problems
    assert export.source.label == str(tmp_path / "logs")
    assert export.bytes_read == export.source.size
    day1, day2 = (tmp_path / "logs" / f"2024-03-0{d}.raw.txt" for d in (1, 2))
    with export.source.open() as stream:  # the folder as one stream, in reading order
        assert stream.read() == day1.read_bytes() + day2.read_bytes()


def test_a_zip_reads_like_its_folder(tmp_path):
    two_days(tmp_path / "logs")
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((tmp_path / "logs").iterdir(), reverse=True):
            out.write(path, f"logs/{path.name}")
    _, from_zip = read(archive)
    _, from_folder = read(tmp_path / "logs")
    assert [m.to_dict() for m in from_zip] == [m.to_dict() for m in from_folder]


def test_channel_option_and_overlapping_files(tmp_path):
    folder = tmp_path / "x"
    write_log(folder, "2024-03-01.log", ["[23:50] <a> late", "[00:30] <b> after midnight"])
    write_log(folder, "2024-03-02.log", ["[00:10] <a> the next log starts earlier"])
    _, messages = read(folder, channel="#mine", utc=True)
    assert {m.chat_id for m in messages} == {"#mine"}
    assert all(m.tz_known and m.timestamp.tzinfo is UTC for m in messages)
    assert_in_time_order(messages)  # the overlap is moved to the end of the previous file
    assert (
        messages[-1].timestamp > messages[-2].timestamp == datetime(2024, 3, 2, 0, 30, tzinfo=UTC)
    )
    assert all(m.epoch == m.timestamp.timestamp() for m in messages)


def test_unparsed_lines_are_counted(tmp_path):
    path = write_log(
        tmp_path,
        "2020-05-01.log",
        [
            "[10:00] <a> fine",
            "random words",
            "[10:01] something odd",
            "=== Erlik      <debian> by <erlik>",
            "[99:99] <a> no such time",
            "",
            "[10:02] <b> fine too",
        ],
    )
    export = IrcExport([file_source(path)])  # too odd for looks_like_irc, read anyway
    messages = list(export)
    assert [m.text for m in messages] == ["fine", "fine too"]
    assert export.problems == {"unparsed line": 4}


def test_formatting_codes_and_encodings(tmp_path):
    path = tmp_path / "2020-05-01.log"
    path.write_bytes(
        b"[10:00] <a> \x02bold\x02 and \x0304,01red\x03 and \x1ditalic\x1d\n"
        + "[10:01] <b> caf\xe9 \u2019\n".encode("cp1252")
        + b"[10:02] <c> ok\x1cok\n"
    )
    export, messages = read(path)
    assert [m.text for m in messages] == ["bold and red and italic", "café \u2019", "okok"]
    assert export.problems == {"line not UTF-8 (read as cp1252)": 1}


def test_looks_like_irc(tmp_path):
    for path in (IRC / "early" / "2005-06-12.raw.txt", IRC / "late" / "2013-02-24.raw.txt"):
        assert looks_like_irc(file_source(path))
    negatives = {
        "result.json": (TELEGRAM / "single_chat.json").read_text(encoding="utf-8"),
        "notes.txt": "Shopping list\n- milk\n- [x] eggs\n\nCall mum at 10:00\n",
        "heading.md": "=== Title ===\n\nSome text.\n=== Another ===\n",
        "2024-03-01.annotation.txt": "1000 1000 -\n1000 1001 -\n",
        "empty.txt": "",
    }
    for name, text in negatives.items():
        assert not looks_like_irc(file_source(write_log(tmp_path, name, text))), name
    assert [s.label for s in irc_logs(sources_of(tmp_path))] == []


def test_round_trip_of_a_written_conversation(tmp_path):
    turns = [
        ("Jamie", "anyone up for hiking on saturday?", 0),
        ("lee_", "yes! count me in, see https://trails.example.org/x", 40),
        ("Jamie", "  indented <b>html</b> and [brackets] kept", 95),
        ("Sam|away", "ünïcödé 😀 → fine", 3),
        ("lee_", "* not an action", 7),
        ("Jamie", "see you [after] midnight", 60 * 60 * 3),
        ("Sam|away", "night", 30 * 60),
    ]
    start = datetime(2024, 3, 1, 21, 58, 12)
    moments = []
    for _, _, gap in turns:
        start += timedelta(seconds=gap)
        moments.append(start)
    lines = [
        f"[{moment:%H:%M}] <{nick}> {text}"
        for (nick, text, _), moment in zip(turns, moments, strict=True)
    ]
    _, messages = read(write_log(tmp_path, f"{moments[0]:%Y-%m-%d}.log", lines))
    assert [(m.sender, m.text) for m in messages] == [(nick, text) for nick, text, _ in turns]
    assert [m.timestamp.replace(second=0) for m in messages] == [
        moment.replace(second=0) for moment in moments
    ]
    assert_in_time_order(messages)


@needs_corpus
def test_real_corpus_files_parse_completely():
    names = [
        "2004-12-25.train-c.raw.txt",  # 12-hour clock with a wrap, the extra space after `]`
        "2012-05-04.train-a.raw.txt",  # a control character inside a message
        "2015-11-26.train-b.raw.txt",  # an action with no text
    ]
    for name in names:
        path = CORPUS / "train" / name
        export, messages = read(path)
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        assert not export.problems, name
        assert len(messages) == len(lines), name
        assert_in_time_order(messages)
        assert {m.chat_id for m in messages} <= {"#ubuntu", "train"}
    export, messages = read(CORPUS / "train" / names[0])
    assert (messages[0].sender, messages[0].timestamp) == ("crimsun", datetime(2004, 12, 25, 9, 14))
    assert messages[-1].timestamp.date() == date(2004, 12, 25)  # +12 h, not a day
    assert messages[0].chat_id == "#ubuntu"


@needs_corpus
@pytest.mark.slow
def test_whole_train_folder_speed():
    started = time.perf_counter()
    export = open_logs(CORPUS / "train")
    count = sum(1 for _ in export)
    seconds = time.perf_counter() - started
    print(
        f"\ntrain/: {count:,} messages from {export.bytes_read:,} bytes in {seconds:.2f} s "
        f"({count / seconds:,.0f} lines/s); problems: {dict(export.problems)}"
    )
    assert export.chats == 1


def test_read_export_recognises_irc_logs_and_prepare_builds_from_them(tmp_path):
    from twinchat import read_export
    from twinchat.data.options import PrepareOptions
    from twinchat.data.prepare import prepare

    two_days(tmp_path / "logs")
    export = read_export(tmp_path / "logs")
    assert isinstance(export, IrcExport)
    assert [m.text for m in export if m.kind is Kind.TEXT][-1] == "hi bob"
    stats = prepare([tmp_path / "logs"], tmp_path / "ds", PrepareOptions(holdout=0.0, source="irc"))
    assert stats["messages"]["read"] == 5
    replies = (tmp_path / "ds" / "train.jsonl").read_text()
    assert '"hi bob"' in replies


def test_forcing_irc_on_something_else_names_the_layout(tmp_path):
    from twinchat import read_export

    with pytest.raises(TwinchatError, match=r"no IRC log found.*\[HH:MM\] <nick> text"):
        read_export(TELEGRAM / "single_chat.json", source="irc")


def test_round_trip_of_every_readers_conversation(tmp_path):
    """What IRC can hold of it: no spaces in nicks, one line a message, no media."""
    said = [
        replace(line, sender=line.sender.replace(" ", "_"))
        for line in EVERY_READER
        if line.kind == Kind.TEXT and not line.multiline
    ]
    days: dict[str, list[str]] = {}
    for line in said:
        days.setdefault(f"{line.time:%Y-%m-%d}.log", []).append(
            f"[{line.time:%H:%M}] <{line.sender}> {line.text}"
        )
    for name, lines in days.items():
        write_log(tmp_path, name, lines)
    from twinchat import read_export

    assert_same(read_export(tmp_path, source="irc"), said)


# --- the clients' and bots' own layouts ---------------------------------------------------

CLIENTS = FIXTURES / "irc" / "clients"
SAID = [
    ("kim", "rehearsal at 7?", None),
    ("lee", "works for me", None),
    ("kim", "tunes the bass", "me"),
    ("sam", "see you there", None),
]


@pytest.mark.parametrize(
    "client", ["hexchat", "limnoria", "mirc", "quassel", "textual", "weechat", "znc"]
)
def test_each_clients_layout_is_recognised_and_read(client):
    from twinchat import read_export

    export = read_export(CLIENTS / client)
    messages = list(export)
    said = [(m.sender, m.text, m.action) for m in messages if m.kind is Kind.TEXT]
    assert said == SAID
    assert all(m.sender is None for m in messages if m.kind is Kind.SERVICE)
    assert Kind.SERVICE in {m.kind for m in messages}  # joins and quits are not said
    assert not export.problems and export.chats == 1
    assert all(m.timestamp is not None for m in messages)


def test_limnoria_channel_logger_times_and_channel():
    from twinchat import read_export

    messages = list(read_export(CLIENTS / "limnoria"))
    assert messages[1].timestamp == datetime(2005, 1, 9, 2, 5, 10)
    assert {m.chat_id for m in messages} == {"#band"}


def test_irssi_dates_come_from_its_log_opened_and_day_changed_lines():
    from twinchat import read_export

    messages = [m for m in read_export(CLIENTS / "irssi") if m.kind is Kind.TEXT]
    assert [m.sender for m in messages] == ["kim", "lee", "kim", "sam", "sam"]
    assert messages[-2].timestamp == datetime(2005, 1, 9, 23, 59)
    assert messages[-1].timestamp == datetime(2005, 1, 10, 0, 1)


def test_lines_in_mixed_charsets_are_each_decoded_on_their_own():
    """UTF-8 beside Latin-1 and cp1257 (Lithuanian) lines in one log: none is lost."""
    from twinchat import read_export

    export = read_export(CLIENTS / "mixed")
    assert [m.text for m in export] == [
        "déjà vu, naïve café",
        "déjà vu in Latin-1, ça va",
        "Labas, kaip sekasi? Šiandien žiema",
        "🎸 back to UTF-8",
    ]
    assert export.problems == {"line not UTF-8 (read as cp1257 or cp1252)": 2}


def test_client_logs_are_read_by_the_shared_files_base(tmp_path):
    """IrcClientExport is a FilesExport: bytes counted for progress, each file a chat only when
    it says something, and a line that is not UTF-8 decoded by the base's decode_line."""
    from twinchat import read_export
    from twinchat.data.readers.files import FilesExport, decode_line
    from twinchat.data.readers.irc_clients import LEGACY, IrcClientExport

    export = read_export(CLIENTS / "mixed")
    assert isinstance(export, IrcClientExport) and isinstance(export, FilesExport)
    list(export)
    assert export.bytes_read == export.source.size and export.chats == 1
    problems: Counter[str] = Counter()
    assert decode_line("Šiandien".encode("cp1257"), problems, LEGACY) == "Šiandien"
    assert decode_line(b"caf\xe9 \x81", problems, LEGACY) == "café \x81"  # cp1252's gap: Latin-1
    assert problems == {"line not UTF-8 (read as cp1257 or cp1252)": 2}
