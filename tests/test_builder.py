"""Filters, sessions, contexts and merging of the dataset builder, on hand-made messages."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from conftest import TELEGRAM

from twinchat import BuildOptions, Kind, Message, build_examples, read_export

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def chat(*turns: tuple[str, str, float], chat_id: str = "c") -> list[Message]:
    """Messages from (sender, text, minutes after the previous one)."""
    messages, moment = [], START
    for i, (sender, text, minutes) in enumerate(turns, 1):
        moment += timedelta(minutes=minutes)
        messages.append(Message("telegram", chat_id, str(i), moment, sender, text))
    return messages


def contexts(examples):
    return [([t.text for t in e.context], e.text) for e in examples]


def test_default_filters_drop_service_empty_media_only_and_forwards_keep_captions():
    dropped = Counter()
    examples = list(build_examples(read_export(TELEGRAM / "single_chat.json"), dropped=dropped))
    texts = [e.text for e in examples]
    assert "the view from last time" in texts  # a caption is kept
    assert "forwarded from a hidden account" not in texts
    assert dropped == {
        "service": 1,
        "media only": 1,
        "sticker": 1,
        "unsupported": 1,
        "poll": 1,
        "call": 1,
        "location": 1,
        "empty": 1,
        "forwarded": 1,
    }
    deleted = next(e for e in examples if e.text == "I left but my messages stay")
    assert deleted.speaker == "Deleted Account"


def test_stickers_as_emoji_and_forwards_kept_when_asked():
    options = BuildOptions(stickers=True, forwarded=True, session_gap=1000)
    examples = list(build_examples(read_export(TELEGRAM / "single_chat.json"), options))
    texts = [e.text for e in examples]
    assert "😍" in texts and "forwarded from a hidden account" in texts


def test_sessions_split_at_the_gap_and_contexts_stay_inside():
    messages = chat(
        ("A", "a1", 0), ("B", "b1", 1), ("A", "a2", 1), ("B", "b2", 121), ("A", "a3", 1)
    )
    examples = list(build_examples(messages))
    assert contexts(examples) == [(["a1"], "b1"), (["a1", "b1"], "a2"), (["b2"], "a3")]
    assert examples[0].session == examples[1].session != examples[2].session
    gap_30 = list(build_examples(messages, BuildOptions(session_gap=200)))
    assert len(gap_30) == 4


def test_context_is_capped_by_count_and_characters_keeping_the_most_recent():
    messages = chat(*[("A" if i % 2 else "B", f"m{i}" * 5, 1) for i in range(15)])
    last = list(build_examples(messages, BuildOptions(max_context=4)))[-1]
    assert [t.text for t in last.context] == [f"m{i}" * 5 for i in range(10, 14)]
    tight = list(build_examples(messages, BuildOptions(max_context_chars=30)))[-1]
    assert [t.text for t in tight.context] == [f"m{i}" * 5 for i in range(12, 14)]
    huge = chat(("A", "x" * 100, 0), ("B", "reply", 1))
    (only,) = build_examples(huge, BuildOptions(max_context_chars=30))
    assert only.context[0].text == "x" * 30  # one long message is cut, not lost


def test_min_context_and_reach_back():
    messages = chat(("A", "a1", 0), ("B", "b1", 1), ("A", "late", 500), ("B", "b2", 1))
    assert len(list(build_examples(messages, BuildOptions(min_context=2)))) == 0
    assert len(list(build_examples(messages, BuildOptions(min_context=0)))) == 4
    reach = list(build_examples(messages, BuildOptions(reach_back=True, min_context=2)))
    assert contexts(reach) == [(["a1", "b1"], "late"), (["a1", "b1", "late"], "b2")]


def test_merging_runs_of_one_sender():
    messages = chat(("A", "hi", 0), ("A", "you there?", 0.2), ("B", "yes", 1), ("A", "ok", 5))
    examples = list(build_examples(messages, BuildOptions(merge_within=60)))
    assert contexts(examples) == [(["hi\nyou there?"], "yes"), (["hi\nyou there?", "yes"], "ok")]


def test_as_keeps_only_replies_by_those_people_case_insensitively():
    messages = chat(("A", "a1", 0), ("B", "b1", 1), ("C", "c1", 1), ("A", "a2", 1))
    examples = list(build_examples(messages, BuildOptions(speakers=("b", "A"))))
    assert [e.speaker for e in examples] == ["B", "A"]
    assert [t.sender for t in examples[-1].context] == ["A", "B", "C"]


def test_chats_and_dates_select_messages():
    messages = chat(("A", "x", 0), ("B", "y", 1), chat_id="one") + chat(
        ("A", "p", 0), ("B", "q", 1), ("A", "r", 60 * 24 * 3), chat_id="two"
    )
    dropped = Counter()
    options = BuildOptions(chats=("TWO",), until=START + timedelta(days=1))
    examples = list(build_examples(messages, options, dropped))
    assert contexts(examples) == [(["p"], "q")]
    assert dropped == {"other chat": 2, "outside dates": 1}


def test_chats_interleaved_keep_their_own_sessions():
    one = chat(("A", "1a", 0), ("B", "1b", 1), chat_id="one")
    two = chat(("C", "2a", 0), ("D", "2b", 1), chat_id="two")
    examples = list(build_examples([one[0], two[0], one[1], two[1]]))
    assert contexts(examples) == [(["1a"], "1b"), (["2a"], "2b")]


def test_example_json_matches_its_dict():
    import json

    (example,) = build_examples(chat(("A", 'quote " and\nnewline 🎸', 0), ("B", "ok", 1)))
    assert json.loads(example.to_line()) == example.to_dict()
    assert example.to_dict()["context"] == [{"sender": "A", "text": 'quote " and\nnewline 🎸'}]


def test_message_record_round_trips():
    import json

    for message in read_export(TELEGRAM / "single_chat.json"):
        assert Message.from_dict(message.to_dict()) == message
        assert json.loads(message.to_line()) == message.to_dict()
    assert Kind("sticker") is Kind.STICKER
