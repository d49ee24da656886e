"""How much of a chat a tokenizer can read and write: what does not come back from encode → decode.

FLAN-T5's vocabulary has no newline, tab, `{`, `}` or `<` and turns Chinese, Japanese, most emoji
and much non-Latin text into `<unk>`; fast tokenizers drop SentencePiece's byte fallback, so even
mT5 loses characters it never saw. A model cannot read or write what its tokenizer loses, so this
is measured on a sample of the chat, before any training.

What counts as lost:

- A character is a Unicode code point: an emoji with a skin tone is two, a ZWJ family of three
  is five (three people, two joiners).
- Each message is encoded without the tokenizer's added special tokens and decoded with special
  tokens kept (a literal `</s>` in a message comes back) but `<unk>` ids removed, so an unknown
  character leaves nothing behind.
- The round trip is compared with the message after the normalisation the tokenizer declares
  (`backend_tokenizer.normalizer`, e.g. NFKC: "ﬁ" → "fi" is no loss). The normaliser only sees
  the text between whitespace, so it cannot declare a line break away (FLAN-T5's maps it to a
  space), and a `▁` it writes (SentencePiece's visible space) is a space.
- Spaces are layout, not content: every whitespace character except line breaks and tabs is
  ignored on both sides, so collapsed runs of spaces, a dropped leading space or a no-break
  space turned into a space cost nothing. Line breaks and tabs are characters like any other: a
  newline that comes back as a space is lost, and a multi-line message with it.
- The lost characters are the multiset difference, normalised message minus round trip.
  Tokenizers delete (an unknown character becomes `<unk>`, whitespace folds), they do not
  reorder, so counting is as exact as an alignment and much faster; only a character the decoder
  adds (U+FFFD) could hide the loss of that same character.

Names and boundaries, checked when a `ChatFormat` is given: a speaker's name is lost when the
round trip of `format.message(name, "x")` does not start with it; boundaries survive when the
end token is one token of the vocabulary that ends each message of a two-message context, and,
for causal models, the line break between messages comes back.

`shown` prints a character for people: ⏎ a line break, ⇥ a tab, a combining mark on a dotted
circle (◌́), other invisible characters (joiners, variation selectors, controls) as U+200D.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from twinchat.data.example import Example, Turn
from twinchat.data.formats import ChatFormat
from twinchat.models import CAUSAL

LIMIT = 5000
"""Messages measured by default: enough for the figures, a second or two with a fast tokenizer."""

_KEPT = "\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029"  # line breaks (as str.splitlines) and the tab
# U+3000 is the last whitespace code point.
_SPACES = {i: None for i in range(0x3001) if chr(i).isspace() and chr(i) not in _KEPT}
_WHITESPACE = re.compile(r"(\s+)")
_METASPACE = "\u2581"
_SHOWN = {"\n": "⏎", "\t": "⇥"}


@dataclass(frozen=True)
class Loss:
    """What the round trip loses from some messages."""

    messages: int
    characters: int
    """Characters compared: after normalisation, spaces left out."""
    lost_messages: int
    """Messages with at least one character lost."""
    lost_characters: int
    top: tuple[tuple[str, int], ...] = ()
    """The characters lost most often, with their counts, most frequent first."""

    @property
    def character_share(self) -> float:
        return self.lost_characters / self.characters if self.characters else 0.0

    @property
    def message_share(self) -> float:
        return self.lost_messages / self.messages if self.messages else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "characters": self.characters,
            "lost_messages": self.lost_messages,
            "lost_characters": self.lost_characters,
            "lost_message_share": round(self.message_share, 6),
            "lost_character_share": round(self.character_share, 6),
            "top_lost": [{"char": c, "shown": shown(c), "count": n} for c, n in self.top],
        }


@dataclass(frozen=True)
class Coverage:
    """A tokenizer's coverage of a chat: all messages, each sender, names and boundaries."""

    total: Loss
    senders: dict[str, Loss] = field(default_factory=dict)
    """The same figures per sender, most messages first."""
    format_checked: bool = False
    """Whether names and boundaries were checked (a chat format was given)."""
    lost_names: tuple[str, ...] = ()
    """Speaker names that do not come back from the chat format."""
    boundary_problem: str | None = None
    """Why message boundaries do not survive the chat format; None when they do."""

    def to_dict(self) -> dict[str, Any]:
        record = self.total.to_dict()
        record["senders"] = {name: loss.to_dict() for name, loss in self.senders.items()}
        if self.format_checked:
            record["format"] = {
                "lost_names": list(self.lost_names),
                "boundaries_survive": self.boundary_problem is None,
                "boundary_problem": self.boundary_problem,
            }
        return record


