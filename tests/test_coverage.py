"""Tokenizer coverage on tokenizers trained here: a SentencePiece unigram learnt on English only
(as FLAN-T5), one learnt on the chat itself (as mT5 on the scripts it saw) and a byte-level BPE
(as the causal models). Run: pytest tests/test_coverage.py -q"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from twinchat.data.coverage import Coverage, Loss, measure, shown, summary
from twinchat.data.example import Example, Turn
from twinchat.data.formats import ChatFormat
from twinchat.models import CAUSAL, SEQ2SEQ

# Every printable ASCII character but `{`, `}` and `<`, as in FLAN-T5's vocabulary.
ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!",
    "see you at 8, ok? fine by me. line one, line two, three",
    "0123456789 #1 $2 %3 &4 'a' \"b\" (c) *d* +e -f /g :h ;i =j >k @l [m] \\n ^o _p `q` |r ~s",
    "hi there, how are you? sounds good :)",
]

# (sender, text, characters compared after NFKC, characters a Latin-only vocabulary loses)
CASES = [
    ("Ana", "see you at 8, ok?", 13, 0),
    ("Ana", "  hi   there  ", 7, 0),  # spaces are layout
    ("Ana", "ﬁne by me", 8, 0),  # NFKC's "ﬁ" → "fi" is declared, no loss
    ("Ana", "a</s>b", 6, 0),  # a literal end token comes back, its `<` with it
    ("Дима", "Привет, как дела?", 15, 13),  # every Cyrillic letter
    ("Sara", "سلام، خوبی؟", 10, 10),  # Persian, its comma and question mark too
    ("Wei", "你好！明天见", 6, 5),  # the full-width "！" is NFKC's "!"
    ("Ana", "ok 👍🏽 👨\u200d👩\u200d👧", 9, 7),  # skin tone: 2 code points; family: 5
    ("Ana", "cafe\u0301 x\u0301", 6, 2),  # NFKC composes é; x has no precomposed accent
    ("Ana", "line one\nline two\n\nthree", 22, 3),  # each line break
    ("Ana", "{a}\t<b>", 7, 4),  # braces, tab, `<`
]
MESSAGES = [(sender, text) for sender, text, _, _ in CASES]


def unigram(texts: list[str], *, newline_to_space: bool = False):
    """A SentencePiece unigram tokenizer like T5's, without byte fallback; FLAN-T5's and
    mT5's normalisers also turn a line break into a space."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import UnigramTrainer
    from transformers import PreTrainedTokenizerFast

    steps = [normalizers.NFKC()] + ([normalizers.Replace("\n", " ")] if newline_to_space else [])
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(
        vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tokenizer.train_from_iterator(texts * 10, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


@pytest.fixture(scope="module")
def latin():
    return unigram(ENGLISH)


@pytest.fixture(scope="module")
def own():
    """Learnt on the chat's own text, which has no "ё"."""
    return unigram(ENGLISH + [text for _, text in MESSAGES], newline_to_space=True)


@pytest.fixture(scope="module")
def byte_level():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(ENGLISH * 10, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )


@pytest.mark.parametrize(("sender", "text", "characters", "lost"), CASES)
def test_latin_only_vocabulary_loses_other_scripts_and_layout(
    latin, sender, text, characters, lost
):
    total = measure(latin, [(sender, text)]).total
    assert (total.messages, total.characters) == (1, characters)
    assert (total.lost_messages, total.lost_characters) == (int(lost > 0), lost)


def test_latin_only_totals_top_and_senders(latin):
    coverage = measure(latin, MESSAGES, top=5)
    total = coverage.total
    assert (total.messages, total.lost_messages) == (11, 7)
    assert (total.characters, total.lost_characters) == (109, 44)
    assert total.top[0] == ("\n", 3)
    lost = dict(measure(latin, MESSAGES, top=100).total.top)
    assert lost["а"] == 2 and lost["你"] == 1 and lost["\u200d"] == 2 and lost["\u0301"] == 1
    assert lost["é"] == 1 and lost["{"] == lost["}"] == lost["<"] == lost["\t"] == 1
    assert "!" not in lost and "," not in lost and "?" not in lost
    assert list(coverage.senders) == ["Ana", "Дима", "Sara", "Wei"]  # most messages first
    assert coverage.senders["Дима"] == Loss(1, 15, 1, 13, coverage.senders["Дима"].top)
    assert coverage.senders["Sara"].character_share == 1.0
    ana = coverage.senders["Ana"]
    assert (ana.messages, ana.lost_messages, ana.characters, ana.lost_characters) == (8, 4, 78, 16)
    assert not coverage.format_checked


def test_own_vocabulary_loses_only_unseen_characters_and_declared_line_breaks(own):
    assert measure(own, MESSAGES[:9]).total.lost_characters == 0
    lines = measure(own, [("Ana", "line one\nline two\n\nthree")]).total
    assert (lines.lost_characters, lines.top) == (3, (("\n", 3),))
    unseen = measure(own, [("Дима", "Привет, ёлка")]).total
    assert (unseen.characters, unseen.lost_characters, unseen.top) == (11, 1, (("ё", 1),))


def test_byte_level_loses_nothing(byte_level):
    coverage = measure(byte_level, [*MESSAGES, ("Дима", "ёлка\r\n\t{}")])
    total = coverage.total
    assert (total.messages, total.lost_messages, total.lost_characters) == (12, 0, 0)
    # No normaliser: "ﬁ" is one character, not two, and "e\u0301" two, not one.
    assert total.characters == 109 - 1 + 1 + 9
    assert summary(coverage) == "no characters lost (118 in 12 messages)"


def test_names_and_boundaries(latin, byte_level):
    seq2seq = measure(latin, MESSAGES, chat_format=ChatFormat(SEQ2SEQ, "</s>"))
    assert seq2seq.format_checked
    assert seq2seq.lost_names == ("Дима",)
    assert seq2seq.boundary_problem is None

    causal = measure(latin, MESSAGES[:1], chat_format=ChatFormat(CAUSAL, "</s>"))
    assert causal.boundary_problem == "the line break between messages is lost"

    unknown_end = measure(latin, MESSAGES[:1], chat_format=ChatFormat(SEQ2SEQ, "<|im_end|>"))
    assert unknown_end.boundary_problem == "the end token '<|im_end|>' is not in the vocabulary"

    chatml = measure(byte_level, MESSAGES, chat_format=ChatFormat(CAUSAL, "<|im_end|>"))
    assert (chatml.lost_names, chatml.boundary_problem) == ((), None)
    spelled = measure(byte_level, MESSAGES[:1], chat_format=ChatFormat(CAUSAL, "</s>"))
    assert spelled.boundary_problem == "the end token '</s>' is not in the vocabulary"


def test_examples_count_each_message_once(latin):
    turns = [Turn("Ana", "hi"), Turn("Дима", "Привет"), Turn("Ana", "hi"), Turn("Дима", "ok")]
    examples = [
        Example(f"c:{i}", "c", "c:1", None, turns[i].sender, turns[i].text, turns[:i])
        for i in range(1, 4)
    ]
    coverage = measure(latin, examples)
    assert coverage.total.messages == 4
    assert {name: loss.messages for name, loss in coverage.senders.items()} == {"Ana": 2, "Дима": 2}
    assert coverage.total.lost_characters == 6
    assert measure(latin, examples, limit=2).total.messages == 2


def test_summary_and_dict(latin):
    coverage = measure(latin, MESSAGES, chat_format=ChatFormat(SEQ2SEQ, "</s>"))
    assert summary(coverage) == (
        "40.4 % of characters lost (44 of 109, in 63.6 % of messages; top: ⏎ ×3, е ×2, к ×2); "
        "worst: Sara 100.0 %; names lost: Дима"
    )
    record = json.loads(json.dumps(coverage.to_dict()))
    assert record["lost_characters"] == 44
    assert record["top_lost"][0] == {"char": "\n", "shown": "⏎", "count": 3}
    assert record["senders"]["Wei"]["lost_characters"] == 5
    assert record["format"] == {
        "lost_names": ["Дима"],
        "boundaries_survive": True,
        "boundary_problem": None,
    }
    assert "format" not in measure(latin, MESSAGES).to_dict()


def test_empty_sample(latin):
    coverage = measure(latin, [])
    assert coverage == Coverage(total=Loss(0, 0, 0, 0))
    assert summary(coverage) == "no characters lost (0 in 0 messages)"


def test_shown():
    assert [shown(c) for c in "\n\t\u200d\ufe0f\u0301你🏽"] == [
        "⏎",
        "⇥",
        "U+200D",
        "U+FE0F",
        "◌\u0301",
        "你",
        "🏽",
    ]
