"""Style fidelity: does a reply written as Ana sound like Ana rather than like anyone?

Two measures, both on held-out examples, both for the real replies (the ceiling) and for each
model's candidates written as the real speaker:

* **style accuracy**: a "who wrote this?" classifier (`StyleClassifier`: character and word
  n-grams, TF-IDF, logistic regression) is fitted on the training split's replies of the people
  with at least `min_replies` of them; the share of texts it attributes to the person they were
  written as. Chance is one in the number of people.
* **style distance**: per person, a profile of their replies (`FEATURES`: mean length, share of
  punctuation characters, share of replies with an emoji, share of cased replies written all in
  lowercase) against the profile of the candidates written as them; 0 is the same profile.

A text that is one of the training replies (a baseline quotes them, a model may recite them, a
held-out "ok" repeats one) would be recognised rather than judged: the classifier was fitted on
it and on the rest of its conversation. So the training replies, in their order, are cut into
blocks of `BLOCK` consecutive replies of one session (a stretch of one conversation), dealt to
`FOLDS` folds in turn, and a text equal to a training reply is judged by a classifier fitted on
the other folds (cross-fitting). A reply said once is then never seen by its judge.

Baselines that quote a person's training replies can still score above the real held-out
replies: the frequent messages are a person's most typical lines (and copies of them in other
folds stay known), and retrieval picks replies on the topics of the held-out context. On the
bundled IRC example (34 people, 79 held-out replies by them): real replies 0.19 [0.10, 0.28],
retrieval 0.40, frequent 0.64; fitted on everything, without folds, 0.92 and 0.79.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from twinchat.data.example import Example, text_key
from twinchat.evaluation.intervals import Parts, bootstrap

FEATURES = ("length", "punctuation", "emoji", "lowercase")
"""The style profile: mean characters per reply; share of characters that are punctuation;
share of replies with an emoji; share of replies with letters that have no capital."""
FAR = 0.25
"""A feature this far from the person's real replies is a style gap worth showing."""
FOLDS = 5
"""Folds of the training replies for judging texts equal to one of them."""
BLOCK = 50
"""Consecutive replies of a session that go to the same fold: about one conversation."""


