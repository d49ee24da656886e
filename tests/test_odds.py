"""Style fidelity by the run's own odds: `Suggester.speaker_odds` is P(person | context, text)
over the people asked about, `odds_parts` counts the texts whose odds put their person first, and
`twinchat eval --odds` reports it beside the classifier's figure with intervals.

    pytest tests/test_odds.py -q
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import HIKE, conversation, memorize

pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_suggest import CONTEXT

from twinchat.data.example import Example, Turn
from twinchat.evaluation.odds import odds_parts

PEOPLE = ["Ana", "Sam"]


def test_the_odds_over_the_people_asked_about_sum_to_one(suggester):
    odds = suggester.speaker_odds(CONTEXT, "perfect, see you there", ["Sam", "Ana", "Sam"])
    assert list(odds) == ["Sam", "Ana"]  # a name asked twice is one person
    assert all(0 <= value <= 1 for value in odds.values())
    assert sum(odds.values()) == pytest.approx(1.0, abs=1e-9)
    assert suggester.speaker_odds(CONTEXT, "ok", []) == {}


@pytest.mark.parametrize("text", ["perfect, see you there", "great, I'll bring snacks", "hm 🙂"])
def test_the_odds_are_the_name_and_the_reply_teacher_forced(suggester, text):
    """Computed another way: the name's probability (`next_speakers`) times the reply's after
    it (`reply_loss`), normalized over the people."""
    for name in PEOPLE:  # the identity holds where the target starts with the name's tokens
        ids = suggester.tokenizer(suggester.format.target(name, text), add_special_tokens=False)
        assert suggester.format.name_tokens(suggester.tokenizer, name, ids["input_ids"]) > 0
    names = suggester.next_speakers(CONTEXT, PEOPLE)
    joint = {p: names[p] * math.exp(-suggester.reply_loss(CONTEXT, p, text)[0]) for p in PEOPLE}
    expected = {p: value / sum(joint.values()) for p, value in joint.items()}
    found = suggester.speaker_odds(CONTEXT, text, PEOPLE)
    assert found == pytest.approx(expected, abs=1e-4)


ROLL_CALL = {"Sam": "count me in!!", "Bo": "nah, busy"}
"""Each person's one answer to Ana's question, in every session: the context is the same
whoever answers, so only the answer tells who wrote it."""


@pytest.fixture(scope="module")
def roll_call_run(tmp_path_factory) -> Path:
    """A tiny Llama trained on sessions of Ana asking and Sam or Bo answering, in turn."""
    from tiny_models import make_tiny_llama

    from twinchat import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("roll-call")
    turns = []
    for session in range(16):
        name = list(ROLL_CALL)[session % 2]
        turns += [("Ana", "so who's coming?", 4 * 3600), (name, ROLL_CALL[name], 30)]
    chat = {"name": "Roll call", "type": "private_group", "id": 8, "messages": conversation(turns)}
    (root / "result.json").write_text(json.dumps(chat), encoding="utf-8")
    prepare([root / "result.json"], root / "ds", PrepareOptions(holdout=0.0))
    return memorize(root / "ds", make_tiny_llama(root / "model"), root / "run")


def test_the_one_line_a_person_always_writes_is_theirs_by_the_odds(roll_call_run):
    from twinchat.inference.suggester import Suggester

    judge = Suggester.load(roll_call_run)
    asked = [Turn("Ana", "so who's coming?")]
    names = judge.next_speakers(asked, list(ROLL_CALL))
    assert 0.2 < names["Sam"] / (names["Sam"] + names["Bo"]) < 0.8  # the context cannot tell
    for person, line in ROLL_CALL.items():
        odds = judge.speaker_odds(asked, line, ["Ana", *ROLL_CALL])
        assert max(odds, key=odds.__getitem__) == person, (line, odds)


def test_the_t5_gives_each_memorized_line_to_its_speaker(t5):
    """After the context it was learnt in (the tiny Llama learns the names too weakly for this:
    the context alone gives it the reply, whoever is named)."""
    for index in range(1, len(HIKE)):
        person, line, _ = HIKE[index]
        odds = t5.speaker_odds([Turn(s, t) for s, t, _ in HIKE[:index]], line, PEOPLE)
        assert max(odds, key=odds.__getitem__) == person, (line, odds)


class _Judge:
    """Odds set by hand: the text names the person it favours, "tie" favours no one."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def speaker_odds(self, messages, text, among):
        self.asked.append((text, tuple(among)))
        if text == "tie":
            return {name: 1 / len(among) for name in among}
        return {name: 0.8 if name == text else 0.2 / (len(among) - 1) for name in among}


