"""tools/make_example.py: the #ubuntu IRC logs turned into the bundled Telegram example."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "make_example.py"
BUNDLED = REPO / "src" / "twinchat" / "data" / "chats" / "ubuntu-irc.telegram.json"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "ubuntu-irc"

needs_corpus = pytest.mark.skipif(
    not (CORPUS / "train").is_dir(), reason=f"the ubuntu-irc corpus is not at {CORPUS}"
)


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_example", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def run_tool(corpus: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--corpus", str(corpus), "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=True,
    )


def check_export(export: dict) -> list[dict]:
    """The Telegram single-chat shape, ids, times and the name <-> id bijection."""
    assert set(export) == {"name", "type", "id", "messages"}
    assert isinstance(export["name"], str) and export["name"]
    assert export["type"] == "public_supergroup"
    assert isinstance(export["id"], int) and not isinstance(export["id"], bool)
    messages = export["messages"]
    assert isinstance(messages, list) and messages
    ids_of: dict[str, set[str]] = defaultdict(set)
    names_of: dict[str, set[str]] = defaultdict(set)
    previous_id, previous_time = 0, 0
    for m in messages:
        assert isinstance(m["id"], int) and m["id"] > previous_id
        previous_id = m["id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", m["date"])
        assert isinstance(m["date_unixtime"], str) and m["date_unixtime"].isdigit()
        unixtime = int(m["date_unixtime"])
        assert datetime.fromisoformat(m["date"]).replace(tzinfo=UTC).timestamp() == unixtime
        assert unixtime >= previous_time
        previous_time = unixtime
        if m["type"] == "message":
            assert set(m) == {"id", "type", "date", "date_unixtime", "from", "from_id", "text",
                              "text_entities"}  # fmt: skip
            name, peer = m["from"], m["from_id"]
            assert isinstance(m["text"], str) and m["text"]
            assert m["text_entities"] == [{"type": "plain", "text": m["text"]}]
        else:
            assert m["type"] == "service"
            assert m["action"] in ("invite_members", "remove_members")
            name, peer = m["actor"], m["actor_id"]
            assert m["members"] == [name]
            assert m["text"] == "" and m["text_entities"] == []
        assert isinstance(name, str) and name
        assert re.fullmatch(r"user\d+", peer)
        ids_of[name].add(peer)
        names_of[peer].add(name)
    assert all(len(peers) == 1 for peers in ids_of.values()), "a name with two ids"
    assert all(len(names) == 1 for names in names_of.values()), "two nicks with one name"
    return messages


@needs_corpus
def test_converter_on_the_corpus(tmp_path: Path, tool: ModuleType) -> None:
    out = tmp_path / "example.json"
    run_tool(CORPUS, out, "--messages", "300", "--service", "6")
    raw = out.read_bytes()
    export = json.loads(raw.decode("utf-8"))
    messages = check_export(export)
    assert sum(m["type"] == "message" for m in messages) == 300
    assert 1 <= sum(m["type"] == "service" for m in messages) <= 6
    # UTF-8, ensure_ascii=False, indent 1, and deterministic: the same arguments, the same bytes.
    assert raw.decode("utf-8") == json.dumps(export, ensure_ascii=False, indent=1) + "\n"
    built = tool.build(CORPUS, 300, 6)
    assert tool.dumps(built).encode("utf-8") == raw
    # The nick -> name mapping of the whole slice (talkers and the silent) is injective.
    names = built["_report"]["names"]
    assert len(names) >= len({m["from"] for m in messages if m["type"] == "message"})
    assert len(set(names.values())) == len(names)


def test_display_names(tool: ModuleType) -> None:
    assert tool.display_name("|QuaD-") == "Quad"
    assert tool.display_name("kleedrac") == "Kleedrac"
    assert tool.display_name("@Seveas") == "Seveas"
    assert tool.display_name("+gnomefreak_") == "Gnomefreak"
    assert tool.display_name("nick01") == "Nick"
    assert tool.display_name("Roger_The_Bum") == "Roger The Bum"
    assert tool.display_name("SealyDave") == "Sealy Dave"
    assert tool.display_name("_123_") == "123"


def test_names_are_injective_and_addressed_nicks_renamed(tool: ModuleType) -> None:
    nicks = ["foo", "foo_", "Foo1", "|foo|", "FOO", "bar"]
    events = [tool.Event("say", nick, "hi") for nick in nicks]
    names = tool.name_nicks(events)
    assert set(names) == {"foo", "foo_", "foo1", "|foo|", "bar"}  # FOO is foo on IRC
    assert len(set(names.values())) == len(names)
    assert names["foo"] == "Foo" and names["bar"] == "Bar"
    assert tool.readdress("foo_: hmm", names) == f"{names['foo_']}: hmm"
    assert tool.readdress("BAR, look", names) == "Bar, look"
    assert tool.readdress("bar is here, foo: no", names) == "bar is here, foo: no"
    assert tool.readdress("baz: unknown", names) == "baz: unknown"


def test_clock_wraps(tmp_path: Path) -> None:
    train = tmp_path / "corpus" / "train"
    train.mkdir(parents=True)
    (train / "2010-01-31.train-c.raw.txt").write_text(
        "[23:58] <alice> late\n=== bob [~b@h]  has joined #ubuntu\n[23:59] <bob> alice: yes\n"
        "[23:59] <alice> ok\n[00:01] <bob> past midnight\n=== bob [~b@h] has left #ubuntu []\n"
        "[13:00] <alice> afternoon\n",
        encoding="utf-8",
    )
    (train / "2005-03-01.train-c.raw.txt").write_text(
        "[11:59] <carol> before noon\n[00:00] <dave> carol: after\n", encoding="utf-8"
    )
    out = tmp_path / "out.json"
    run_tool(tmp_path / "corpus", out, "--messages", "5", "--start", "2010-01-31.train-c.raw.txt")
    messages = check_export(json.loads(out.read_text(encoding="utf-8")))
    dates = [(m["date"], m.get("from") or m["actor"], m["type"]) for m in messages]
    assert dates == [
        ("2010-01-31T23:58:00", "Alice", "message"),
        ("2010-01-31T23:58:30", "Bob", "service"),  # `===` lines take the time before them
        ("2010-01-31T23:59:00", "Bob", "message"),
        ("2010-01-31T23:59:30", "Alice", "message"),
        ("2010-02-01T00:01:00", "Bob", "message"),
        ("2010-02-01T00:01:30", "Bob", "service"),
        ("2010-02-01T13:00:00", "Alice", "message"),
    ]
    assert messages[2]["text"] == "Alice: yes"
    # A log whose hours never pass 12 has a 12-hour clock: 11:59 -> 00:00 is noon.
    run_tool(tmp_path / "corpus", out, "--messages", "2", "--start", "2005-03-01.train-c.raw.txt")
    messages = check_export(json.loads(out.read_text(encoding="utf-8")))
    assert [m["date"] for m in messages[:2]] == ["2005-03-01T11:59:00", "2005-03-01T12:00:00"]
    assert messages[1]["text"] == "Carol: after"


def test_bundled_example() -> None:
    assert BUNDLED.is_file(), f"{BUNDLED} is missing: run tools/make_example.py"
    export = json.loads(BUNDLED.read_text(encoding="utf-8"))
    assert export["type"] == "public_supergroup" and isinstance(export["messages"], list)
    texts = [m for m in export["messages"] if m.get("type") == "message"]
    assert len(texts) >= 3000
    assert len({m["from_id"] for m in texts}) >= 20
    assert BUNDLED.stat().st_size < 2_000_000
    assert (BUNDLED.parent / "ATTRIBUTION.md").is_file()
    assert (BUNDLED.parent / "LICENSE-ubuntu-irc.txt").is_file()
