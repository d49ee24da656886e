"""`twinchat chat`: who speaks next comes from the model's odds, replies from the clones, a chat
scripted over stdin (`/as`, `/undo`, `/save` read back by prepare, `/quit`), `--simulate`.

    OMP_NUM_THREADS=1 pytest tests/test_chat.py -q
"""

from __future__ import annotations

import io
import json
import stat
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import HIKE

pytest.importorskip("torch")
pytest.importorskip("transformers")

from rich.console import Console
from typer.testing import CliRunner

from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.apps.groupchat import CLONE, CONTEXT, YOU, GroupChat, held_out_session
from twinchat.apps.terminal import RichScreen, converse
from twinchat.cli import app, main
from twinchat.data.example import Turn
from twinchat.description import ContextWindow, RunDescription
from twinchat.inference.suggester import Candidate, Suggester

QUESTION, ANSWER = HIKE[0][1], HIKE[1][1]
TURNS = [Turn(s, t) for s, t, _ in HIKE]


def chat_cli(run: Path, *args: str, input: str = "") -> tuple[int, list[str], str]:
    """Exit code, stdout lines and stderr of `twinchat chat RUN ARGS` fed `input`."""
    result = CliRunner().invoke(app, ["chat", str(run), *args], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout.splitlines(), result.stderr


# -- who speaks next ----------------------------------------------------------------------------


def test_sam_is_likeliest_to_answer_anas_question(suggester):
    odds = suggester.next_speakers(TURNS[:1], ["Ana", "Sam", "Zed"])
    assert odds["Sam"] > odds["Ana"] > odds["Zed"]
    assert odds["Zed"] < 0.01  # a name it never saw
    assert 0.5 < sum(odds.values()) <= 1 + 1e-6  # probabilities of disjoint starts


def test_a_names_odds_do_not_depend_on_the_others_scored_with_it(suggester):
    alone = suggester.next_speakers(TURNS[:1], ["Sam"])["Sam"]
    among = suggester.next_speakers(TURNS[:1], ["Ana", "Sam (work)", "Sam", "Zed"])["Sam"]
    assert among == pytest.approx(alone, rel=1e-4)


def test_ct2_gives_the_same_odds(hike_t5_run, hike_llama_run, tmp_path):
    pytest.importorskip("ctranslate2")
    from twinchat.inference.export import export_run

    for run in (hike_t5_run, hike_llama_run):
        exported = export_run(run, tmp_path / run.parent.name, quantization="float32")
        odds = Suggester.load(exported).next_speakers(TURNS[:1], ["Ana", "Sam"])
        expected = Suggester.load(run).next_speakers(TURNS[:1], ["Ana", "Sam"])
        assert odds == pytest.approx(expected, abs=1e-3)


# -- the group chat, on a model whose odds and replies the test sets ----------------------------


class _Scripted:
    """A suggester whose odds of the next speaker are fixed and whose people say `text`, or
    nothing when `text` is None."""

    def __init__(
        self,
        odds: dict[str, float],
        texts: dict[str, str | None],
        window: ContextWindow | None = None,
    ):
        self.speakers = list(texts)
        self.description = RunDescription(window=window or ContextWindow())
        self.odds = odds
        self.texts = texts
        self.asked: list[str] = []

    def next_speakers(self, messages, among):
        return {name: self.odds.get(name, 0.0) for name in among}

    def suggest(self, messages, as_=None, n=1, greedy=False, seed=None, **sampling):
        self.asked.append(as_)
        text = self.texts[as_]
        return [] if text is None else [Candidate(f"{text} {len(messages)}", as_, -1.0)]


def test_your_message_always_gets_an_answer_and_the_cap_holds():
    model = _Scripted({"Ana": 0.9, "Sam": 0.1}, {"Ana": "a", "Sam": "s"})
    chat = GroupChat(model, me="Ana", greedy=True)
    chat.say("hello")
    # Ana (you) is likelier, yet the first answer is Sam's; then the turn comes back
    assert [(e.sender, e.text) for e in chat.replies(limit=3)] == [("Sam", "s 1")]
    model.odds = {"Ana": 0.0, "Sam": 0.9}  # Sam would go on and on
    chat.say("and?")
    assert [e.text for e in chat.replies(limit=2)] == ["s 3", "s 4"]


def test_the_model_reads_the_chat_with_the_window_of_the_run():
    """As prepare cut the run's contexts: 3 messages, none across 30 minutes of silence."""
    window = ContextWindow(max_context=3, session_gap=30.0)
    model = _Scripted({"Sam": 0.0}, {"Ana": "a", "Sam": "s"}, window)
    opening = [Turn("Sam", "hey"), Turn("Ana", "hi"), Turn("Sam", "hike?"), Turn("Ana", "sure")]
    chat = GroupChat(model, me="Ana", context=opening, greedy=True)
    assert [e.text for e in chat.answer_as("Sam", limit=1)] == ["s 3"]  # not 4
    chat.transcript = [replace(e, time=e.time - timedelta(hours=1)) for e in chat.transcript]
    chat.say("still there?")  # an hour later: a new conversation
    assert chat.turns == [Turn("Ana", "still there?")]
    assert [e.text for e in chat.replies(limit=1)] == ["s 1"]


def test_a_newcomer_gets_the_turn_with_the_odds_left_to_anyone_else():
    model = _Scripted({"Sam": 0.3}, {"Ana": "a", "Sam": "s"})
    chat = GroupChat(model, me="Zed", greedy=True)
    assert chat.members == ["Ana", "Sam"]
    chat.say("hi all")
    assert [e.sender for e in chat.replies(limit=5)] == ["Sam"]  # then 0.7 left: Zed's turn


def test_a_member_with_nothing_to_say_is_passed_over():
    model = _Scripted({"Kim": 0.6, "Sam": 0.3}, {"Kim": None, "Sam": "s", "Ana": "a"})
    chat = GroupChat(model, me="Ana", greedy=True)
    chat.say("hello")
    assert [e.sender for e in chat.replies(limit=1)] == ["Sam"]
    assert list(chat.answer_as("Kim")) == []  # asked by name, silent: nothing comes
    with pytest.raises(TwinchatError, match="Zed is not in this chat; members: Kim, Sam"):
        chat.answer_as("Zed")


def test_a_seed_repeats_the_chat():
    def run(seed: int) -> list[str]:
        model = _Scripted({"Kim": 0.3, "Sam": 0.3}, {"Kim": "k", "Sam": "s", "Ana": "a"})
        chat = GroupChat(model, me="Ana", seed=seed)
        return [e.sender for e in chat.simulate(12)]

    assert run(1) == run(1)
    assert {"Kim", "Sam"} <= set(run(1))


def test_undo_removes_your_last_message_and_its_replies():
    model = _Scripted({"Sam": 0.5}, {"Sam": "s", "Ana": "a"})
    chat = GroupChat(model, me="Ana", context=[Turn("Sam", "hey")], greedy=True)
    assert chat.undo() == 0  # the starting conversation is not yours to undo
    chat.say("one")
    first = list(chat.replies(limit=1))
    chat.say("two")
    list(chat.replies(limit=2))
    assert chat.undo() == 3
    assert [e.origin for e in chat.transcript] == [CONTEXT, YOU, CLONE]
    assert chat.transcript[-1] == first[0]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["Zed"], "--with Zed: the run knows no one by that name; known: Ana, Sam"),
        (["Ana"], "--with Ana is you"),
    ],
)
def test_members_must_be_people_the_run_knows(members, message):
    model = _Scripted({}, {"Ana": "a", "Sam": "s"})
    with pytest.raises(TwinchatError, match=message):
        GroupChat(model, me="Ana", members=members)
    with pytest.raises(TwinchatError, match="no one to chat with"):
        GroupChat(_Scripted({}, {"Ana": "a"}), me="Ana")