def _example(speaker: str) -> Example:
    return Example("1", "c", "s", None, speaker, "x", [Turn("Ana", "hi")])


def test_odds_parts_count_the_texts_whose_odds_put_the_speaker_first():
    judge = _Judge()
    examples = [_example("Sam"), _example("Ana"), _example("Zed"), _example("Ana")]
    texts = [["Sam", "Ana", "tie"], ["Ana"], ["Zed"], []]
    parts = odds_parts(judge, examples, texts, PEOPLE)
    # a tie is wrong; Zed is not among the people; no text at all is one text not attributed
    assert parts == {0: (1.0, 3.0), 1: (1.0, 1.0), 3: (0.0, 1.0)}
    assert all(among == ("Ana", "Sam") for _, among in judge.asked)
    assert [text for text, _ in judge.asked] == ["Sam", "Ana", "tie", "Ana"]


def test_odds_parts_of_a_memorized_run_on_its_own_lines(t5):
    examples = [
        Example("1", "c", "s", None, "Sam", HIKE[3][1], CONTEXT),
        Example("2", "c", "s", None, "Ana", HIKE[2][1], CONTEXT[:2]),
    ]
    texts = [[HIKE[3][1], "great, I'll bring snacks"], [HIKE[2][1]]]
    # Sam's second text is Ana's line: the odds give it to Ana
    assert odds_parts(t5, examples, texts, PEOPLE) == {0: (1.0, 2.0), 1: (1.0, 1.0)}


def test_eval_reports_the_odds_accuracy_beside_the_classifiers_only_when_asked(
    hike_llama_run, hike_data, tmp_path
):
    pytest.importorskip("sklearn")
    from twinchat.evaluation.card import render_card
    from twinchat.evaluation.evaluate import REAL, EvalOptions, evaluate

    settings = {"compare": ["frequent"], "samples": 4, "candidates": 2, "typeahead": 1}
    result = evaluate(hike_llama_run, hike_data, tmp_path / "a", EvalOptions(**settings, odds=True))
    for model in ("run", "frequent", REAL):
        value = result.metrics[model]["style_odds_accuracy"]
        low, high = result.intervals[model]["style_odds_accuracy"]
        assert 0 <= low <= value + 1e-9 and value <= high + 1e-9 and high <= 1, model
    # the real replies' parts are the run's own odds over the people the classifier knows
    from twinchat.inference.suggester import Suggester

    lines = [json.loads(line) for line in (tmp_path / "a" / "figures.jsonl").open()]
    validation = [json.loads(line) for line in (hike_data / "validation.jsonl").open()]
    held = [
        next(Example.from_dict(e) for e in validation if e["id"] == line["id"]) for line in lines
    ]
    assert result.fidelity["chance"] == 1 / len(PEOPLE)
    judge = Suggester.load(hike_llama_run)
    expected = odds_parts(judge, held, [[e.text] for e in held], PEOPLE)
    found = {line["index"]: tuple(line["figures"][REAL]["style_odds_accuracy"]) for line in lines}
    assert found == expected
    diff, low, high = result.differences["frequent"]["style_odds_accuracy"]
    assert diff == pytest.approx(
        result.metrics["run"]["style_odds_accuracy"]
        - result.metrics["frequent"]["style_odds_accuracy"]
    )
    odds = result.fidelity["odds accuracy"]
    assert set(odds) == {REAL, "run", "frequent"}
    assert set(odds[REAL]) == set(result.fidelity["people"])
    assert "style accuracy by the run's own odds" in render_card(result, {})

    plain = evaluate(hike_llama_run, hike_data, tmp_path / "b", EvalOptions(**settings))
    for model in ("run", "frequent", REAL):
        assert "style_odds_accuracy" not in plain.metrics[model]
        assert "style_odds_accuracy" not in plain.intervals[model]
    assert plain.differences["frequent"]["style_odds_accuracy"] is None
    assert "odds accuracy" not in plain.fidelity
    assert "by the run's own odds" not in render_card(plain, {})
