"""Take people out of a dataset: placeholders for contact details, fake names for people."""

from __future__ import annotations

import re
from collections.abc import Iterable

URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9.-]+\.(?:com|org|net|io|ru|de)/\S*", re.I
)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# 13-19 digits in groups, checked with Luhn below so ordinary long numbers survive
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# an international number, or a local one with separators; bare short numbers and times stay
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){2,4}(?!\w)"
    r"|(?<![\w+])\+\d{8,15}(?!\w)"
)
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_MAYBE = re.compile(r"[@\d]|www\.|://")

GIVEN_NAMES = [
    "Alex",
    "Blake",
    "Casey",
    "Dana",
    "Eden",
    "Finley",
    "Gray",
    "Harper",
    "Indy",
    "Jordan",
    "Kai",
    "Lane",
    "Morgan",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Riley",
    "Sage",
    "Taylor",
    "Umi",
    "Val",
    "Wren",
    "Yael",
    "Zion",
    "Ari",
    "Bay",
    "Cody",
    "Drew",
    "Ellis",
    "Frankie",
    "Gale",
    "Hayden",
    "Jesse",
    "Kendall",
    "Logan",
    "Marlo",
    "Nico",
    "Onyx",
    "Peyton",
    "Reese",
    "Rowan",
    "Sasha",
    "Skyler",
    "Tatum",
    "Toby",
    "Vic",
    "Winter",
]


def scrub(text: str) -> str:
    """Phone numbers, e-mail addresses, URLs and card numbers become `[phone]`, `[email]`…"""
    if not _MAYBE.search(text):
        return text
    text = EMAIL.sub("[email]", text)
    text = URL.sub("[url]", text)
    text = CARD.sub(_card, text)
    return PHONE.sub(_phone, text)


def _card(match: re.Match[str]) -> str:
    digits = [int(c) for c in match.group(0) if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return match.group(0)
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return "[card]" if total % 10 == 0 else match.group(0)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    return "[phone]" if 7 <= digits <= 15 and not _DATE.fullmatch(found) else found


class Pseudonymizer:
    """Consistent fake names for real ones, in sender fields and inside texts."""

    def __init__(self, names: Iterable[str]):
        self.mapping: dict[str, str] = {}
        for i, name in enumerate(names):
            fake = GIVEN_NAMES[i % len(GIVEN_NAMES)]
            if i >= len(GIVEN_NAMES):
                fake += f" {i // len(GIVEN_NAMES) + 1}"
            self.mapping[name] = fake
        self._words = self._mentionable()
        alternatives = sorted(self._words, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<!\w)(" + "|".join(map(re.escape, alternatives)) + r")(?!\w)")
            if alternatives
            else None
        )

    def _mentionable(self) -> dict[str, str]:
        """Full names, plus first names where only one person has them."""
        words = dict(self.mapping)
        firsts: dict[str, list[str]] = {}
        for name in self.mapping:
            first = name.split()[0] if name.split() else name
            if first != name and len(first) >= 3:
                firsts.setdefault(first, []).append(name)
        for first, owners in firsts.items():
            if len(owners) == 1 and first not in words:
                words[first] = self.mapping[owners[0]].split()[0]
        return words

    def name(self, name: str | None) -> str | None:
        if name is None:
            return None
        return self.mapping.get(name) or self.text(name)

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._words[m.group(1)], text)
