"""Take people out of a dataset: placeholders for contact details, fake names for people."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

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
    text = PHONE.sub(_phone, text)
    return _library_phones(text) if len(_DIGIT.findall(text)) >= 7 else text


_DIGIT = re.compile(r"\d")


def _library_phones(text: str) -> str:
    """What the regex missed, found by libphonenumber's matcher: national layouts such as
    `(555) 123-4567` and international ones such as `+49 151 23456789`. Measured on 30 numbers
    of 25 countries and 20 look-alikes (versions, dates, prices, IPs, ISBNs): the regex alone
    found 21 and the two together 27, with no look-alike taken, at 14 µs a message instead of
    2.5. Region US: other regions' national layouts match nearly any run of digits."""
    import phonenumbers

    lenient = phonenumbers.Leniency.POSSIBLE
    for match in reversed(list(phonenumbers.PhoneNumberMatcher(text, "US", leniency=lenient))):
        text = text[: match.start] + "[phone]" + text[match.end :]
    return text


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


SURNAMES = [
    "Carter", "Ellison", "Fischer", "Hale", "Ito", "Jensen", "Kerr", "Lindqvist", "Moreau",
    "Okafor", "Quinlan", "Reyes", "Sato", "Tanaka", "Vance", "Walsh", "Young", "Abbott",
    "Brooks", "Dalton", "Everett", "Foster", "Grant", "Hayes", "Irwin", "Keane", "Lowe",
    "Marsh", "Nash", "Price", "Rhodes", "Shaw", "Thorne", "Wade", "Yates", "Zeller",
]  # fmt: skip

_COMMON = """
    will bill mark may june april august grace hope joy faith rose jack frank art bob sue pat
    rob don ken guy ray dawn amber ruby summer sky chase hunter gene jean penny rich sunny lily
    iris ivy holly daisy violet olive pearl crystal angel sandy rusty brook dale glen cliff lane
    drew miles max pepper honey nick jay bud carol herb major star earl grant hale price young
    вера надежда любовь роман лев слава роза лилия мила света мишка серёжка"""
COMMON_WORDS = frozenset(_COMMON.split())
"""Given names that are also everyday words: written in lower case, they are left alone."""

