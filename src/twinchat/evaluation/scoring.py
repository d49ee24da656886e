"""Text metrics for comparing suggested chat replies with the real one.

    from twinchat.evaluation.scoring import chrf, rouge_l, typeahead_scores
    rouge_l("see you there", "see you at home")     # 0.571...
    typeahead_scores(replies, complete=lambda typed: model_continuation(typed))

Reply-level figures: ROUGE-L (`rouge-score`) and chrF (`sacrebleu`), scaled to 0..1, the best of
several candidates, and distinct-n for their variety. Typeahead figures take the model as a
callable `complete(typed) -> continuation` and need nothing else: exact match of the next words
at chosen cut points, and keystroke savings of a simulated user who accepts correct suggestions.

Words for ROUGE-L and distinct-n come from `tokenize` (Unicode words, one token per CJK character
and per emoji); words for the typeahead figures are whitespace-separated, case and punctuation
kept, since those are what a user would have to type.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

# Han, kana: scripts written without spaces, so each character is a token (as sacrebleu's
# Chinese tokenizer does) rather than a whole clause being one "word".
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = (
    rf"[{_UNSPACED}]"
    # Emoji and other pictographs; skin tones (Sk), joiners and variation selectors are dropped.
    r"|\p{So}"
    # A word starts with a letter, digit or underscore; combining marks may follow, which
    # Python's `\w` lacks (it would split Devanagari "नमस्ते" at its vowel signs).
    rf"|(?:(?![{_UNSPACED}])[\p{{L}}\p{{N}}_])(?:(?![{_UNSPACED}])[\p{{L}}\p{{M}}\p{{N}}_])*"
)
_FIRST_WORD = re.compile(r"\s*\S+")


@cache
def _token_pattern() -> Any:
    # `regex` for \p{...} classes; it comes with sacrebleu and with nltk (rouge-score's).
    import regex

    return regex.compile(_TOKEN)


def tokenize(text: str) -> list[str]:
    """Lowercased tokens of `text`: Unicode words, single CJK characters and emoji."""
    return _token_pattern().findall(unicodedata.normalize("NFC", text).lower())


class _Tokenizer:
    """`tokenize` in the shape rouge-score asks for (its own drops all but [a-z0-9])."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


@cache
def _rouge_scorer() -> Any:
    # Imported on first use: it loads nltk, about half a second.
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], tokenizer=_Tokenizer())


@cache
def _chrf_metric() -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF()


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure (0..1) of `candidate` against `reference`, on `tokenize` tokens.

    Texts without tokens (empty, or only whitespace and punctuation) score 1.0 against each other
    when equal after whitespace normalisation, else 0.0; against a text with tokens, 0.0.
    """
    score = _rouge_scorer().score(reference, candidate)["rougeL"].fmeasure
    if score == 0.0 and not tokenize(candidate) and not tokenize(reference):
        return float(candidate.split() == reference.split())
    return float(score)


def chrf(candidate: str, reference: str) -> float:
    """sacrebleu's sentence chrF (character 6-grams, beta 2, case-sensitive), scaled to 0..1.

    Whitespace does not count, as in chrF itself; two texts that are empty or only whitespace
    score 1.0 (sacrebleu gives 0), one of them alone 0.0.
    """
    if not candidate.split() and not reference.split():
        return 1.0
    return _chrf_metric().sentence_score(candidate, [reference]).score / 100.0


def distinct_n(candidates: Iterable[str], n: int) -> float:
    """Distinct n-grams over all n-grams of `candidates` (each tokenized alone); 0.0 if none."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    total = 0
    seen: set[tuple[str, ...]] = set()
    for text in candidates:
        tokens = tokenize(text)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def best_of(
    candidates: Iterable[str], reference: str, metric: Callable[[str, str], float]
) -> float:
    """The highest `metric(candidate, reference)` over `candidates`; 0.0 when there are none."""
    return max((metric(candidate, reference) for candidate in candidates), default=0.0)


def next_words(text: str, count: int) -> list[str]:
    """The first `count` whitespace-separated words of `text` (fewer if it has fewer)."""
    return text.split(maxsplit=count)[:count]


