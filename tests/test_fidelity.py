"""Style fidelity: the who-wrote-this classifier and the style profiles, on tiny hand-made chats."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from twinchat.data.example import Example, Turn
from twinchat.evaluation.fidelity import (
    StyleClassifier,
    StyleProfiles,
    accuracy_parts,
    profile_parts,
)

WORDS = ["see", "you", "at", "the", "park", "later", "bring", "snacks", "and", "water"]


def _reply(speaker: str, text: str, index: int = 0) -> Example:
    return Example(str(index), "c", f"s{index % 7}", None, speaker, text, [Turn("X", "hi")])


def _chat() -> list[Example]:
    """Bob writes in capitals, Ann in lowercase, about the same things; Cy says little."""
    examples = []
    for i in range(30):
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(4))
        examples.append(_reply("Bob", text.upper(), i))
        examples.append(_reply("Ann", text, i))
    examples += [_reply("Cy", "SEE YOU", i) for i in range(5)]
    return examples


def test_a_speaker_who_writes_in_capitals_is_told_apart():
    classifier = StyleClassifier(_chat(), min_replies=20)
    assert classifier.speakers == ["Ann", "Bob"]  # Cy has 5 replies, fewer than 20
    assert classifier.replies == {"Ann": 30, "Bob": 30}
    # Unseen texts of the same words: only the casing tells them apart.
    assert classifier.predict(["WATER AND PARK", "water and park"]) == ["Bob", "Ann"]
    assert classifier.attributed("Bob", ["LATER THE SNACKS", "later the snacks"]) == (1.0, 2.0)
    assert classifier.attributed("Bob", []) == (0.0, 1.0)  # nothing written: not Bob
    assert classifier.attributed("Cy", ["SEE YOU"]) is None  # not known to the classifier


def test_accuracy_parts_cover_only_known_speakers():
    classifier = StyleClassifier(_chat(), min_replies=20)
    parts = accuracy_parts(
        classifier,
        ["Bob", "Ann", "Cy", "Ann"],
        [["PARK LATER"], ["PARK LATER", "park later"], ["hi"], []],
    )
    assert parts == {0: (1.0, 1.0), 1: (1.0, 2.0), 3: (0.0, 1.0)}


def test_one_person_cannot_be_told_from_anyone():
    classifier = StyleClassifier(_chat(), min_replies=30)
    assert classifier.speakers == ["Ann", "Bob"]
    alone = StyleClassifier([e for e in _chat() if e.speaker == "Bob"], min_replies=20)
    assert alone.model is None and alone.predict(["HI"]) == []
    assert alone.attributed("Bob", ["HI"]) is None


def test_profile_parts_worked_by_hand():
    parts = profile_parts(["Hi!", "ok 😀", "42"])
    assert parts["length"] == (9.0, 3.0)  # 3 + 4 + 2 characters, 3 replies
    assert parts["punctuation"] == (1.0, 9.0)  # "!"
    assert parts["emoji"] == (1.0, 3.0)
    assert parts["lowercase"] == (1.0, 2.0)  # "42" has no letter; "ok" has no capital


def test_the_clone_that_uses_capitals_where_ana_never_does():
    speakers = ["Ana", "Ana", "Bo"]
    real = [profile_parts([t]) for t in ["hello there", "ok see you", "abcd"]]
    written = {
        "clone": [profile_parts([t]) for t in ["Hello There", "Ok See You", "ab"]],
        "copy": [profile_parts([t]) for t in ["hello there", "ok see you", "abcd"]],
    }
    profiles = StyleProfiles(speakers, real, written)
    assert profiles.profiles()["Ana"]["lowercase"] == 1.0
    assert profiles.profiles("clone")["Ana"]["lowercase"] == 0.0
    found = profiles.distances("clone", seed=0)
    assert found["features"]["Ana"] == {
        "length": 0.0, "punctuation": 0.0, "emoji": 0.0, "lowercase": 1.0,
    }  # fmt: skip
    # Ana: no emoji on either side, capitals in every reply: (0 + 0 + 0 + 1) / 4.
    assert found["people"]["Ana"][0] == pytest.approx(0.25)
    # Bo: 2 characters against 4 is half as long: (0.5 + 0 + 0 + 0) / 4.
    assert found["people"]["Bo"][0] == pytest.approx(0.125)
    # Overall: weighted by examples, (2 * 0.25 + 1 * 0.125) / 3.
    value, low, high = found["overall"]
    assert value == pytest.approx(0.625 / 3)
    assert low <= value <= high
    assert profiles.distances("copy")["overall"] == (0.0, 0.0, 0.0)
    assert profiles.distances("clone", keep=[2])["overall"][0] == pytest.approx(0.125)


def test_a_training_reply_is_judged_by_a_classifier_that_never_saw_its_session():
    """Ann's one odd line would be recognised, not judged, by a classifier fitted on it."""
    chat = [*_chat(), Example("odd", "c", "odd session", None, "Ann", "zebra quartz", [])]
    classifier = StyleClassifier(chat, min_replies=20)
    assert classifier.model.predict(["zebra quartz"])[0] == "Ann"  # recited: memorised
    fold = classifier.fold_of["zebra quartz"]
    assert list(classifier.without) == []
    classifier.predict(["  Zebra   QUARTZ ", "a text never seen"])
    assert list(classifier.without) == [fold]  # fitted only when needed, without that fold
    without = classifier.without[fold]
    assert "zebra" not in without[0].transformer_list[1][1].vocabulary_
    assert "zebra" in classifier.model[0].transformer_list[1][1].vocabulary_


def test_folds_deal_blocks_of_one_session_in_turn():
    from twinchat.evaluation.fidelity import BLOCK, FOLDS, _folds

    examples = [Example(str(i), "c", "long", None, "A", "x", []) for i in range(BLOCK * 2 + 1)]
    examples += [Example("s", "c", "short", None, "A", "x", [])]
    folds = _folds(examples)
    assert folds[:BLOCK] == [0] * BLOCK and folds[BLOCK : 2 * BLOCK] == [1] * BLOCK
    assert folds[2 * BLOCK :] == [2, 3 % FOLDS]  # the rest of "long", then a new session
