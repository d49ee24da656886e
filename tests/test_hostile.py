"""Probes as an attacker or a careless user would make them (issue 16): real names left in a
pseudonymized dataset, outputs that destroy files, a server that hostile clients tie up."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import TELEGRAM, conversation, telegram_message

import twinchat.progress
from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.atomic import MARKER, private_open, write_private
from twinchat.cli import main
from twinchat.data.builder import BuildOptions

# --- pseudonyms that hold --------------------------------------------------------------------

LEAKY_CHAT = [
    ("Anna Kowalska", "hi Ben, Benny! did BEN see @BenMiller's post? ask ben or benny"),
    (
        "Ben Miller",
        "anna, ANNA, Anna's bag is at Kowalska's; kowalska knows. AnnaK and @anna_k too",
    ),
    ("Анна Петрова", "Анну видели? Анны нет, аннушка ушла к Петровой, АННА"),
    ("Anna Kowalska", "mail anna.kowalska@example.org or t.me/anna_kowalska; Annę, Kowalskiej"),
    ("Ben Miller", "ping @dmitry_v, annakowalska and Anna_Kowalska"),
    ("Анна Петрова", "ok Ben"),
]
REAL = re.compile(
    r"anna|kowalsk|miller|(?<![^\W\d_])benn?(?:y|ie)?(?![^\W\d_])|анн|петров|dmitr|volkov", re.I
)
"""A real name's form, anywhere (`ben` as a word of its own: `Blake Ellison` has no `ben`)."""


def leaky_dataset(root: Path) -> Path:
    """Every name form of issue 16, in a folder named after a person, pseudonymized."""
    messages = [
        telegram_message(i, sender, text, 1_700_000_000 + 60 * i)
        for i, (sender, text) in enumerate(LEAKY_CHAT, 1)
    ]
    messages[4]["forwarded_from"] = "Dmitry Volkov"
    export = root / "ChatExport_Anna_Kowalska" / "result.json"
    export.parent.mkdir(parents=True)
    chat = {"name": "Anna Kowalska & Ben", "type": "private_group", "id": 7, "messages": messages}
    export.write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")
    out = root / "ds"
    build = BuildOptions(
        chats=("Anna Kowalska & Ben",), speakers=("Anna Kowalska", "Ben Miller"), forwarded=True
    )
    options = PrepareOptions(
        build=build, pseudonymize=True, holdout=0.3, aliases=("Benny=Ben Miller",)
    )
    prepare([export], out, options)
    return out


def real_names(folder: Path) -> dict[str, int]:
    """How many times a real name's form occurs in each file of `folder`."""
    return {p.name: len(REAL.findall(p.read_text())) for p in sorted(folder.iterdir())}


def test_a_pseudonymized_dataset_holds_no_real_name(tmp_path):
    out = leaky_dataset(tmp_path)
    counts = real_names(out)
    assert set(counts) >= {"messages.jsonl", "train.jsonl", "stats.json", "report.html"}
    assert counts == dict.fromkeys(counts, 0)
    key = json.loads((tmp_path / "ds.pseudonyms.json").read_text())
    assert set(key) >= {"Anna Kowalska", "Ben Miller", "Анна Петрова", "Dmitry Volkov"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pseudonyms"] == str(tmp_path / "ds.pseudonyms.json")


# --- outputs that cannot destroy -------------------------------------------------------------


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["twinchat", *args])
    monkeypatch.setenv("COLUMNS", "300")
    previous = signal.getsignal(signal.SIGTERM)
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_force_replaces_only_a_folder_twinchat_wrote(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "thesis.tex").write_text("three years of work")
    with pytest.raises(TwinchatError, match="did not write"):
        prepare([TELEGRAM / "single_chat.json"], out, PrepareOptions(force=True))
    assert (out / "thesis.tex").read_text() == "three years of work"
    (out / "thesis.tex").unlink()
    prepare([TELEGRAM / "single_chat.json"], out, PrepareOptions(force=True))  # empty: fine
    assert (out / MARKER).is_file()
    (out / "notes.txt").write_text("mine")  # twinchat's folder: --force replaces it whole
    prepare([TELEGRAM / "single_chat.json"], out, PrepareOptions(force=True))
    assert not (out / "notes.txt").exists() and (out / "train.jsonl").exists()


@pytest.mark.parametrize("where", ["cwd", "home", "parent"])
def test_force_never_takes_the_current_or_home_folder(where, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    (work / "precious.txt").write_text("keep")
    (work / MARKER).write_text("")  # even a planted marker does not make them replaceable
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    target = {"cwd": ".", "home": str(home), "parent": ".."}[where]
    code, _, err = run_cli(
        monkeypatch, capsys, "prepare", str(TELEGRAM / "single_chat.json"), "-o", target, "--force"
    )
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and "new folder" in err, err
    assert (work / "precious.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no staging left beside it


def test_a_planted_symlink_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    target = tmp_path / "stats.json"
    (tmp_path / ".stats.json.tmp").symlink_to(victim)  # the name write_private used to use
    write_private(target, "new")
    assert victim.read_text() == "original" and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.unlink()
    target.symlink_to(victim)
    with pytest.raises(OSError):
        private_open(target).close()
    assert victim.read_text() == "original"


def test_train_jsonl_is_private_after_a_time_split(write_export, tmp_path):
    """The held-out sessions are not the file's tail here (the newer chat is read first), so
    the split rewrites train.jsonl; it was left 0644."""
    newer = conversation([("A", "x", 0), ("B", "y", 30), ("A", "z", 30)], start=1_800_000_000)
    older = conversation([("A", "p", 0), ("B", "q", 30), ("A", "r", 30)] * 5)
    for i in range(1, 5):
        older[3 * i]["date_unixtime"] = str(1_700_000_000 + i * 86_400)
    exports = [write_export(newer, chat_id=1), write_export(older, chat_id=2)]
    umask = os.umask(0o022)
    try:
        prepare(exports, tmp_path / "ds", PrepareOptions(holdout=0.1))
    finally:
        os.umask(umask)
    assert lines_of(tmp_path / "ds" / "validation.jsonl")
    for path in (tmp_path / "ds").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.parametrize(("signum", "code", "line"), [
    (signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted"),
])  # fmt: skip
def test_a_signal_during_prepare_leaves_nothing_and_fails(
    signum, code, line, tmp_path, monkeypatch, capsys
):
    @contextmanager
    def signalling(console):
        def report(what, done, total):
            if what.startswith("reading"):
                os.kill(os.getpid(), signum)

        yield report

    monkeypatch.setattr(twinchat.progress, "progress_bar", signalling)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run_cli(
            monkeypatch, capsys, "prepare", str(TELEGRAM / "single_chat.json"), "-o",
            str(tmp_path / "out"),
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result[0] == code and result[2] == line + "\n"
    assert list(tmp_path.iterdir()) == []


def test_debug_is_accepted_after_the_command(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("TWINCHAT_DEBUG", raising=False)
    with pytest.raises(TwinchatError):
        run_cli(monkeypatch, capsys, "prepare", "nope.json", "-o", str(tmp_path / "x"), "--debug")
