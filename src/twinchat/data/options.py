"""What `twinchat prepare` can be told: `PrepareOptions`, checked as a whole before reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from twinchat.data.aliases import parse_aliases
from twinchat.data.builder import BuildOptions
from twinchat.errors import TwinchatError


@dataclass
class PrepareOptions:
    """Everything `twinchat prepare` can be told, beyond how examples are cut."""

    HOLDOUT: ClassVar[dict[str, float]] = {"time": 0.02, "random": 0.2}
    """The share held out by each split when `holdout` is not given."""

    build: BuildOptions = field(default_factory=BuildOptions)
    split: str = "time"
    """`time`: the most recent sessions are held out; `random`: sessions drawn at random."""
    holdout: float | None = None
    """Share of examples held out; default `HOLDOUT[split]`."""
    seed: int = 0
    limit: int | None = None
    """Only the most recent N messages that pass the filters."""
    pseudonymize: bool = False
    scrub: bool = False
    tokenizer: str | None = None
    source: str = "auto"
    date_order: str | None = None
    """How WhatsApp and table dates are written (dmy, mdy, ymd); None infers it from the file."""
    columns: str | None = None
    """Which table columns hold what: "sender=author,text=body,time=date"; None guesses."""
    aliases: tuple[str, ...] = ()
    """`OTHER=NAME` pairs: messages by OTHER count as NAME's (see `twinchat.data.aliases`)."""
    me: str | None = None
    """The exporter's name, for exports that call them "Me"."""
    keep_names: tuple[str, ...] = ()
    """Words `pseudonymize` leaves alone although they are (part of) a name."""
    force: bool = False
    parallel: bool | None = None
    """Read in a second process; default: for exports of 32 MiB and more."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise one line naming every bad option; `build` checked itself when it was made."""
        problems = []
        if self.split not in ("time", "random"):
            problems.append(f"--split must be 'time' or 'random', not '{self.split}'")
        if self.holdout is not None and not 0 <= self.holdout < 1:
            problems.append(f"--holdout must be at least 0 and below 1, not {self.holdout}")
        if self.limit is not None and self.limit < 1:
            problems.append(f"--limit must be a positive number, not {self.limit}")
        if problems:
            raise TwinchatError("; ".join(problems))
        parse_aliases(self.aliases, self.me)
        if self.columns is not None:
            # Here, not at the top: the readers (ijson among them) would slow `twinchat --help`.
            from twinchat.data.readers.table import parse_columns

            parse_columns(self.columns)
