"""The reply and typeahead metrics, on small cases worked out by hand."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence

import pytest

from twinchat.evaluation.scoring import (
    best_of,
    chrf,
    count_keystrokes,
    cut_points,
    distinct_n,
    exact_match,
    first_word,
    keystroke_savings,
    next_words,
    rouge_l,
    tokenize,
    typeahead_scores,
)

REPLY = "see you there"  # 13 characters


def rest(replies: Sequence[str], typed: str) -> str:
    """The rest of the first of `replies` that starts with `typed`."""
    return next(r for r in replies if r.startswith(typed))[len(typed) :]


def oracle(replies: Sequence[str], extra: str = "") -> Callable[[str], str]:
    """A `complete` that knows the replies: the rest of the current (or next) word, + `extra`."""
    return lambda typed: re.match(r"\s*\S*", rest(replies, typed)).group() + extra


# Tokens and ROUGE-L


def test_tokenize_unicode_words_cjk_characters_and_emoji():
    assert tokenize("Привет, как дела?") == ["привет", "как", "дела"]
    assert tokenize("我爱你abc") == ["我", "爱", "你", "abc"]
    assert tokenize("ok ❤️ 👍🏽!") == ["ok", "❤", "👍"]
    # Devanagari vowel signs are combining marks: the word stays whole.
    assert tokenize("नमस्ते दोस्त") == ["नमस्ते", "दोस्त"]
    assert tokenize("e\u0301te\u0301") == tokenize("été") == ["été"]


def test_rouge_l_identical_and_disjoint():
    assert rouge_l(REPLY, "See you THERE!") == 1.0
    assert rouge_l("no way", REPLY) == 0.0


def test_rouge_l_partial():
    # candidate 3 tokens, reference 4, LCS "see you" = 2: P = 2/3, R = 2/4,
    # F = 2PR / (P + R) = (2/3) / (7/6) = 4/7.
    assert rouge_l(REPLY, "see you at home") == pytest.approx(4 / 7)
    # Swapped: P = 1/2, R = 2/3, and F is the same.
    assert rouge_l("see you at home", REPLY) == pytest.approx(4 / 7)


def test_rouge_l_non_latin():
    # [привет, как, дела] vs [привет, как, ты]: LCS 2, P = R = 2/3, F = 2/3.
    assert rouge_l("Привет, как дела?", "привет как ты") == pytest.approx(2 / 3)
    # [我, 爱, 你] vs [我, 也, 爱, 你]: LCS 3, P = 1, R = 3/4, F = 1.5 / 1.75 = 6/7.
    assert rouge_l("我爱你", "我也爱你") == pytest.approx(6 / 7)
    # [ok, 👍] vs [👍]: LCS 1, P = 1/2, R = 1, F = 1 / 1.5 = 2/3.
    assert rouge_l("ok 👍", "👍") == pytest.approx(2 / 3)
    # Mixed: [да, 好, 😀] vs [да, 😀]: LCS 2, P = 2/3, R = 1, F = (4/3) / (5/3) = 4/5.
    assert rouge_l("Да 好 😀", "да 😀") == pytest.approx(4 / 5)
    assert rouge_l("❤️", "❤") == 1.0


def test_rouge_l_empty():
    assert rouge_l("", "") == 1.0
    assert rouge_l("  ", "") == 1.0
    assert rouge_l("?", "?") == 1.0
    assert rouge_l("?", "!") == 0.0
    assert rouge_l("", REPLY) == 0.0
    assert rouge_l(REPLY, "") == 0.0


# chrF


def test_chrf_identical_disjoint_and_monotone():
    assert chrf(REPLY, REPLY) == pytest.approx(1.0)
    assert chrf("qqq", REPLY) == 0.0
    scores = [chrf(c, REPLY) for c in ("see", "see you", "see you the", REPLY)]
    assert 0.0 < scores[0] < scores[1] < scores[2] < scores[3] == pytest.approx(1.0)
    assert 0.0 < chrf("привет как ты", "привет как дела") < 1.0


def test_chrf_empty():
    assert chrf("", "") == 1.0
    assert chrf(" ", "") == 1.0
    assert chrf("", REPLY) == 0.0
    assert chrf(REPLY, "") == 0.0


# distinct-n and best-of


def test_distinct_n():
    candidates = ["see you", "See you there"]
    # Unigrams: see, you, see, you, there: 3 distinct of 5.
    assert distinct_n(candidates, 1) == pytest.approx(3 / 5)
    # Bigrams: (see you), (see you), (you there): 2 distinct of 3; none cross candidates.
    assert distinct_n(candidates, 2) == pytest.approx(2 / 3)
    # 我爱你 gives 3 unigrams, all distinct; 👍 👍 gives 2, 1 distinct: 4 of 5.
    assert distinct_n(["我爱你", "👍 👍"], 1) == pytest.approx(4 / 5)


def test_distinct_n_without_ngrams():
    assert distinct_n([], 1) == 0.0
    assert distinct_n(["", "hi"], 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(["hi"], 0)


def test_best_of():
    assert best_of(["no way", "see you at home", REPLY], REPLY, rouge_l) == 1.0
    assert best_of(["no way", "see you at home"], REPLY, rouge_l) == pytest.approx(4 / 7)
    assert best_of(iter(["a", "bbb"]), "", lambda c, r: len(c)) == 3
    assert best_of([], REPLY, rouge_l) == 0.0


# Exact match


def test_next_words():
    assert next_words("  ou  there\npal ", 2) == ["ou", "there"]
    assert next_words("ou", 3) == ["ou"]
    assert next_words("", 1) == []


def test_exact_match_mid_word():
    # "see y|ou there": the rest of "you" is the first word.
    assert exact_match(REPLY, 5, "ou there", 1)
    assert exact_match(REPLY, 5, "ou", 1)
    assert exact_match(REPLY, 5, "ou there pal", 2)
    assert exact_match(REPLY, 5, "ou \n there", 2)  # whitespace normalised
    assert not exact_match(REPLY, 5, "our", 1)  # "your"
    assert not exact_match(REPLY, 5, " ou", 1)  # "y ou"
    assert not exact_match(REPLY, 5, " there", 1)  # takes "y" for a word
    assert not exact_match(REPLY, 5, "OU", 1)  # case counts
    assert not exact_match(REPLY, 5, "ou here", 2)


def test_exact_match_fewer_words_left():
    # Only "you there" is left: a 3-word match needs exactly those two words.
    assert exact_match(REPLY, 5, "ou there", 3)
    assert not exact_match(REPLY, 5, "ou there pal", 3)
    assert not exact_match(REPLY, 5, "ou", 3)
    # Nothing left: only an empty (or blank) completion matches.
    assert exact_match(REPLY, 13, "", 1)
    assert exact_match(REPLY, 13, " ", 3)
    assert not exact_match(REPLY, 13, " pal", 1)
    assert not exact_match(REPLY, 13, "s", 1)


def test_exact_match_at_word_end_and_after_space():
    # "see you| there": "you" is done, the next word is "there".
    assert exact_match(REPLY, 7, " there", 1)
    assert not exact_match(REPLY, 7, "there", 1)  # "youthere"
    assert not exact_match(REPLY, 7, "r there", 1)  # "your"
    assert not exact_match(REPLY, 7, "", 1)
    # "see |you there"
    assert exact_match(REPLY, 4, "you there", 2)
    assert exact_match(REPLY, 4, " you", 1)
    assert not exact_match(REPLY, 4, "you", 2)
    # Nothing typed yet.
    assert exact_match(REPLY, 0, "see you", 2)


def test_exact_match_rejects_bad_arguments():
    with pytest.raises(ValueError):
        exact_match(REPLY, 14, "", 1)
    with pytest.raises(ValueError):
        exact_match(REPLY, -1, "", 1)
    with pytest.raises(ValueError):
        exact_match(REPLY, 1, "", 0)


# Keystroke savings


def test_first_word():
    assert first_word("ou there", "see y") == "ou"
    assert first_word(" there now", "see you") == " there"
    assert first_word(" there now", "see you ") == "there"
    assert first_word("\n see", "") == "see"
    assert first_word("   ", "see") == ""
    assert first_word("", "see") == ""


def test_keystroke_savings_perfect_oracle():
    # "" -> "see" (Tab), "see" -> " you" (Tab), "see you" -> " there" (Tab):
    # 3 keystrokes for 13 characters, savings = (13 - 3) / 13 = 10/13.
    complete = oracle([REPLY])
    assert count_keystrokes(REPLY, complete) == 3
    assert keystroke_savings(REPLY, complete) == pytest.approx(10 / 13)
    # Extra words after the first do not matter.
    assert keystroke_savings(REPLY, oracle([REPLY], " pal")) == pytest.approx(10 / 13)


def test_keystroke_savings_completing_words_only():
    # Suggests the rest of a word once it is begun, nothing at word ends or after spaces:
    # s (type), ee (Tab), " " (type), y (type), ou (Tab), " " (type), t (type), here (Tab):
    # 8 keystrokes, savings = (13 - 8) / 13 = 5/13.
    def complete(typed: str) -> str:
        word = oracle([REPLY])(typed)
        begun = typed and not typed[-1].isspace() and not word[:1].isspace()
        return word if begun else ""

    assert count_keystrokes(REPLY, complete) == 8
    assert keystroke_savings(REPLY, complete) == pytest.approx(5 / 13)


def test_keystroke_savings_accepts_a_prefix_of_the_word():
    # "" -> "you" (Tab), then "r" typed: 2 keystrokes for 4 characters, savings 1/2.
    assert keystroke_savings("your", lambda typed: "you" if not typed else "") == 0.5


def test_keystroke_savings_useless_and_wrong():
    assert keystroke_savings(REPLY, lambda typed: "") == 0.0
    # Blank suggestions are no suggestion, and must not loop.
    assert keystroke_savings(REPLY, lambda typed: "  ") == 0.0
    assert keystroke_savings(REPLY, lambda typed: "zzz qqq") == 0.0
    # Wrong mid-word: a space where the word goes on.
    assert keystroke_savings(REPLY, lambda typed: " " + typed) == 0.0


def test_keystroke_savings_max_calls():
    # One call: "see" (Tab), then 10 characters typed: 11 keystrokes, (13 - 11) / 13 = 2/13.
    assert keystroke_savings(REPLY, oracle([REPLY]), max_calls=1) == pytest.approx(2 / 13)
    assert keystroke_savings(REPLY, oracle([REPLY]), max_calls=0) == 0.0


def test_keystroke_savings_empty_reply():
    assert keystroke_savings("", oracle([""])) == 0.0


# Aggregate


def test_cut_points():
    # After "s", and at the starts of "you" (4) and "there" (8).
    assert cut_points(REPLY) == [1, 4, 8]
    assert cut_points("I am  here ") == [1, 2, 6]
    assert cut_points("k") == []
    assert cut_points("") == []


def test_typeahead_scores_perfect():
    replies = [REPLY, "ok"]
    scores = typeahead_scores(replies, lambda typed: rest(replies, typed))
    # Every cut (1, 4, 8 of REPLY; 1 of "ok") gets the whole rest: all match.
    # Keystrokes: 3 for REPLY (as above); for "ok", "" gets REPLY's "see" (wrong), "o" typed,
    # then "k" (Tab): 2 for 2 characters. Savings (10 + 0) / (13 + 2) = 2/3.
    assert scores == pytest.approx(
        {"exact_match@1": 1.0, "exact_match@3": 1.0, "keystroke_savings": 2 / 3}
    )


def test_typeahead_scores_first_word_right_rest_wrong():
    replies = [REPLY, "ok"]
    known = oracle(replies)

    def complete(typed: str) -> str:
        word = known(typed)
        return word if word.strip() == rest(replies, typed).strip() else word + " zzz"

    # REPLY at 1 "ee zzz", at 4 "you zzz": @1 right, @3 wrong; at 8 "there": both right.
    # "ok" at 1 "k": both right. @1 = 4/4, @3 = 2/4.
    # Keystrokes: 3 Tabs for REPLY, 2 keys for "ok" (as above): savings 10/15 = 2/3.
    assert typeahead_scores(replies, complete) == pytest.approx(
        {"exact_match@1": 1.0, "exact_match@3": 0.5, "keystroke_savings": 2 / 3}
    )


def test_typeahead_scores_useless_and_empty():
    zero = {"exact_match@1": 0.0, "exact_match@3": 0.0, "keystroke_savings": 0.0}
    assert typeahead_scores([REPLY, "ok"], lambda typed: "") == zero
    assert typeahead_scores([], lambda typed: "") == zero
    assert typeahead_scores([""], lambda typed: "") == zero


def test_typeahead_scores_custom_cuts():
    # One cut, "see y|ou there", answered "ou pal": @1 right, @3 wrong.
    scores = typeahead_scores([REPLY], lambda typed: "ou pal", cuts=lambda reply: [5])
    assert (scores["exact_match@1"], scores["exact_match@3"]) == (1.0, 0.0)


def test_import_is_light():
    code = (
        "import sys, twinchat.evaluation.scoring; "
        "print(sorted({'torch', 'transformers', 'nltk', 'sacrebleu'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
