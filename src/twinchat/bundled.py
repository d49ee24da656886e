"""Data shipped inside the package, named `bundled:NAME` wherever a path is expected."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from twinchat.errors import TwinchatError

PREFIX = "bundled:"
EXPORTS = {"ubuntu-irc": "ubuntu-irc.telegram.json"}
"""Real multi-party chat from the Ubuntu IRC corpus (CC-BY-4.0), as a Telegram export."""


def resolve(name: str | Path) -> Path:
    """A real path for `bundled:NAME`; any other path comes back unchanged."""
    text = str(name)
    if not text.startswith(PREFIX):
        return Path(name)
    key = text[len(PREFIX) :]
    if key not in EXPORTS:
        known = ", ".join(PREFIX + k for k in EXPORTS)
        raise TwinchatError(f"no bundled export '{key}'; bundled exports: {known}")
    return Path(str(resources.files("twinchat") / "data" / EXPORTS[key]))