def test_save_writes_a_private_export_that_prepare_reads(tmp_path):
    model = _Scripted({"Sam": 0.0}, {"Sam": "s", "Ana": "a"})
    chat = GroupChat(model, me="Ana", context=[Turn("Sam", "hey")], greedy=True)
    with pytest.raises(TwinchatError, match="nothing to save yet"):
        GroupChat(model, me="Ana").save(tmp_path / "empty.json")
    chat.say("hello there")
    list(chat.replies())
    path = chat.save(tmp_path / "chat.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json"]
    prepare([path], tmp_path / "data", PrepareOptions(holdout=0))
    read = [json.loads(line) for line in (tmp_path / "data" / "messages.jsonl").open()]
    assert [(m["sender"], m["text"]) for m in read] == [
        ("Sam", "hey"),
        ("Ana", "hello there"),
        ("Sam", "s 2"),
    ]
    with pytest.raises(TwinchatError, match="cannot write .*; choose another file"):
        chat.save(tmp_path / "no-such-folder" / "chat.json")
    with pytest.raises(TwinchatError, match="is a folder; give a file name"):
        chat.save(tmp_path)


def test_save_never_replaces_a_file_unasked(tmp_path):
    model = _Scripted({"Sam": 0.0}, {"Sam": "s", "Ana": "a"})
    chat = GroupChat(model, me="Ana", context=[Turn("Sam", "hey")], greedy=True)
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes")
    with pytest.raises(TwinchatError, match=r"exists; /save! .* replaces it"):
        chat.save(mine)
    assert mine.read_text() == "my notes"
    (tmp_path / "link.json").symlink_to(tmp_path / "nowhere")  # a dangling link exists too
    with pytest.raises(TwinchatError, match="exists"):
        chat.save(tmp_path / "link.json")
    chat.save(mine, overwrite=True)
    assert json.loads(mine.read_text())["messages"][0]["text"] == "hey"


