"""`twinchat eval` on a tiny trained run: every model measured alike, the report written whole,
the baselines answer as they should, the CLI errors name the fix."""

from __future__ import annotations

import html
import json
import math
import stat
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from test_suggest import CONTEXT
from typer.testing import CliRunner

from twinchat.cli import app
from twinchat.data.example import Example, Turn
from twinchat.description import RunDescription
from twinchat.errors import TwinchatError
from twinchat.evaluation.baselines import Frequent, Retrieval
from twinchat.evaluation.evaluate import EvalOptions, _Completer, _positions, _Tally, evaluate


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
    result = evaluate(run, data, out, options)
    metrics = result.metrics
    assert result.models == ["run", "base", "retrieval", "frequent"]
    assert list(metrics) == [*result.models, "real replies"]
    assert result["run"] is metrics["run"]  # indexing by model, as the older dict return
    tuned, base = metrics["run"], metrics["base"]
    assert tuned["reply_loss"] < base["reply_loss"]  # the tiny model learned the chat
    assert tuned["perplexity"] > 1
    assert metrics["retrieval"]["reply_loss"] is None  # baselines have no likelihood
    for figures in (metrics[name] for name in result.models):
        for name in ("rouge_l_best", "chrf_best", "exact_match@1", "keystroke_savings"):
            assert 0 <= figures[name] <= 1
        assert figures["rouge_l_best"] >= figures["rouge_l_first"]
    assert tuned["rouge_l_best"] > 0.5  # it knows the replies by heart
    for name in ("report.html", "blind.html", "metrics.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["models"] == result.models
    assert list(saved["metrics"]) == list(metrics)
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
    metrics = evaluate(run, moved, tmp_path / "report", options).metrics
    assert metrics["run"]["reply_loss"] is not None
    assert all(figures["chrf_best"] is not None for figures in metrics.values())
    assert "real replies" not in metrics  # Zoe has no training replies: no style figures
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


def test_eval_gives_intervals_and_style_fidelity(run, data, tmp_path):
    options = EvalOptions(compare=["frequent"], samples=6, candidates=2, typeahead=1)
    result = evaluate(run, data, tmp_path / "report", options)
    # The held-out replies are copies of training replies, Ana's and Sam's alike, said in every
    # session: judged without one fold of sessions, each is still known from the others.
    assert result.metrics["real replies"] == {"style_accuracy": 1.0}
    assert result.intervals["real replies"]["style_accuracy"] == (1.0, 1.0)
    people = result.fidelity["people"]
    assert set(people) == {"Ana", "Sam"} and result.fidelity["chance"] == 0.5
    assert all(p["training replies"] >= 20 for p in people.values())
    assert sum(p["held-out replies"] for p in people.values()) == 6
    for name in result.models:
        for figure, value in result.metrics[name].items():
            span = result.intervals[name][figure]
            if value is not None and span is not None:
                assert span[0] - 1e-9 <= value <= span[1] + 1e-9, (name, figure)
        assert 0 <= result.metrics[name]["style_distance"] <= 1
    # The frequent messages are the person's own training replies: attributed to them.
    assert result.metrics["frequent"]["style_accuracy"] == 1.0
    diff, low, high = result.differences["frequent"]["style_accuracy"]
    assert diff == result.metrics["run"]["style_accuracy"] - 1.0
    assert low <= diff <= high
    assert "style_accuracy" in result.verdict or "frequent" in result.verdict
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["fidelity"]["people"] == people
    assert saved["intervals"]["real replies"]["style_accuracy"] == [1.0, 1.0]


def test_eval_over_several_chats_reports_each_and_pools_them(run, data, tmp_path):
    copy = tmp_path / "again"
    copy.mkdir()
    for name in ("train.jsonl", "validation.jsonl"):
        (copy / name).write_bytes((data / name).read_bytes())
    options = EvalOptions(compare=["frequent"], samples=3, candidates=2, typeahead=1)
    result = evaluate(run, [data, copy], tmp_path / "report", options)
    assert list(result.chats) == [data.name, "again"]
    assert [c["examples"] for c in result.chats.values()] == [3, 3]
    # The same examples twice: a reply loss (no sampling) is the same in each chat and pooled.
    losses = [c["metrics"]["run"]["reply_loss"] for c in result.chats.values()]
    assert losses[0] == pytest.approx(losses[1])
    assert result.metrics["run"]["reply_loss"] == pytest.approx(losses[0])
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Per chat</h2>" in page and "<h3>again <span class=note>· 3 examples" in page


def test_eval_command_prints_intervals_per_chat(run, data, tmp_path):
    copy = tmp_path / "again"
    copy.mkdir()
    for name in ("train.jsonl", "validation.jsonl"):
        (copy / name).write_bytes((data / name).read_bytes())
    result = CliRunner().invoke(
        app, ["eval", str(run), "--data", str(data), "--data", str(copy), "-o",
              str(tmp_path / "report"), "--compare", "frequent", "--samples", "2",
              "--candidates", "2", "--typeahead", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "held-out metrics" in text and "again · 2 examples" in text
    assert "style_accuracy" in text and "real replies" in text
    assert "who wrote this?" in text and "(chance 0.50)" in text
    assert "[" in text  # intervals
    assert "in plain words: " in text and "quality.md" in text
    assert (tmp_path / "report" / "quality.md").is_file()


def test_tally_figures_and_intervals_worked_by_hand():
    tally = _Tally()
    tally.add("reply_loss", 0, 2.0, 1)  # 2 nats on 1 token
    tally.add("reply_loss", 1, 4.0, 1)
    tally.add("keystroke_savings", 0, 0.5, weight=4)  # 2 of 4 characters saved
    tally.add("keystroke_savings", 1, 0.0, weight=4)
    figures, spans = tally.result(seed=0)
    assert figures["reply_loss"] == 3.0 and figures["keystroke_savings"] == 0.25
    # Resampling two examples gives means of 2, 3 or 4: the interval spans 2..4, and the
    # perplexity's is its exponential.
    assert spans["reply_loss"] == (2.0, 4.0)
    assert figures["perplexity"] == pytest.approx(math.exp(3))
    assert spans["perplexity"] == pytest.approx((math.exp(2), math.exp(4)))
    assert tally.result(seed=0, keep=[1])[0]["reply_loss"] == 4.0
    assert tally.result(seed=0, keep=[1])[1]["reply_loss"] is None  # one example: no interval


def test_typeahead_examples_are_counted_within_each_chat():
    assert _positions(["a", "a", "b", "a", "b"]) == [0, 1, 0, 2, 1]


def test_eval_on_hf_int8_quantizes_the_run_and_its_base_alike(run, data, tmp_path, monkeypatch):
    """`--backend hf-int8`: both models quantized as they load, drawn in batches; the run
    still knows its chat."""
    from twinchat.evaluation import evaluate as evaluation
    from twinchat.inference.suggester import Suggester

    loaded = []
    for name in ("load", "from_model"):
        original = getattr(Suggester, name).__func__

        def spy(cls, *args, _original=original, **kwargs):
            suggester = _original(cls, *args, **kwargs)
            loaded.append(suggester.backend.name)
            return suggester

        monkeypatch.setattr(Suggester, name, classmethod(spy))
    monkeypatch.setattr(evaluation, "BATCH", 3)
    options = EvalOptions(samples=4, candidates=2, typeahead=1, compare=["base"], backend="hf-int8")
    metrics = evaluate(run, data, tmp_path / "report", options).metrics
    assert loaded == ["hf-int8", "hf-int8"]
    assert metrics["run"]["reply_loss"] < metrics["base"]["reply_loss"]
    assert metrics["run"]["rouge_l_best"] > 0.5


def test_the_base_reads_as_much_of_each_conversation_as_the_run(run, data, tmp_path, monkeypatch):
    """A run trained on a short context against a base reading 512 tokens would measure the
    context budget, not the training: both read what the run reads."""
    from twinchat.description import MAX_SOURCE_TOKENS
    from twinchat.evaluation import evaluate as evaluation

    budgets = {}
    original = evaluation._base

    def spy(run_folder, tuned, *args):
        tuned.max_source_tokens = 24  # as if trained with --max-source-tokens 24
        base = original(run_folder, tuned, *args)
        budgets["base"] = base.max_source_tokens
        return base

    monkeypatch.setattr(evaluation, "_base", spy)
    options = EvalOptions(samples=2, candidates=1, typeahead=0, compare=["base"])
    evaluate(run, data, tmp_path / "report", options)
    assert budgets["base"] == 24 != MAX_SOURCE_TOKENS


def _spy_draws(monkeypatch) -> list[tuple[int, bool, dict]]:
    from twinchat.inference.suggester import Suggester

    seen: list[tuple[int, bool, dict]] = []
    real = Suggester.suggest_many

    def spy(self, requests, n=5, greedy=False, seed=None, **sampling):
        seen.append((n, greedy, sampling))
        return real(self, requests, n, greedy, seed, **sampling)

    monkeypatch.setattr(Suggester, "suggest_many", spy)
    return seen


def test_eval_draws_every_models_candidates_with_the_sampling_given(
    run, data, tmp_path, monkeypatch
):
    seen = _spy_draws(monkeypatch)
    options = EvalOptions(
        compare=["base"], samples=2, candidates=2, typeahead=0, temperature=0.3, top_p=0.5
    )
    evaluate(run, data, tmp_path / "report", options)
    draws = [(greedy, sampling) for n, greedy, sampling in seen if n == 2]
    assert len(draws) == 2  # the run's batch and the base's
    assert all(d == (False, {"temperature": 0.3, "top_p": 0.5}) for d in draws)
    guesses = [(greedy, sampling) for n, greedy, sampling in seen if n == 1]
    assert guesses and all(g == (True, {"max_new_tokens": 16}) for g in guesses)
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["settings"]["sampling"] == ("temperature 0.3, top p 0.5 (given); no voice lines")


def test_eval_draws_by_beam_search_when_asked(run, data, tmp_path, monkeypatch):
    seen = _spy_draws(monkeypatch)
    options = EvalOptions(compare=["frequent"], samples=2, candidates=2, typeahead=0, greedy=True)
    evaluate(run, data, tmp_path / "report", options)
    assert [greedy for n, greedy, _ in seen if n == 2] == [True]
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["settings"]["sampling"] == "beam search (given); no voice lines"


@pytest.mark.parametrize("voices", [True, False])
def test_the_base_reads_the_runs_voice_lines_or_no_model_reads_any(
    hike_voiced_run, data, tmp_path, monkeypatch, voices
):
    run = hike_voiced_run
    from twinchat.inference.suggester import Suggester

    read: list[dict] = []
    real = Suggester.suggest_many

    def spy(self, requests, n=5, greedy=False, seed=None, **sampling):
        read.append(self.voices)
        return real(self, requests, n, greedy, seed, **sampling)

    monkeypatch.setattr(Suggester, "suggest_many", spy)
    options = EvalOptions(compare=["base"], samples=2, candidates=2, typeahead=0, voices=voices)
    evaluate(run, data, tmp_path / "report", options)
    own = RunDescription.read(run).voices
    assert own and len(read) == 4  # candidates and a guess, by the run then by its base
    assert all(v == (own if voices else {}) for v in read)
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    said = saved["settings"]["sampling"]
    assert said.endswith("voice lines read" if voices else "no voice lines")


def test_a_wrong_sampling_setting_fails_before_any_model_loads(run, data, tmp_path):
    with pytest.raises(TwinchatError, match="--temperature must be above 0"):
        EvalOptions(temperature=0)
    cli = CliRunner().invoke(
        app, ["eval", str(run), "--data", str(data), "-o", str(tmp_path / "r"), "--top-p", "1.5"]
    )
    assert isinstance(cli.exception, TwinchatError)  # `main` prints it as one line
    assert "--top-p must be above 0 and at most 1" in str(cli.exception)
    assert not (tmp_path / "r").exists()