def measure(
    tokenizer: Any,
    messages: Iterable[tuple[str, str] | Example],
    *,
    chat_format: ChatFormat | None = None,
    limit: int | None = LIMIT,
    top: int = 20,
) -> Coverage:
    """What `tokenizer` loses of the first `limit` messages (pass a sample for an even one).

    Args:
        tokenizer: a Hugging Face tokenizer; fast ones declare their normalisation.
        messages: `(sender, text)` pairs, or examples: each reply, and each context message
            once per session however many contexts repeat it.
        chat_format: the model-input format whose names and boundaries to check.
        limit: most messages measured; None for all.
        top: how many of the most often lost characters to keep, overall and per sender.
    """
    sample = list(islice(_messages(messages), limit))
    reference = _reference(tokenizer)
    back = _round_trip(tokenizer, [text for _, text in sample])
    figures: dict[str, _Tally] = {}
    total = _Tally()
    for (sender, text), decoded in zip(sample, back, strict=True):
        expected = reference(text)
        lost = _lost(expected, decoded)
        for tally in (total, figures.setdefault(sender, _Tally())):
            tally.add(len(expected), lost)
    lost_names: tuple[str, ...] = ()
    boundary_problem = None
    if chat_format is not None:
        lost_names = _lost_names(tokenizer, chat_format, list(figures), reference)
        boundary_problem = _boundary_problem(tokenizer, chat_format, reference)
    ranked = sorted(figures.items(), key=lambda item: -item[1].messages)
    return Coverage(
        total=total.loss(top),
        senders={name: tally.loss(top) for name, tally in ranked},
        format_checked=chat_format is not None,
        lost_names=lost_names,
        boundary_problem=boundary_problem,
    )


def summary(coverage: Coverage) -> str:
    """One line for the terminal, e.g. `0.8 % of characters lost (312 of 40,210, in 2.1 % of
    messages; top: 你 ×40, 😂 ×31, ⏎ ×20)`."""
    total = coverage.total
    if not total.lost_characters:
        parts = [f"no characters lost ({total.characters:,} in {total.messages:,} messages)"]
    else:
        top = ", ".join(f"{shown(c)} ×{n:,}" for c, n in total.top[:3])
        parts = [
            f"{_percent(total.character_share)} of characters lost ({total.lost_characters:,} "
            f"of {total.characters:,}, in {_percent(total.message_share)} of messages; top: {top})"
        ]
        worst, loss = max(coverage.senders.items(), key=lambda item: item[1].character_share)
        if len(coverage.senders) > 1 and loss.character_share > 2 * total.character_share:
            parts.append(f"worst: {worst} {_percent(loss.character_share)}")
    if coverage.lost_names:
        names = coverage.lost_names
        more = f" and {len(names) - 3:,} more" if len(names) > 3 else ""
        parts.append(f"names lost: {', '.join(names[:3])}{more}")
    if coverage.boundary_problem:
        parts.append(f"message boundaries lost: {coverage.boundary_problem}")
    return "; ".join(parts)


def shown(char: str) -> str:
    """A character as people can read it in a terminal or a report."""
    if char in _SHOWN:
        return _SHOWN[char]
    if unicodedata.name(char, "").startswith("VARIATION SELECTOR") or not char.isprintable():
        return f"U+{ord(char):04X}"
    if unicodedata.category(char).startswith("M"):
        return f"◌{char}"  # a combining mark needs a base to be seen
    return char


