"""Scrubbing contact details and pseudonymizing names."""

from __future__ import annotations

import pytest

from twinchat.privacy import Pseudonymizer, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 415 555 2671 now", "call [phone] now"),
        ("or 020 7946 0958", "or [phone]"),
        ("+79161234567", "[phone]"),
        ("mail jo.doe+x@mail.example.co.uk please", "mail [email] please"),
        ("see https://example.org/a?b=1 and www.example.com", "see [url] and [url]"),
        ("card 4111 1111 1111 1111 ok", "card [card] ok"),
        ("not a card 1234 5678 9012 3456", "not a card 1234 5678 9012 3456"),
        ("at 10:30 on 2024-05-01, 3 cats, 12345", "at 10:30 on 2024-05-01, 3 cats, 12345"),
        ("привет 🎸", "привет 🎸"),
    ],
)
def test_scrub(text, expected):
    assert scrub(text) == expected


def test_pseudonyms_are_consistent_and_reach_into_texts():
    fake = Pseudonymizer(["Jamie Lee", "Bob", "Will"])
    assert len(set(fake.mapping.values())) == 3
    jamie, bob = fake.mapping["Jamie Lee"], fake.mapping["Bob"]
    text = fake.text("Jamie Lee said hi to Jamie and Bob; will Bob come? Bobby stays")
    assert text == f"{jamie} said hi to {jamie} and {bob}; will {bob} come? Bobby stays"
    assert fake.name("Bob") == bob
    assert "Jamie" not in text and "Bob " not in text


def test_many_names_stay_distinct():
    names = [f"Person {i}" for i in range(300)]
    assert len(set(Pseudonymizer(names).mapping.values())) == 300
