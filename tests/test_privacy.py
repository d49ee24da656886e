"""Scrubbing contact details and pseudonymizing names."""

from __future__ import annotations

import pytest

from twinchat.data.privacy import Pseudonymizer, scrub


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
        # what only libphonenumber's matcher finds
        ("my cell is (555) 123-4567", "my cell is [phone]"),
        ("ring +91 98765 43210", "ring [phone]"),
        ("+49 151 23456789 is Jo", "[phone] is Jo"),
        ("+55 11 91234-5678", "[phone]"),
        # and what it must leave
        ("version 1.2.3.4, ISBN 978-3-16-148410-0, ip 192.168.1.10", None),
        ("order #12345678, it cost $1,234,567, 1080x1920, 10,000 steps", None),
    ],
)
def test_scrub(text, expected):
    expected = text if expected is None else expected
    assert scrub(text) == expected


def test_pseudonyms_are_consistent_and_reach_into_texts():
    fake = Pseudonymizer(["Jamie Lee", "Bob", "Will"])
    assert len(set(fake.mapping.values())) == 3
    jamie, bob = fake.mapping["Jamie Lee"], fake.mapping["Bob"]
    first = jamie.split()[0]
    text = fake.text("Jamie Lee said hi to Jamie and Bob; will Bob come? Bobby stays")
    assert text == f"{jamie} said hi to {first} and {bob}; will {bob} come? {bob} stays"
    assert fake.name("Bob") == bob
    assert "Jamie" not in text and "Bob" not in text


# every form the probe of issue 16 found left behind, and the inflections it asked for
NAME_FORMS = [
    "anna",
    "ANNA",
    "Anna's",
    "Kowalska",
    "kowalska",
    "Kowalskiej",
    "Annę",
    "Annie",
    "@anna_k",
    "AnnaK",
    "anna.kowalska@example.org",
    "t.me/anna_kowalska",
    "ChatExport_Anna_Kowalska/result.json",
    "AnnaKowalska",
    "Benny",
    "benny",
    "@BenMiller",
    "BEN",
    "Анна",
    "анну",
    "Анны",
    "Аннушка",
    "Петровой",
]


@pytest.mark.parametrize("form", NAME_FORMS)
def test_every_form_of_a_name_is_replaced(form):
    fake = Pseudonymizer(
        ["Anna Kowalska", "Ben Miller", "Анна Петрова"], aliases={"Benny": "Ben Miller"}
    )
    text = fake.text(f"so {form} said")
    real = {"anna", "kowalsk", "ben", "анн", "петров"}
    assert not any(word in text.casefold() for word in real), text
    assert text.startswith("so ") and text.endswith(" said")


def test_handles_keep_their_shape_and_unknown_mentions_become_placeholders():
    fake = Pseudonymizer(["Anna Kowalska"])
    first, last = fake.mapping["Anna Kowalska"].split()
    assert fake.text("@anna_k hi") == f"@{first.lower()}_{last[0].lower()} hi"
    assert fake.text("AnnaK") == f"{first}{last[0]}"
    assert fake.text("@dmitry_v and @dmitry_v, @here") == "@user1 and @user1, @here"
    assert fake.text("mail jo@example.org") == "mail jo@example.org"


def test_everyday_words_and_kept_words_stay():
    fake = Pseudonymizer(["Will Smith", "Sam", "Ubuntu"], keep=["ubuntu"])
    will = fake.mapping["Will Smith"].split()[0]
    assert fake.text("will Will come? same") == f"will {will} come? same"
    assert fake.text("Ubuntu rocks") == "Ubuntu rocks"
    assert fake.name("Ubuntu") == fake.mapping["Ubuntu"]


def test_fakes_never_reuse_a_real_name():
    fake = Pseudonymizer(["Alex", "Blake Carter", "Zoe"])
    fakes = " ".join(fake.mapping.values())
    assert "Alex" not in fakes and "Blake" not in fakes and "Carter" not in fakes


def test_many_names_stay_distinct():
    names = [f"Person {i}" for i in range(300)]
    assert len(set(Pseudonymizer(names).mapping.values())) == 300


# --- Slavic inflections, diminutives and other scripts (issue 16) ---------------------------