@dataclass
class _Tally:
    messages: int = 0
    characters: int = 0
    lost_messages: int = 0
    lost: Counter[str] = field(default_factory=Counter)

    def add(self, characters: int, lost: Counter[str]) -> None:
        self.messages += 1
        self.characters += characters
        if lost:
            self.lost_messages += 1
            self.lost.update(lost)

    def loss(self, top: int) -> Loss:
        return Loss(
            messages=self.messages,
            characters=self.characters,
            lost_messages=self.lost_messages,
            lost_characters=self.lost.total(),
            top=tuple(self.lost.most_common(top)),
        )


def _messages(items: Iterable[tuple[str, str] | Example]) -> Iterator[Turn]:
    """Each message once: a context message returns in the next examples' contexts, so only
    the copies a session has not yet yielded are new (a repeated "ok" is counted as often as
    one context holds it)."""
    yielded: dict[tuple[str, str], Counter[Turn]] = {}
    for item in items:
        if not isinstance(item, Example):
            yield Turn(*item)
            continue
        seen = yielded.setdefault((item.chat, item.session), Counter())
        for turn, count in Counter(item.context).items():
            for _ in range(count - seen[turn]):
                yield turn
            seen[turn] = max(seen[turn], count)
        reply = Turn(item.speaker, item.text)
        seen[reply] += 1
        yield reply


def _reference(tokenizer: Any) -> Callable[[str], str]:
    """The text as the tokenizer means to see it, spaces left out (see the module docstring)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)  # slow tokenizers have none
    normalizer = backend.normalizer if backend is not None else None
    if normalizer is None:
        return lambda text: text.translate(_SPACES)
    cache: dict[str, str] = {}  # chat words repeat: most are normalised once

    def normalized(word: str) -> str:
        if word not in cache:
            out = normalizer.normalize_str(word)
            if _METASPACE in out and _METASPACE not in word:
                out = out.replace(_METASPACE, " ")
            cache[word] = out
        return cache[word]

    def reference(text: str) -> str:
        parts = _WHITESPACE.split(text)
        parts[::2] = [normalized(word) for word in parts[::2]]
        return "".join(parts).translate(_SPACES)

    return reference


def _round_trip(tokenizer: Any, texts: Sequence[str]) -> list[str]:
    """Each text encoded and decoded, `<unk>` ids dropped, spaces left out."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False)
    encoded = encoded["input_ids"]
    unknown = tokenizer.unk_token_id
    if unknown is not None:
        encoded = [[i for i in ids if i != unknown] for ids in encoded]
    decoded = tokenizer.batch_decode(
        encoded, skip_special_tokens=False, clean_up_tokenization_spaces=False
    )
    return [text.translate(_SPACES) for text in decoded]


def _lost(expected: str, decoded: str) -> Counter[str]:
    if expected == decoded:
        return Counter()
    return Counter(expected) - Counter(decoded)


def _lost_names(
    tokenizer: Any, chat_format: ChatFormat, names: list[str], reference: Callable[[str], str]
) -> tuple[str, ...]:
    back = _round_trip(tokenizer, [chat_format.message(name, "x") for name in names])
    return tuple(
        name for name, decoded in zip(names, back, strict=True)
        if not decoded.startswith(reference(name))
    )  # fmt: skip


def _boundary_problem(
    tokenizer: Any, chat_format: ChatFormat, reference: Callable[[str], str]
) -> str | None:
    end = chat_format.end
    end_id = tokenizer.convert_tokens_to_ids(end)
    if end_id is None or end_id == tokenizer.unk_token_id:
        return f"the end token {end!r} is not in the vocabulary"
    text = chat_format.context([Turn("A", "x"), Turn("B", "y")])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if ids.count(end_id) != 2:
        return f"the end token {end!r} does not come back as one token"
    if chat_format.family == CAUSAL:
        lost = _lost(reference(text), _round_trip(tokenizer, [text])[0])
        if lost["\n"]:
            return "the line break between messages is lost"
    return None


def _percent(share: float) -> str:
    if 0 < share < 0.001:
        return "<0.1 %"
    return f"{share * 100:.1f} %"