def exact_match(reply: str, typed_chars: int, completion: str, words: int) -> bool:
    """Whether `completion`, suggested after `reply[:typed_chars]`, gets the next `words` right.

    Words are whitespace-separated and compared exactly (case and punctuation count; the kind and
    amount of whitespace does not), on the typed text joined with its continuation, so that a
    completion cannot glue onto or split the word it continues:

    - cut inside a word (`see y|ou there`): the first word is that whole word, so "ou there"
      matches 2 words and " ou" or "our" matches none;
    - cut at the end of a word (`see you| there`): that word must stay as it is (the completion
      must start with whitespace or be empty), and the words counted are those after it;
    - cut after whitespace (`see |you there`): the words counted are the next ones.

    When the reply has fewer than `words` words left, the completion must have exactly those
    and no more words within the first `words`; in general the first `words` words of both,
    counting a missing word as the end of the text, must be equal.
    """
    if not 0 <= typed_chars <= len(reply):
        raise ValueError(f"typed_chars {typed_chars} is outside the reply (0..{len(reply)})")
    if words < 1:
        raise ValueError(f"words must be at least 1, not {words}")
    typed, rest = reply[:typed_chars], reply[typed_chars:]
    if not typed or typed[-1].isspace():
        current, count = "", words
    else:
        current = typed.split()[-1]
        # A word already finished in the reply is not a word the completion predicted.
        count = words + 1 if not rest or rest[0].isspace() else words
    return next_words(current + completion, count) == next_words(current + rest, count)


def first_word(completion: str, typed: str = "") -> str:
    """What accepting `completion` after `typed` inserts: up to the end of its first word.

    That is the completion's leading whitespace and its first run of non-whitespace characters
    (`"ou there"` gives "ou", `" there now"` " there"); the leading whitespace is dropped when
    `typed` is empty or ends in whitespace. "" when the completion has no word.
    """
    if not typed or typed[-1].isspace():
        completion = completion.lstrip()
    found = _FIRST_WORD.match(completion)
    return found.group() if found else ""


def keystroke_savings(
    reply: str, complete: Callable[[str], str], max_calls: int | None = None
) -> float:
    """Keystroke savings rate (KSR) of typing `reply` with one suggestion shown at every point.

    The user starts from nothing; before each keystroke, including the first, the suggestion is
    `first_word(complete(typed), typed)`. If it is not empty and the reply continues with exactly
    that text, the user accepts it with one keystroke (Tab) even if the reply's word goes on
    ("you" is taken toward "your", then "r" is typed); otherwise the user types the next
    character with one keystroke. After `max_calls` calls to `complete` the rest is typed.

    KSR = 1 - keystrokes / len(reply), as in Trnka & McCoy (2008), "Evaluating word prediction:
    framing keystroke savings", with a single prediction (W = 1), selection costing one
    keystroke, and no space inserted after a word. Every keystroke adds at least one character,
    so it lies in 0..1; 0.0 for an empty reply.
    """
    return 1.0 - count_keystrokes(reply, complete, max_calls) / len(reply) if reply else 0.0


def count_keystrokes(
    reply: str, complete: Callable[[str], str], max_calls: int | None = None
) -> int:
    """Keystrokes the user of `keystroke_savings` spends on `reply` (at most `len(reply)`)."""
    position = spent = calls = 0
    while position < len(reply):
        spent += 1
        if max_calls is None or calls < max_calls:
            calls += 1
            typed = reply[:position]
            word = first_word(complete(typed), typed)
            # Empty suggestions are never accepted, so every keystroke moves on: no endless loop.
            if word and reply.startswith(word, position):
                position += len(word)
                continue
        position += 1
    return spent


def cut_points(reply: str) -> list[int]:
    """Where typeahead is scored: after the first character and at the start of each later word.

    A word starts after whitespace; cuts with only whitespace left after them are dropped.
    """
    starts = {1} | {
        i for i in range(1, len(reply)) if reply[i - 1].isspace() and not reply[i].isspace()
    }
    return sorted(i for i in starts if reply[i:].strip())


def typeahead_scores(
    replies: Sequence[str],
    complete: Callable[[str], str],
    cuts: Callable[[str], Iterable[int]] = cut_points,
    max_calls: int | None = None,
) -> dict[str, float]:
    """Exact match of the next 1 and 3 words, and keystroke savings, over `replies`.

    `complete` is called once per cut (from `cuts`, `cut_points` by default) for both exact
    match figures, which are means over all cuts of all replies pooled (0.0 when there are no
    cuts). `keystroke_savings` is weighted by characters: all saved keystrokes over all
    characters. `max_calls` bounds the calls per reply in the keystroke simulation.
    """
    at_1 = at_3 = scored = saved = characters = 0
    for reply in replies:
        for cut in cuts(reply):
            completion = complete(reply[:cut])
            at_1 += exact_match(reply, cut, completion, 1)
            at_3 += exact_match(reply, cut, completion, 3)
            scored += 1
        saved += len(reply) - count_keystrokes(reply, complete, max_calls)
        characters += len(reply)
    return {
        "exact_match@1": at_1 / scored if scored else 0.0,
        "exact_match@3": at_3 / scored if scored else 0.0,
        "keystroke_savings": saved / characters if characters else 0.0,
    }