SLAVIC = ["Анна Ковальская", "Иван Петров", "Jan Kowalski", "Petr Novák", "Maria Nowak", "Олег"]
SLAVIC_FORMS = {
    # Russian and Ukrainian cases, the vocative, diminutives
    "Анна Ковальская": "Анна Анны Анне Анну Анной Анною Анно Анни Анні Аннушка Аннушке Аня Ани "
    "Аню Аней Анечка Анечку Анька Анюта Ковальская Ковальской Ковальскую Ковальскою Ковальских "
    "Ковальский Ковальского АННА анну",
    "Иван Петров": "Иван Ивана Ивану Иваном Иване Іван Івана Іванові Іване Ваня Вани Ване Ваню "
    "Ванечка Ванюша Ванька Петров Петрова Петрову Петровым Петрове Петровых ИВАН ивана",
    # Polish cases and diminutives, the adjectival surname in every gender
    "Jan Kowalski": "Jan Jana Janowi Janem Janie Janek Janka Jankowi Jankiem Jasiu Jaś Jasiek "
    "Kowalski Kowalskiego Kowalskiemu Kowalskim Kowalska Kowalskiej Kowalską JAN",
    # Czech, with the wife's -ová
    "Petr Novák": "Petr Petra Petrovi Petrem Petře Petru Péťa Novák Nováka Novákovi Novákem "
    "Nováku Nováková Novákové Novákovou",
    # and in the other script: a Latin name written in Cyrillic, a Cyrillic one in Latin
    "Maria Nowak": "Maria Marii Marię Marią Mario Marysia Marysię Nowak Nowaka Nowakowi "
    "Nowakiem Nowakowa Мария Марии Марию Марией Новак Новака",
    "Олег": "Олег Олега Олегу Олегом Олеге Олегові Oleg Olega Olegowi",
}
ORDINARY = (
    "диван ванна ванной ванну анкета аннулировать анналы панно петля олень January janitor "
    "janky Janeiro jam annual annex marina mariachi petrol petroleum nowy nowa kowal kowalstwo "
    "manna света свет ivy jazz"
)


@pytest.mark.parametrize("sender", SLAVIC_FORMS)
def test_every_slavic_form_of_a_name_is_replaced(sender):
    fake = Pseudonymizer(SLAVIC)
    left = [form for form in SLAVIC_FORMS[sender].split() if fake.text(form) == form]
    assert left == []


def test_words_that_only_look_like_names_stay():
    fake = Pseudonymizer(SLAVIC)
    assert fake.text(ORDINARY) == ORDINARY
    # short names inflect only capitalised: `tomu`, `sama`, `dana` are everyday Slavic words
    fake = Pseudonymizer(["Tom", "Sam", "Dan"])
    assert fake.text("tomu sama dana") == "tomu sama dana"
    assert fake.text("Toma Samu Danem") == " ".join(fake.mapping[n] for n in ("Tom", "Sam", "Dan"))


def test_an_inflected_name_keeps_one_fake_across_scripts():
    fake = Pseudonymizer(["Maria Nowak", "Олег"])
    maria, oleg = fake.mapping["Maria Nowak"].split()[0], fake.mapping["Олег"]
    assert fake.text("Марию, Marię, Oleg, Олегу") == f"{maria}, {maria}, {oleg}, {oleg}"


def test_a_prepared_slavic_chat_holds_no_real_name(tmp_path):
    """`prepare --pseudonymize` over every form above: no output file keeps one."""
    import json
    import re

    from conftest import telegram_message

    from twinchat import PrepareOptions, prepare
    from twinchat.data.builder import BuildOptions

    messages = [
        telegram_message(i, sender, f"{SLAVIC_FORMS[other]} {ORDINARY}", 1_700_000_000 + 60 * i)
        for i, (sender, other) in enumerate(
            ((s, o) for _ in range(2) for s in SLAVIC for o in SLAVIC if o != s), 1
        )
    ]
    export = tmp_path / "ChatExport_Иван_Петров" / "result.json"
    export.parent.mkdir()
    chat = {"name": "Анна, Jan & Petr", "type": "private_group", "id": 9, "messages": messages}
    export.write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")
    build = BuildOptions(speakers=("Анна Ковальская", "Иван Петров"))
    prepare([export], tmp_path / "ds", PrepareOptions(build=build, pseudonymize=True, holdout=0.3))
    forms = {w.casefold() for text in SLAVIC_FORMS.values() for w in text.split()}
    real = re.compile(
        r"(?<![^\W\d_])(?:"
        + "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
        + r")(?![^\W\d_])",
        re.I,
    )
    files = sorted((tmp_path / "ds").iterdir())
    assert {p.name for p in files} >= {"messages.jsonl", "train.jsonl", "stats.json"}
    left = {p.name: real.findall(p.read_text(encoding="utf-8")) for p in files}
    assert left == {p.name: [] for p in files}
    kept = (tmp_path / "ds" / "messages.jsonl").read_text(encoding="utf-8")
    assert kept.count("диван ванна") == len(messages)  # and no ordinary word was taken


def test_an_alias_replaces_a_short_names_lower_case_inflection():
    """A name of three letters inflects only capitalised (`sama`, `tomu` are words); a user who
    writes the friend's name in lower case says so with an alias."""
    plain = Pseudonymizer(["Jan Kowalski"])
    assert plain.text("widziałem jana i Jana, sama").startswith("widziałem jana i ")
    told = Pseudonymizer(["Jan Kowalski"], aliases={"jana": "Jan Kowalski"})
    text = told.text("widziałem jana i Jana, sama")
    assert "jana" not in text.casefold() and text.endswith(", sama")
