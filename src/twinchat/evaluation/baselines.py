"""Baselines a fine-tune must beat, answering like a `Suggester` does.

* `Retrieval`: the replies that followed the most similar training contexts (TF-IDF of the
  last few messages, cosine similarity), as the classic retrieval chatbots do;
* `Frequent`: the speaker's most frequent messages ("ok", "lol", "thanks").

Both honour `as_` (only that person's replies) and `prefix` (only replies that go on from the
typed text), so they are measured exactly as the models are. For a person absent from the
training examples they answer from everyone's replies, as a model forced to write the new name
does.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from twinchat.data.example import Example, Turn, text_key
from twinchat.inference.suggester import CANDIDATES, Candidate

CONTEXT_TURNS = 3
"""How many of the latest messages describe a context for retrieval."""


def _context_text(turns: Sequence[Turn]) -> str:
    return " \n ".join(t.text for t in turns[-CONTEXT_TURNS:])


def _fits(text: str, prefix: str) -> bool:
    return text.startswith(prefix) and text_key(text) != text_key(prefix)


class Retrieval:
    """The reply that followed the most similar training context."""

    def __init__(self, examples: Sequence[Example]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.examples = list(examples)
        self.speakers = sorted({e.speaker for e in self.examples})
        self.known = set(self.speakers)
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
        self.matrix = self.vectorizer.fit_transform(_context_text(e.context) for e in examples)

    def suggest(
        self, messages: Sequence[Turn], as_: str | None = None, prefix: str = "",
        n: int = CANDIDATES, **_: Any,
    ) -> list[Candidate]:  # fmt: skip
        """The replies of the most similar contexts, best first; `score` is the similarity."""
        query = self.vectorizer.transform([_context_text(messages)])
        similarity = (self.matrix @ query.T).toarray().ravel()
        seen: set[str] = set()
        found: list[Candidate] = []
        known = as_ in self.known
        for index in similarity.argsort()[::-1]:
            example = self.examples[index]
            if known and example.speaker != as_:
                continue
            if not _fits(example.text, prefix) or text_key(example.text) in seen:
                continue
            seen.add(text_key(example.text))
            speaker = as_ if as_ is not None else example.speaker
            found.append(Candidate(example.text, speaker, float(similarity[index])))
            if len(found) == n:
                break
        return found


class Frequent:
    """Each speaker's most frequent messages; without `as_`, those of the most active one."""

    def __init__(self, examples: Sequence[Example]):
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.everyone: Counter[str] = Counter()
        self.spelling: dict[str, str] = {}
        for example in examples:
            key = text_key(example.text)
            self.counts[example.speaker][key] += 1
            self.everyone[key] += 1
            self.spelling.setdefault(key, example.text)
        totals = Counter({name: sum(c.values()) for name, c in self.counts.items()})
        self.speakers = [name for name, _ in totals.most_common()]

    def suggest(
        self, messages: Sequence[Turn], as_: str | None = None, prefix: str = "",
        n: int = CANDIDATES, **_: Any,
    ) -> list[Candidate]:  # fmt: skip
        """The speaker's most frequent messages (everyone's for a new name); `score` is the
        log of their share."""
        speaker = as_ if as_ is not None else (self.speakers[0] if self.speakers else None)
        counts = self.counts.get(speaker or "", self.everyone)
        total = sum(counts.values()) or 1
        found = []
        for key, count in counts.most_common():
            text = self.spelling[key]
            if _fits(text, prefix):
                found.append(Candidate(text, speaker, math.log(count / total)))
            if len(found) == n:
                break
        return found
