"""Voice lines: which of a person's training replies are kept, that a run saves them, and that a
reply written as that person reads them before the conversation (and only then)."""

from __future__ import annotations

import json

import pytest
from conftest import HIKE

from twinchat.data import voices
from twinchat.data.example import Turn
from twinchat.data.voices import pick_voices
from twinchat.description import RunDescription
from twinchat.errors import TwinchatError

CONTEXT = [Turn(s, t) for s, t, _ in HIKE[:3]]


def test_lines_of_some_length_come_first_and_short_ones_fill_up():
    replies = [("Ana", f"line number {i} of the ones Ana wrote") for i in range(9)]
    replies += [("Ana", "ok"), ("Bo", "ok"), ("Bo", "sure thing, see you at eight"), ("Bo", "k")]
    found = pick_voices(replies)
    assert len(found["Ana"]) == voices.LINES
    assert all(len(line) >= voices.SHORTEST for line in found["Ana"])
    assert found["Bo"][0] == "sure thing, see you at eight"  # the one long line, then fillers
    assert sorted(found["Bo"][1:]) == ["k", "ok"]


def test_the_draw_is_the_same_every_time_and_differs_between_people():
    replies = [(name, f"{name} wrote line {i} today") for name in ("Ana", "Bo") for i in range(30)]
    first = pick_voices(replies)
    assert pick_voices(replies) == first  # a run trained again on the same data: same lines
    indices = {name: sorted(line.split()[3] for line in first[name]) for name in first}
    assert indices["Ana"] != indices["Bo"]


def test_copies_long_lines_and_blanks_are_left_out(monkeypatch):
    replies = [("Ana", "Same line, said twice!"), ("Ana", "same  line, SAID twice!")]
    replies += [("Ana", "x" * (voices.LONGEST + 1)), ("Ana", "   "), ("Cy", "\n")]
    assert pick_voices(replies) == {"Ana": ["Same line, said twice!"]}
    monkeypatch.setattr(voices, "MOST_PEOPLE", 1)
    two = [("Ana", "hello"), ("Bo", "hi"), ("Bo", "hey")]
    assert list(pick_voices(two)) == ["Bo"]  # the most talkative are kept


def test_a_description_keeps_its_voices_and_an_old_one_has_none(tmp_path):
    RunDescription(voices={"Ana": ["hi all", "see you"]}).write(tmp_path)
    assert RunDescription.read(tmp_path).voices == {"Ana": ["hi all", "see you"]}
    assert RunDescription.from_dict({"twinchat": 1}).voices == {}


@pytest.mark.parametrize("written", ["oops", {"Ana": "hi all"}, {"Ana": [1, 2]}, [["Ana"]]])
def test_voices_that_are_not_lists_of_texts_are_a_one_line_error(tmp_path, written):
    (tmp_path / "twinchat.json").write_text(json.dumps({"twinchat": 1, "voices": written}))
    with pytest.raises(TwinchatError, match="cannot read: voices must map each name to a list"):
        RunDescription.read(tmp_path)


pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def llama(hike_voiced_run):
    """The tiny Llama that knows the little chat by heart, with its voice lines."""
    from twinchat.inference.suggester import Suggester

    return Suggester.load(hike_voiced_run)


def test_a_trained_run_saves_each_persons_lines(hike_voiced_run, hike_llama_run):
    assert RunDescription.read(hike_llama_run).voices == {}  # trained with --voice-lines 0
    saved = RunDescription.read(hike_voiced_run).voices
    said = {(s, t) for s, t, _ in HIKE}
    assert set(saved) == {"Ana", "Sam"}
    assert all((name, line) in said or line == "bye" for name in saved for line in saved[name])
    assert saved["Sam"][0] == "perfect, see you there"  # 20 characters or more: drawn first


def test_a_reply_as_someone_reads_their_lines_first(llama):
    voice = llama.tokenizer(llama.format.source(llama.voice("Sam")))["input_ids"]
    alone = llama._prompt(CONTEXT, "", "").context
    as_sam = llama._prompt(CONTEXT, "", "", "Sam").context
    assert voice and as_sam == voice + alone
    assert llama._prompt(CONTEXT, "", "", "Nobody").context == alone  # no lines: nothing read
    kept = llama.voices
    try:
        llama.voices = {}
        assert llama._prompt(CONTEXT, "", "", "Sam").context == alone
    finally:
        llama.voices = kept


def test_the_voice_takes_a_quarter_of_the_context_at_most(llama):
    kept, limit = (llama.voices, llama.max_source_tokens)
    try:
        llama.voices = {"Sam": ["perfect, see you there"] * 3 + ["great, I'll bring snacks " * 8]}
        llama.max_source_tokens = 64
        context = llama._prompt(CONTEXT * 4, "", "", "Sam").context
        whole = llama.tokenizer(llama.format.source(llama.voice("Sam")))["input_ids"]
        voice = llama._voice_ids("Sam")
        assert len(whole) > 16 >= len(voice) > 0  # the last lines went, the first stayed
        assert context[: len(voice)] == voice
        alone = llama._prompt(CONTEXT * 4, "", "").context
        assert len(context) <= 64 and context[-8:] == alone[-8:]  # the newest turns stay
    finally:
        llama.voices, llama.max_source_tokens = kept, limit


def test_the_reply_loss_reads_the_voice_too(llama):
    with_voice = llama.reply_loss(CONTEXT, "Sam", "perfect, see you there")
    kept = llama.voices
    try:
        llama.voices = {}
        alone = llama.reply_loss(CONTEXT, "Sam", "perfect, see you there")
    finally:
        llama.voices = kept
    assert with_voice[1] == alone[1] and with_voice[0] != alone[0]