class StyleClassifier:
    """Who wrote this? Fitted on the training replies of people with `min_replies` or more.

    Character n-grams keep case and punctuation (how someone writes); word n-grams are
    lowercased (what they write about). Classes are weighted by their size, so a talkative
    person does not win every doubt and chance is one in `len(speakers)`. A text equal to a
    training reply is judged by the classifier of the folds without it (see the module).
    """

    def __init__(self, examples: Sequence[Example], min_replies: int):
        counts = Counter(e.speaker for e in examples if e.text.strip())
        self.replies = {name: n for name, n in sorted(counts.items()) if n >= min_replies}
        """Training replies of each person the classifier knows."""
        self.speakers = list(self.replies)
        kept = [e for e in examples if e.speaker in self.replies and e.text.strip()]
        self.pairs = [(e.text, e.speaker) for e in kept]
        self.folds = _folds(kept)
        self.fold_of: dict[str, int] = {}
        """A training reply's text -> the fold of its first copy. Copies said in other folds
        stay known to that fold's classifier: a line someone says again and again is their
        habit, not a text to hide."""
        for (text, _), fold in zip(self.pairs, self.folds, strict=True):
            self.fold_of.setdefault(text_key(text), fold)
        self.model: Any = None
        self.without: dict[int, Any] = {}
        """Fold -> the classifier fitted without it, fitted when first needed."""
        if len(self.speakers) >= 2:  # one class cannot be told from anything
            self.model = _pipeline().fit(*zip(*self.pairs, strict=True))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The likeliest author of each text."""
        if self.model is None or not texts:
            return []
        groups: dict[int | None, list[int]] = {}  # fold (None: no training reply) -> texts
        for i, text in enumerate(texts):
            groups.setdefault(self.fold_of.get(text_key(text)), []).append(i)
        found = [""] * len(texts)  # "" where no classifier is left to judge: no one's
        for fold, indices in groups.items():
            model = self.model if fold is None else self._without(fold)
            if model is not None:
                labels = model.predict([texts[i] for i in indices])
                for i, label in zip(indices, labels, strict=True):
                    found[i] = str(label)
        return found

    def _without(self, fold: int) -> Any:
        if fold not in self.without:
            kept = [p for p, f in zip(self.pairs, self.folds, strict=True) if f != fold]
            enough = len({s for _, s in kept}) >= 2
            self.without[fold] = _pipeline().fit(*zip(*kept, strict=True)) if enough else None
        return self.without[fold]

    def attributed(self, speaker: str, texts: Sequence[str]) -> tuple[float, float] | None:
        """(texts attributed to `speaker`, texts), or None when the classifier does not know
        `speaker`. No text at all counts as one text not attributed: silence sounds like
        no one."""
        if self.model is None or speaker not in self.replies:
            return None
        if not texts:
            return 0.0, 1.0
        return float(sum(g == speaker for g in self.predict(texts))), float(len(texts))


def _folds(examples: Sequence[Example]) -> list[int]:
    """The fold of each example: blocks of `BLOCK` consecutive examples of one session, dealt
    to the folds in turn."""
    folds, block, size, last = [], -1, 0, None
    for example in examples:
        session = (example.chat, example.session)
        if session != last or size == BLOCK:
            block, size, last = block + 1, 0, session
        size += 1
        folds.append(block % FOLDS)
    return folds


def _pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 4), lowercase=False, sublinear_tf=True
    )
    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
    )
    linear = LogisticRegression(max_iter=2000, class_weight="balanced")
    return make_pipeline(make_union(chars, words), linear)


def profile_parts(texts: Sequence[str]) -> dict[str, tuple[float, float]]:
    """(numerator, denominator) of each of `FEATURES` over `texts`, so that profiles of several
    examples add up: length (characters, replies), punctuation (punctuation characters,
    characters), emoji (replies with one, replies), lowercase (lowercase-only replies, replies
    with a cased letter)."""
    chars = sum(len(t) for t in texts)
    cased = [t for t in texts if any(c.isupper() or c.islower() for c in t)]
    return {
        "length": (float(chars), float(len(texts))),
        "punctuation": (float(sum(_punctuation(t) for t in texts)), float(chars)),
        "emoji": (float(sum(bool(_emoji().search(t)) for t in texts)), float(len(texts))),
        "lowercase": (float(sum(not any(c.isupper() for c in t) for t in cased)), len(cased)),
    }


def _punctuation(text: str) -> int:
    return sum(unicodedata.category(c).startswith("P") for c in text)


@cache
def _emoji() -> Any:
    import regex  # comes with sacrebleu and nltk, as in scoring

    # Extended_Pictographic holds the emoji and nothing of the ordinary letters or digits.
    return regex.compile(r"\p{Extended_Pictographic}")


class StyleProfiles:
    """Profiles of each person's real replies and of one or more models' candidates, on the
    same examples, and the distances between them, with bootstrap intervals over examples.

    `speakers[i]` is who wrote example i (None: left out); `real[i]` and `written[model][i]`
    are the profile parts (`profile_parts`) of the real reply and of the model's candidates.
    """

    def __init__(
        self,
        speakers: Sequence[str | None],
        real: Sequence[Mapping[str, tuple[float, float]]],
        written: Mapping[str, Sequence[Mapping[str, tuple[float, float]]]],
    ):
        self.people = sorted({s for s in speakers if s is not None})
        index = {name: i for i, name in enumerate(self.people)}
        self.onehot = np.zeros((len(speakers), len(self.people)))
        for row, speaker in enumerate(speakers):
            if speaker is not None:  # None: an example no profile counts
                self.onehot[row, index[speaker]] = 1.0
        self.real = _stack(real)
        self.written = {model: _stack(parts) for model, parts in written.items()}

    def profiles(self, who: str | None = None) -> dict[str, dict[str, float | None]]:
        """Person -> feature -> value, of the real replies (`who` None) or a model's."""
        sums = self._sums(self.real if who is None else self.written[who], self._ones())
        return {
            person: {f: _number(sums[f][0, p]) for f in FEATURES}
            for p, person in enumerate(self.people)
        }

    def distances(
        self, model: str, seed: int = 0, keep: Collection[int] | None = None
    ) -> dict[str, Any]:
        """The model's style distances: "overall" (value, low, high), the mean of the people's
        distances weighted by their examples; "people": person -> (value, low, high); and
        "features": person -> feature -> value. Only examples in `keep` (all by default)."""
        mask = np.ones(len(self.onehot)) if keep is None else np.zeros(len(self.onehot))
        if keep is not None:
            mask[list(keep)] = 1.0
        chosen = np.flatnonzero(mask)

        def spread(draws: np.ndarray) -> np.ndarray:
            """Resampled counts of the chosen examples as weights of all examples."""
            weights = np.zeros((len(draws), len(mask)))
            weights[:, chosen] = draws
            return weights

        point, per_person, features = self._distance(model, mask[None, :], detail=True)
        overall = bootstrap(lambda d: self._distance(model, spread(d))[0], len(chosen), seed)
        people = {}
        for p, person in enumerate(self.people):
            if np.isfinite(per_person[0, p]):
                span = bootstrap(
                    lambda d, p=p: self._distance(model, spread(d))[1][:, p], len(chosen), seed
                )
                people[person] = (float(per_person[0, p]), *(span or (None, None)))
        return {
            "overall": (_number(point[0]), *(overall or (None, None))),
            "people": people,
            "features": features,
        }

    def _distance(self, model: str, weights: np.ndarray, detail: bool = False) -> Any:
        """(overall (B,), per person (B, P)[, features]) for rows of example weights (B, n)."""
        real, mine = self._sums(self.real, weights), self._sums(self.written[model], weights)
        gaps = []
        for feature in FEATURES:
            r, m = real[feature], mine[feature]
            gap = np.abs(m - r)
            if feature == "length":  # relative, so that all features lie in 0..1
                with np.errstate(invalid="ignore", divide="ignore"):
                    gap = gap / np.maximum(m, r)
                gap = np.where((m == 0) & (r == 0), 0.0, gap)
            gaps.append(gap)
        stacked = np.stack(gaps)  # (F, B, P)
        with np.errstate(invalid="ignore"):
            defined = np.isfinite(stacked)
            per_person = np.where(defined, stacked, 0).sum(0) / defined.sum(0)
        examples = weights @ self.onehot  # (B, P): each person's examples in the resample
        counted = np.where(np.isfinite(per_person), examples, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            overall = np.where(counted > 0, np.nan_to_num(per_person) * counted, 0).sum(1)
            overall = overall / counted.sum(1)
        if not detail:
            return overall, per_person
        features = {
            person: {f: _number(gaps[i][0, p]) for i, f in enumerate(FEATURES)}
            for p, person in enumerate(self.people)
        }
        return overall, per_person, features

    def _sums(self, stacked: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Feature -> (B, P) value of each person's profile, NaN where nothing counts."""
        found = {}
        for f, feature in enumerate(FEATURES):
            num = (weights * stacked[:, f, 0]) @ self.onehot
            den = (weights * stacked[:, f, 1]) @ self.onehot
            with np.errstate(invalid="ignore", divide="ignore"):
                found[feature] = np.where(den > 0, num / den, np.nan)
        return found

    def _ones(self) -> np.ndarray:
        return np.ones((1, len(self.onehot)))


def accuracy_parts(
    classifier: StyleClassifier, speakers: Sequence[str], texts: Sequence[Sequence[str]]
) -> Parts:
    """Example index -> (texts attributed to the example's speaker, texts), for the examples
    whose speaker the classifier knows."""
    parts = {}
    for i, (speaker, written) in enumerate(zip(speakers, texts, strict=True)):
        found = classifier.attributed(speaker, written)
        if found is not None:
            parts[i] = found
    return parts


def _stack(parts: Sequence[Mapping[str, tuple[float, float]]]) -> np.ndarray:
    """(n, F, 2) array of the examples' (numerator, denominator) per feature."""
    return np.array([[p[f] for f in FEATURES] for p in parts], dtype=float).reshape(
        len(parts), len(FEATURES), 2
    )


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