# Endings that names take in text. Latin: English and German genitive, diminutives (Ben →
# Benny), Polish and Czech cases (Anna → Annę, Jan → Janowi, Petr → Petrovi), adjectival
# surnames (Kowalski → Kowalskiego, Kowalska → Kowalskiej) and wives' names (Novák →
# Nováková, Nowak → Nowakowa). Cyrillic: Russian and Ukrainian cases (Анна → Анну, Анні,
# Анно), diminutives (Аннушка) and adjectival surnames (Ковальская → Ковальской). `lower` ones
# are distinctive enough to match in lower case; the others (Sam+e is "same") only when
# capitalised, and so are all endings of names of three letters or fewer (`tomu`, `sama` and
# `dana` are everyday Polish and Czech words).
_LATIN_LOWER = (
    "ie", "ey", "ę", "ą", "owi", "iem", "iej", "iego", "iemu", "ich", "imi", "ovi", "ová", "ové",
    "ovou", "owa", "owej", "ową", "ého", "ému", "ým", "ých", "ými", "ém", "ou",
)  # fmt: skip
_LATIN_CAPITAL = (
    "s", "y", "i", "a", "u", "e", "o", "em", "ej", "ego", "im", "om", "ek", "ka", "kiem",
    "kowi", "ku", "ki", "ce", "ova", "ove", "ovi", "ich", "ym", "ych",
)  # fmt: skip
_CYRILLIC = (
    "а", "я", "у", "ю", "ы", "и", "е", "о", "і", "ї", "ой", "ей", "ою", "ею", "ом", "ем", "ём",
    "ым", "ых", "ыми", "ов", "ові", "еві", "єві", "ин", "ина", "ину", "ины", "ке", "ку", "ки",
    "кой", "ка", "очка", "ечка", "очку", "ечку", "очки", "ечки", "ушка", "ушку", "ушке", "ушкой",
    "юша", "юшу", "уля", "улю", "ик", "ика", "ику", "енька", "еньку", "онька", "ька", "ьку",
    "чик", "чику",
)  # fmt: skip
# an adjectival surname's endings, on its stem (Ковальск-ая, Kowalsk-a, Novotn-ý): every case of
# every gender, since a husband, wife and children are all named in the same text
_CYRILLIC_ADJECTIVE = (
    "ая", "яя", "ой", "ую", "ою", "ий", "ый", "ого", "ому", "им", "ым", "ом", "ие", "ые", "их",
    "ых", "ими", "ыми", "ей", "ее", "ое", "а", "ої", "у", "ім", "і",
)  # fmt: skip
_LATIN_ADJECTIVE = (
    "a", "i", "y", "e", "iej", "iego", "iemu", "im", "ich", "imi", "ą", "á", "ý", "é", "ého",
    "ému", "ým", "ém", "ou", "ých", "ými",
)  # fmt: skip
# what ends an adjectival surname (Ковальская, Ковальська, Kowalski, Nováková's Novotný)
_ADJECTIVE = re.compile(
    r"(?:ая|яя|ий|ый|ій|ой|(?<=ськ|цьк|зьк)а)$|(?:(?<=sk|ck)[aiyáý]|(?<=n)[áý])$"
)
# Diminutives that no ending reaches (Иван → Ваня, Jan → Honza), by a name's skeleton; each
# then takes the endings of its script. Only frequent names: a nickname outside this table is
# what --alias is for. Ones that are everyday words (Asia, Серый) are left out.
_DIMINUTIVES_BY_NAME = {
    "Анна": "аня анечка анька анюта нюра нюша ania anka anusia aneczka anička anča",
    "Иван": "ваня ванечка ванюша ванька іванко",
    "Jan": "janek jasiek jaś jasio honza jeník",
    "Мария": "маша машенька маня марийка marysia maryś marysieńka maruška",
    "Александр": "саша сашенька саня шура",
    "Александра": "саша сашенька шура ola oleńka",
    "Алексей": "лёша алёша лёха",
    "Дмитрий": "дима димочка митя",
    "Екатерина": "катя катюша катенька",
    "Katarzyna": "kasia kasieńka",
    "Kateřina": "katka kája",
    "Елена": "лена леночка",
    "Ольга": "оля оленька",
    "Наталья": "наташа ната natalka",
    "Татьяна": "таня танюша",
    "Сергей": "серёжа серёжка",
    "Михаил": "миша мишка",
    "Николай": "коля коленька",
    "Владимир": "вова володя вовочка",
    "Евгений": "женя",
    "Евгения": "женя",
    "Павел": "паша пашка pavlík",
    "Юлия": "юля юленька",
    "Ирина": "ира ирочка",
    "Светлана": "света светик",
    "Андрей": "андрюша",
    "Пётр": "петя петенька péťa petřík",
    "Piotr": "piotrek",
    "Małgorzata": "gosia małgosia",
    "Tomasz": "tomek",
    "Wojciech": "wojtek",
    "Krzysztof": "krzyś krzysiek",
    "Józef": "józek",
    "Josef": "pepa",
    "Jiří": "jirka",
    "Zofia": "zosia",
    "Barbara": "basia",
}
_VOWELS = set("aeiouyаяоёеиыуюэйьáéíóúýěůąęіїє")
_CYRILLIC_LETTERS = re.compile(r"[а-яёіїєґ]", re.I)
_RUN = re.compile(r"((?<![\w.])@)?(\w+(?:[.\-]\w+)*)")
_LETTERS = re.compile(r"[^\W\d_]+")
_OPEN_MENTIONS = frozenset({"here", "everyone", "channel", "all", "room"})
_SEPARATORS = ("", "_", ".", "-")

