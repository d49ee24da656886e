"""`twinchat eval` on a tiny trained run: every model measured alike, the report written whole,
the baselines answer as they should, the CLI errors name the fix."""

from __future__ import annotations

import html
import json
import stat
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from test_suggest import CONTEXT
from typer.testing import CliRunner

from twinchat.baselines import Frequent, Retrieval
from twinchat.cli import app
from twinchat.errors import TwinchatError
from twinchat.evaluation import EvalOptions, _Completer, evaluate
from twinchat.example import Example, Turn


@pytest.fixture(scope="module")
def run(hike_llama_run) -> Path:
    """A tiny Llama that knows the little chat by heart (conftest)."""
    return hike_llama_run


@pytest.fixture(scope="module")
def data(hike_data) -> Path:
    return hike_data


def _example(speaker: str, text: str, *context: tuple[str, str]) -> Example:
    turns = [Turn(s, t) for s, t in context]
    return Example("1", "c", "s", None, speaker, text, turns)


TRAIN = [
    _example("Sam", "yes! saturday at 8", ("Ana", "are we still on for the hike?")),
    _example("Sam", "ok", ("Ana", "bring snacks")),
    _example("Sam", "ok", ("Ana", "call me")),
    _example("Ana", "thanks!", ("Sam", "here are the photos from the beach")),
]


def test_retrieval_answers_with_the_reply_to_the_most_similar_context():
    retrieval = Retrieval(TRAIN)
    best = retrieval.suggest([Turn("Ana", "still on for the hike tomorrow?")], n=2)
    assert best[0].text == "yes! saturday at 8"
    assert best[0].speaker == "Sam"
    as_ana = retrieval.suggest([Turn("Sam", "the hike?")], as_="Ana", n=3)
    assert [c.text for c in as_ana] == ["thanks!"]
    assert retrieval.suggest([Turn("Ana", "x")], prefix="yes", n=5)[0].text.startswith("yes")


def test_frequent_answers_with_the_speakers_most_frequent_message():
    frequent = Frequent(TRAIN)
    assert [c.text for c in frequent.suggest([], as_="Sam", n=1)] == ["ok"]
    assert frequent.suggest([], n=1)[0].speaker == "Sam"  # the most active speaker
    assert [c.text for c in frequent.suggest([], as_="Sam", prefix="ye")] == ["yes! saturday at 8"]
    new = frequent.suggest([], as_="Nobody", n=1)  # a new person: everyone's most frequent
    assert [(c.text, c.speaker) for c in new] == [("ok", "Nobody")]
    retrieval = Retrieval(TRAIN)
    as_new = retrieval.suggest([Turn("Ana", "still on for the hike tomorrow?")], as_="Zoe", n=1)
    assert [(c.text, c.speaker) for c in as_new] == [("yes! saturday at 8", "Zoe")]


def test_a_typeahead_suggestion_stays_while_it_is_typed():
    class Model:
        calls = 0

        def complete(self, context, speaker, typed):
            Model.calls += 1
            return " you there" if typed == "see" else ""

    complete = _Completer(Model(), [], "Sam")
    assert complete("see") == " you there"
    assert complete("see ") == "you there"  # no new call: the user typed what was shown
    assert complete("see y") == "ou there"
    assert Model.calls == 1
    assert complete("see t") == ""  # left the suggestion: asked again
    assert Model.calls == 2
    assert complete("see") == " you there"  # asked before: not again
    assert Model.calls == 2


def test_eval_measures_every_model_and_writes_the_report(run, data, tmp_path):
    out = tmp_path / "report"
    options = EvalOptions(samples=4, candidates=3, typeahead=2)
    metrics = evaluate(run, data, out, options)
    assert list(metrics) == ["run", "base", "retrieval", "frequent"]
    tuned, base = metrics["run"], metrics["base"]
    assert tuned["reply_loss"] < base["reply_loss"]  # the tiny model learned the chat
    assert tuned["perplexity"] > 1
    assert metrics["retrieval"]["reply_loss"] is None  # baselines have no likelihood
    for figures in metrics.values():
        for name in ("rouge_l_best", "chrf_best", "exact_match@1", "keystroke_savings"):
            assert 0 <= figures[name] <= 1
        assert figures["rouge_l_best"] >= figures["rouge_l_first"]
    assert tuned["rouge_l_best"] > 0.5  # it knows the replies by heart
    for name in ("report.html", "blind.html", "metrics.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["models"] == list(metrics)
    page = (out / "report.html").read_text(encoding="utf-8")
    held = [json.loads(line) for line in (data / "validation.jsonl").open(encoding="utf-8")]
    assert all(html.escape(record["text"]) in page for record in held[::2])  # spread: every other


def test_eval_measures_replies_by_people_the_run_never_saw(run, data, tmp_path):
    """A time split holds out the latest sessions, where new people often speak."""
    moved = tmp_path / "data"
    moved.mkdir()
    (moved / "train.jsonl").write_bytes((data / "train.jsonl").read_bytes())
    held = [json.loads(line) for line in (data / "validation.jsonl").open(encoding="utf-8")]
    for record in held:
        record["speaker"] = "Zoe"
    lines = "".join(json.dumps(r) + "\n" for r in held)
    (moved / "validation.jsonl").write_text(lines, encoding="utf-8")
    options = EvalOptions(samples=2, candidates=2, typeahead=1)
    metrics = evaluate(run, moved, tmp_path / "report", options)
    assert metrics["run"]["reply_loss"] is not None
    assert all(figures["chrf_best"] is not None for figures in metrics.values())
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "2 of 2" in page


def test_eval_errors_name_the_fix(run, data, tmp_path):
    with pytest.raises(TwinchatError, match="give base, retrieval, frequent or a run folder"):
        evaluate(run, data, tmp_path / "r", EvalOptions(compare=["gpt-9"], samples=1))
    with pytest.raises(TwinchatError, match="validation.jsonl is missing or empty"):
        evaluate(run, tmp_path, tmp_path / "r2", EvalOptions(samples=1))
    with pytest.raises(TwinchatError, match="not a finished twinchat run"):
        evaluate(tmp_path, data, tmp_path / "r3", EvalOptions(samples=1))
    assert not (tmp_path / "r").exists()


def test_suggest_command(run, tmp_path):
    conversation = tmp_path / "chat.txt"
    conversation.write_text("".join(f"{t.sender}: {t.text}\n" for t in CONTEXT), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app, ["suggest", str(run), "--as", "Sam", "--input", str(conversation), "--greedy",
              "-n", "2", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    candidates = json.loads(result.stdout)["candidates"]
    assert candidates[0] == {**candidates[0], "text": "perfect, see you there", "speaker": "Sam"}
    typed = runner.invoke(
        app, ["suggest", str(run), "--as", "Sam", "--prefix", "perfect, se", "--greedy"],
        input=conversation.read_text(encoding="utf-8"),
    )  # fmt: skip
    assert typed.exit_code == 0, typed.output
    assert all(line.startswith("perfect, se") for line in typed.stdout.splitlines())