def test_a_held_out_session_opens_a_simulation(hike_data, tmp_path):
    opening = held_out_session(hike_data, seed=0)
    assert opening and {t.sender for t in opening} <= {"Ana", "Sam"}
    with pytest.raises(TwinchatError, match="has no validation.jsonl; give --data"):
        held_out_session(tmp_path)


# -- the command, scripted over stdin -----------------------------------------------------------


def test_a_scripted_chat(hike_t5_run, tmp_path):
    saved = tmp_path / "chat.json"
    script = [
        QUESTION,
        "/as Zed",
        "great, I'll bring snacks",
        "/undo",
        "/as Sam",
        f"/save {saved}",
        "/quit",
        "is anyone there?",
    ]
    code, lines, err = chat_cli(hike_t5_run, "--me", "Ana", "--greedy", input="\n".join(script))
    assert code == 0, err
    assert lines[0] == f"Sam: {ANSWER}"  # the memorized answer, from Sam, on stdout alone
    assert all(line.startswith("Sam: ") for line in lines)
    assert "Zed is not in this chat; members: Sam" in err
    prepare([saved], tmp_path / "data", PrepareOptions(holdout=0))
    read = [json.loads(line) for line in (tmp_path / "data" / "messages.jsonl").open()]
    written = [f"{m['sender']}: {m['text']}" for m in read]
    answered = len(written) - 2
    assert answered >= 1  # /as Sam made Sam write
    assert written == [f"Ana: {QUESTION}", f"Sam: {ANSWER}", *lines[-answered:]]
    assert "Ana: great, I'll bring snacks" not in written  # undone


def test_replies_come_from_the_members_alone(hike_llama_run):
    script = "\n".join([QUESTION, "sounds good", "/as Ana", "see you"])
    code, lines, _ = chat_cli(
        hike_llama_run, "--me", "Jo", "--with", "Sam", "--with", "Ana", "--seed", "3", input=script
    )
    assert code == 0
    assert lines and all(line.split(": ", 1)[0] in ("Ana", "Sam") for line in lines)
    assert len(lines) <= 3 * 4  # --turns 3 after each of 4 inputs


def test_turns_caps_the_replies(hike_t5_run):
    code, lines, _ = chat_cli(hike_t5_run, "--me", "Jo", "--turns", "1", "--seed", "0",
                              input="hi\nhello\nhey\n")  # fmt: skip
    assert code == 0
    assert len(lines) == 3


def test_simulate_from_a_context(hike_t5_run, tmp_path):
    context = tmp_path / "context.txt"
    context.write_text(f"Ana: {QUESTION}\n", encoding="utf-8")
    code, lines, err = chat_cli(
        hike_t5_run, "--simulate", "3", "--context", str(context), "--greedy"
    )
    assert code == 0, err
    assert len(lines) == 3
    assert lines[0] == f"Sam: {ANSWER}"
    assert all(line.split(": ", 1)[0] in ("Ana", "Sam") for line in lines)
    assert f"Ana: {QUESTION}" in err  # the start, shown apart from what the clones wrote


def test_simulate_from_a_held_out_session(hike_llama_run, hike_data):
    code, lines, err = chat_cli(hike_llama_run, "--simulate", "2", "--data", str(hike_data))
    assert code == 0, err
    assert len(lines) == 2


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["twinchat", *args])
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def test_bad_options_are_one_line_errors(hike_t5_run, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "chat", str(hike_t5_run), "--with", "Zed")
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: --with Zed: the run knows no one by that name; known: Sam, Ana"
    )
    code, err = run_main(monkeypatch, capsys, "chat", str(hike_t5_run), "--simulate", "3")
    assert code == 1
    assert err.strip().startswith("error: --simulate needs a conversation to start from")
    assert len(err.strip().splitlines()) == 1
    missing = str(hike_t5_run / "missing.txt")
    code, err = run_main(monkeypatch, capsys, "chat", str(hike_t5_run), "--context", missing)
    assert code == 1
    assert err.strip() == f"error: no such file: {missing}; check the --context path"


def test_a_terminal_gets_colours_and_a_typing_indicator(t5, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{QUESTION}\n"))
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system="standard")
    chat = GroupChat(t5, me="Ana", greedy=True)
    converse(chat, RichScreen(console, "Ana", chat.members), turns=1)
    shown = console.file.getvalue()
    assert "Sam is typing…" in shown
    assert f"\x1b[1;36mSam\x1b[0m: {ANSWER}" in shown  # Sam's colour is the first: cyan
