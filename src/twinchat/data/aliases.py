"""One person, one name: `--alias` and `--me` merge the names a person has in different exports.

The same friend is "Anna" on WhatsApp, "Anna K" on Telegram and "anna_k" on Discord; the exporter
is "Me" in iMessage and Signal exports and their own name everywhere else. Trained apart, they
are several speakers with a share of the data each. Renaming happens as messages are read, so
`--as`, the statistics and the examples all see one name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from twinchat.data.message import Message
from twinchat.errors import TwinchatError

SELF_NAMES = ("Me",)
"""How exports that know which messages are the exporter's own name their sender."""


def parse_aliases(pairs: Sequence[str], me: str | None = None) -> dict[str, str]:
    """`["Anna K=Anna", "anna_k=Anna"]` as a case-insensitive map to the name kept.

    Each pair is `OTHER=NAME`, and NAME may itself be given as `A,B=NAME` for several names at
    once. `me` adds the exporter's placeholder names (`Me`) as aliases of `me`.

    Raises:
        TwinchatError: a pair without `=`, an empty name, a name mapped to two people, or
            a circle (`A=B`, `B=A`).
    """
    mapping: dict[str, str] = {}
    if me is not None:
        if not me.strip():
            raise TwinchatError("--me needs a name, e.g. --me 'Anna Petrova'")
        pairs = [f"{','.join(SELF_NAMES)}={me.strip()}", *pairs]
    for pair in pairs:
        others, sep, name = pair.rpartition("=")
        name = name.strip()
        aliases = [a.strip() for a in others.split(",")]
        if not sep or not name or not all(aliases):
            raise TwinchatError(
                f"--alias '{pair}' is not 'OTHER NAME=NAME'; e.g. --alias 'Anna K=Anna'"
            )
        for alias in aliases:
            key = alias.casefold()
            if mapping.get(key, name) != name:
                raise TwinchatError(
                    f"--alias gives '{alias}' two names, '{mapping[key]}' and '{name}'; keep one"
                )
            mapping[key] = name
    return {alias: _final(name, mapping) for alias, name in mapping.items()}


def _final(name: str, mapping: dict[str, str]) -> str:
    """Follow `A=B`, `B=C` to C."""
    seen = {name.casefold()}
    while (following := mapping.get(name.casefold(), name)).casefold() not in seen:
        seen.add(following.casefold())
        name = following
    if following.casefold() != name.casefold():
        raise TwinchatError(
            f"--alias goes round in a circle through '{name}'; name each person's kept name once"
        )
    return name


def rename(messages: Iterable[Message], aliases: dict[str, str]) -> Iterator[Message]:
    """The messages with each aliased sender under the name kept."""
    if not aliases:
        yield from messages
        return
    for message in messages:
        sender = message.sender
        if sender is not None:
            message.sender = aliases.get(sender.casefold(), sender)
        yield message