# How a word is looked up when its own spelling is not known: first folded (accents and the
# Ukrainian and Belarusian letters off: `Анні` as `анни`, `Petře` as `petre`), then, capitalised
# only, as a skeleton both scripts share (`Марию` and `Mariu` both `mariu`, `Szewczenko`,
# `Ševčenko` and `Шевченко` all `shevchenko`), so a name written in the other script is found.
_FOLD = str.maketrans("ёіїєґўłđø", "еииегуldo")
_SKELETON_LETTERS = str.maketrans(
    {
        **dict(
            zip("абвгдеёзийклмнопрстуфхцыэіїєґў", "abvgdeeziiklmnoprstufhcieiiegu", strict=True)
        ),
        **{"ж": "zh", "ч": "ch", "ш": "sh", "щ": "sh", "ю": "iu", "я": "ia", "ъ": "", "ь": ""},
        **{"č": "ch", "š": "sh", "ž": "zh", "w": "v", "y": "i", "j": "i", "x": "ks", "q": "k"},
    }
)
_SKELETON_PAIRS = (("sz", "sh"), ("cz", "ch"), ("rz", "zh"), ("kh", "h"), ("ts", "c"))


@lru_cache(maxsize=1 << 16)  # a chat's words repeat: each is folded once
def _fold(word: str) -> str:
    """`word` casefolded without accents: what people type when their keyboard lacks them."""
    word = word.casefold().translate(_FOLD)
    if word.isascii():
        return word
    # й and ё are letters of their own, not и and е with a mark: keep them whole
    decomposed = unicodedata.normalize("NFD", word.replace("й", "\0"))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept).replace("\0", "й")


@lru_cache(maxsize=1 << 16)
def _skeleton(word: str) -> str:
    """The Latin letters both spellings of a name share: `Мария` and `Maria` are `maria`."""
    word = word.casefold()
    for pair, letters in _SKELETON_PAIRS:  # before č and ř become the same digraphs
        word = word.replace(pair, letters)
    word = _fold(word.translate(_SKELETON_LETTERS))
    while "ii" in word:  # Мария → mariia → maria, Ковальский → kovalskii → kovalski
        word = word.replace("ii", "i")
    return word


_DIMINUTIVES: dict[str, list[str]] = {}
for _name, _words in _DIMINUTIVES_BY_NAME.items():
    _DIMINUTIVES.setdefault(_skeleton(_name), []).extend(_words.split())
# the other script's case endings, matched by skeleton: `Марию` for Maria, `Olegowi` for Олег
_CASES = (
    *("а", "у", "ю", "ы", "и", "е", "о", "ой", "ей", "ою", "ею", "ом", "ем", "ым", "ові", "еві"),
    *("a", "u", "e", "y", "i", "o", "em", "ie", "owi", "ovi", "ę", "ą", "ou"),
)


@dataclass(frozen=True, slots=True)
class _Form:
    fake: str
    lower_ok: bool = True


