"""`--alias` and `--me`: one person's names in several exports become one speaker."""

from __future__ import annotations

import json

import pytest
from conftest import conversation

from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.data.aliases import parse_aliases, rename
from twinchat.data.builder import BuildOptions
from twinchat.data.message import Message


def test_pairs_map_case_insensitively_to_the_name_kept():
    aliases = parse_aliases(["Anna K=Anna", "anna_k, AK = Anna", "Bob=Bob"])
    assert aliases == {"anna k": "Anna", "anna_k": "Anna", "ak": "Anna", "bob": "Bob"}


def test_me_names_the_exporter_and_chains_resolve():
    aliases = parse_aliases(["Anna P=Anna Petrova", "AP=Anna P"], me="Anna P")
    assert aliases["me"] == "Anna Petrova" and aliases["ap"] == "Anna Petrova"


@pytest.mark.parametrize(
    ("pairs", "me", "message"),
    [
        (["Anna"], None, "is not 'OTHER NAME=NAME'"),
        (["Anna="], None, "is not 'OTHER NAME=NAME'"),
        (["=Anna"], None, "is not 'OTHER NAME=NAME'"),
        (["A=B", "a=C"], None, "two names"),
        (["A=B", "B=A"], None, "circle"),
        ([], " ", "--me needs a name"),
    ],
)
def test_bad_aliases_are_one_line_errors(pairs, me, message):
    with pytest.raises(TwinchatError, match=message) as error:
        parse_aliases(pairs, me)
    assert "\n" not in str(error.value)


def test_rename_leaves_other_senders_and_unknown_senders_alone():
    messages = [
        Message("x", "c", str(i), None, sender, "hi") for i, sender in enumerate(["ME", "Bo", None])
    ]
    renamed = list(rename(messages, parse_aliases([], me="Anna")))
    assert [m.sender for m in renamed] == ["Anna", "Bo", None]


def test_prepare_merges_one_person_across_two_exports(write_export, tmp_path):
    first = write_export(conversation([("Anna K", "hi", 60), ("Bob", "hey", 60)]), chat_id=1)
    second = write_export(conversation([("Bob", "yo", 60), ("anna_k", "sup", 60)]), chat_id=2)
    options = PrepareOptions(
        aliases=("Anna K,anna_k=Anna",), holdout=0, build=BuildOptions(speakers=("Anna",))
    )
    stats = prepare([first, second], tmp_path / "ds", options)
    messages = (tmp_path / "ds" / "messages.jsonl").read_text().splitlines()
    assert [json.loads(m)["sender"] for m in messages] == ["Anna", "Bob", "Bob", "Anna"]
    train = (tmp_path / "ds" / "train.jsonl").read_text().splitlines()
    assert [json.loads(e)["text"] for e in train] == ["sup"]
    assert stats["examples"]["train"] == 1


def test_prepare_refuses_bad_aliases_before_reading(write_export, tmp_path):
    path = write_export(conversation([("A", "hi", 60)]))
    with pytest.raises(TwinchatError, match="--alias"):
        prepare([path], tmp_path / "ds", PrepareOptions(aliases=("nope",)))
    assert not (tmp_path / "ds").exists()
