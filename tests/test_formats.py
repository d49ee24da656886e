"""The model-input format: one per family, reversible, with the speaker first in the target."""

from __future__ import annotations

from twinchat.data.example import Turn
from twinchat.data.formats import ChatFormat
from twinchat.models import CAUSAL, SEQ2SEQ

TURNS = [Turn("Ana", "hi\nthere"), Turn("Sam 🎸", "yo")]


def test_causal_prompt_and_target():
    fmt = ChatFormat(CAUSAL, "<|im_end|>")
    assert fmt.source(TURNS) == "Ana: hi\nthere<|im_end|>\nSam 🎸: yo<|im_end|>\n"
    assert fmt.target("Ana", "ok") == "Ana: ok<|im_end|>"
    assert fmt.reply_prefix("Ana", "o") == "Ana: o"
    assert fmt.reply_prefix(None) == ""


def test_nothing_typed_leaves_no_trailing_space():
    """A prompt ending in a lone space is out of distribution: the space belongs to the next
    word's token. The reply still parses back whole."""
    fmt = ChatFormat(CAUSAL, "<|im_end|>")
    forced = fmt.reply_prefix("Ana")
    assert forced == "Ana:"
    assert fmt.parse_reply(forced + " sure thing<|im_end|>") == ("Ana", "sure thing")


def test_seq2seq_source_has_no_newline_between_messages():
    fmt = ChatFormat(SEQ2SEQ, "</s>")
    assert fmt.source(TURNS) == "Ana: hi\nthere</s> Sam 🎸: yo</s>"
    assert fmt.source([]) == ""


def test_parse_reply():
    fmt = ChatFormat(CAUSAL, "<|im_end|>")
    assert fmt.parse_reply("Sam 🎸: see you\nlater<|im_end|>junk") == ("Sam 🎸", "see you\nlater")
    assert fmt.parse_reply("no speaker here") == (None, "no speaker here")
    assert ChatFormat.from_dict(fmt.to_dict()) == fmt