class Pseudonymizer:
    """Consistent fake names for real ones, in sender fields and inside texts.

    Every form of a person's names is replaced, in any case: the whole name and each of its
    words, inflected (`Anna's`, `Annę`, `Анну`, `Benny`), joined into handles (`@anna_k`,
    `AnnaK`, `anna.kowalska`, `BenMiller`) and the other names `aliases` gives the person. An
    @mention of nobody known becomes `@user1`, `@user2`… Given names that are everyday words
    (`will`, `mark`, `вера`) are left alone in lower case, and `keep` words always.
    """

    def __init__(
        self,
        names: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        keep: Iterable[str] = (),
    ):
        names = list(dict.fromkeys(names))
        aliases = dict(aliases or {})
        for kept in aliases.values():
            if kept not in names:
                names.append(kept)
        self._keep = {word.casefold() for word in keep}
        self._aliases = {alias.casefold(): kept for alias, kept in aliases.items()}
        others: dict[str, list[str]] = {name: [] for name in names}
        for alias, kept in aliases.items():
            others[kept].append(alias)
        taken = {
            word.casefold() for name in chain(names, aliases) for word in _LETTERS.findall(name)
        }
        self.mapping = _fakes(names, taken)
        self._words: dict[str, _Form] = {}
        self._folded: dict[str, _Form] = {}
        self._skeletons: dict[str, str] = {}  # matched capitalised only
        self._added: set[str] = set()
        self._runs: dict[str, str] = {}
        self._mentions: dict[str, str] = {}
        for name in names:  # most frequent first: a word two people share goes to the first
            for real in (name, *others[name]):
                self._add(real, self.mapping[name])
        self.text = lru_cache(maxsize=1 << 14)(self._text)  # contexts repeat the same turns

    def _add(self, real: str, fake: str) -> None:
        tokens = [t.strip("\"'()[]<>,;:!?") for t in real.split()]
        tokens = [t for t in tokens if t and t.casefold() not in self._keep]
        fakes = fake.split()
        for i, token in enumerate(tokens):
            part = fakes[0] if i == 0 or len(fakes) == 1 else fakes[-1]
            if _LETTERS.fullmatch(token):
                self._add_word(token, part)
            elif len(token) > 1:
                self._runs.setdefault(token.casefold(), part)
        words = [t for t in tokens if _LETTERS.fullmatch(t)]
        if len(words) > 1:
            self._add_handles(words[0], words[-1], fakes[0], fakes[-1])

    def _add_word(self, token: str, fake: str, diminutives: bool = True) -> None:
        key = token.casefold()
        if len(key) < 2 or key in self._keep or key in self._added:
            return  # a word two people share stays with the first: its forms are there
        self._added.add(key)
        common = key in COMMON_WORDS
        # the word itself, as a name or alias, outranks the same letters as another's inflection
        self._put(key, fake, not common and len(key) > 2, own=True)
        if len(key) < 3:
            return
        cyrillic = bool(_CYRILLIC_LETTERS.search(key))
        # short names inflect only capitalised: `tomu`, `sama`, `dana` are everyday words
        lower = not common and len(key) > 3
        nouns = [key]
        if key[-1] in _VOWELS and (len(key) > 3 or cyrillic):  # Анна → Анн-у, Аня → Ан-ю
            nouns.append(key[:-1])
        adjective = (m := _ADJECTIVE.search(key)) and len(key) > 4 and key[: m.start()]
        if cyrillic:
            endings = [(e, True) for e in _CYRILLIC]
            adjectives = _CYRILLIC_ADJECTIVE
        else:
            endings = [(e, True) for e in _LATIN_LOWER] + [(e, False) for e in _LATIN_CAPITAL]
            adjectives = _LATIN_ADJECTIVE
            if key[-1] not in _VOWELS:  # Ben → Benny, Bob → Bobby
                for ending in ("y", "ie", "i"):
                    self._put(key + key[-1] + ending, fake, not common)
        for stem in nouns:
            for ending, lower_ok in endings:
                kept = fake + ending if ending == "s" and stem == key else fake
                self._put(stem + ending, kept, lower_ok and lower)
        stems = nouns
        if adjective:
            stems = [*nouns, adjective]
            for ending in adjectives:
                self._put(adjective + ending, fake, not common)
        for stem in stems:  # written in the other script
            for ending in (*_CASES, *(adjectives if stem == adjective else ())):
                self._skeletons.setdefault(_skeleton(stem + ending), fake)
        if diminutives:
            for diminutive in _DIMINUTIVES.get(_skeleton(key), ()):
                self._add_word(diminutive, fake, diminutives=False)

    def _put(self, form: str, fake: str, lower_ok: bool, own: bool = False) -> None:
        """One written form of a name, under its spelling, its folded spelling and skeleton;
        `own`: the name's or alias's word itself (`--alias "jana=Jan Kowalski"`: lower case
        too)."""
        if form in self._keep:
            return
        if own:
            self._words[form] = _Form(fake, lower_ok)
        self._words.setdefault(form, _Form(fake, lower_ok))
        folded = _fold(form)
        prior = self._folded.setdefault(folded, _Form(fake, lower_ok))
        if prior.lower_ok and not lower_ok:  # `Anne` folds as `Annę` does: the stricter rule
            self._folded[folded] = _Form(prior.fake, lower_ok=False)
        self._skeletons.setdefault(_skeleton(form), fake)

    def _add_handles(self, first: str, last: str, fake_first: str, fake_last: str) -> None:
        """`anna_k`, `AnnaK`, `akowalska`, `kowalska.anna`… as one run of the text."""
        pairs = [
            ((first, last), (fake_first, fake_last)),
            ((first, last[0]), (fake_first, fake_last[0])),
            ((first[0], last), (fake_first[0], fake_last)),
            ((last, first), (fake_last, fake_first)),
        ]
        for (a, b), (x, y) in pairs:
            for separator in _SEPARATORS:
                self._runs.setdefault(f"{a}{separator}{b}".casefold(), f"{x}{separator}{y}")

    def name(self, name: str | None) -> str | None:
        """The fake of a sender name (or of an alias of one); other names as `text` does."""
        if name is None:
            return None
        fake = self.mapping.get(name)
        if fake is None and (kept := self._aliases.get(name.casefold())) is not None:
            fake = self.mapping[kept]
        return fake or self.text(name)

    def _text(self, text: str) -> str:
        return _RUN.sub(self._run, text)

    def _run(self, match: re.Match[str]) -> str:
        at, run = match.group(1) or "", match.group(2)
        fake = self._runs.get(run.casefold())
        if fake is not None:
            return at + _cased(fake, run)
        changed = _LETTERS.sub(self._piece, run)
        if at and changed == run and run.casefold() not in _OPEN_MENTIONS:
            changed = self._mentions.setdefault(run.casefold(), f"user{len(self._mentions) + 1}")
        return at + changed

    def _piece(self, match: re.Match[str]) -> str:
        word = match.group()
        fake = self._word(word)
        if fake is not None:
            return fake
        if word[1:] == word[1:].lower() or word.isupper():
            return word
        return "".join(self._word(part) or part for part in _camel(word))

    def _word(self, word: str) -> str | None:
        key = word.casefold()
        if key in self._keep:
            return None
        lower = word.islower()
        # `Novakova` typed without accents is found folded, as `Nováková` is
        for form in (self._words.get(key), self._folded.get(_fold(word))):
            if form is not None and (form.lower_ok or not lower):
                return _cased(form.fake, word)
        if word[0].isupper() and (fake := self._skeletons.get(_skeleton(word))) is not None:
            return _cased(fake, word)
        return None


def _fakes(names: list[str], taken: set[str]) -> dict[str, str]:
    """A fake for each name: a given name, and a surname where the real name has one."""
    given = [n for n in GIVEN_NAMES if n.casefold() not in taken]
    surnames = [n for n in SURNAMES if n.casefold() not in taken]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for i, name in enumerate(names):
        fake = base = given[i % len(given)]
        if len(_LETTERS.findall(name)) > 1 or i >= len(given):
            fake = base = f"{base} {surnames[(i + i // len(given)) % len(surnames)]}"
        number = 1
        while fake in used:
            number += 1
            fake = f"{base} {number}"
        used.add(fake)
        mapping[name] = fake
    return mapping


def _cased(fake: str, like: str) -> str:
    """`fake` written the way `like` is: lower, upper or as it is."""
    if like.islower():
        return fake.lower()
    if like.isupper() and len(like) > 1:
        return fake.upper()
    return fake


def _camel(word: str) -> list[str]:
    """`ChatExportAnna` → `Chat`, `Export`, `Anna`."""
    parts, start = [], 0
    for i in range(1, len(word)):
        if word[i].isupper() and word[i - 1].islower():
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return parts
