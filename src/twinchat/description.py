"""`twinchat.json`: what a run (or an export of one) says about itself, as one typed record.

    description = RunDescription.read(Path("runs/me"))
    description.window.max_context, description.sampling.temperature, description.speakers

`train` writes it last (its presence means the run is complete), `export` writes the export's
(the run's own plus its engine), and every stage that serves or measures a run reads it here:
no stage reads another's dict by hand. It carries what inference must repeat from training
and from `prepare`: the chat format, the speakers and their voice lines, the sampling
defaults, the token limits and the context window (messages, characters, session gap). Runs
written before a field existed still load (the field takes `prepare`'s or `train`'s default)
and keys this version does not know are kept and written back, so an older twinchat can still
rewrite a newer run's file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from twinchat.atomic import write_private
from twinchat.data.builder import BuildOptions
from twinchat.data.example import Turn
from twinchat.data.formats import ChatFormat
from twinchat.errors import TwinchatError

FILE = "twinchat.json"
VERSION = 1
MAX_SOURCE_TOKENS = 512
"""`train`'s default --max-source-tokens: context tokens kept, newest first."""


@dataclass(frozen=True)
class Sampling:
    """How candidates are drawn; saved with a run, overridable per call."""

    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 48
    overdraw: float = 0.4
    """Draw this share more than the candidates still missing: curation drops some."""
    rounds: int = 3
    """Draw again, up to this many times in all, while fewer than `n` remain."""

    def __post_init__(self) -> None:
        problems = []
        if not self.temperature > 0:
            problems.append(f"--temperature must be above 0, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"--top-p must be above 0 and at most 1, not {self.top_p}")
        if self.max_new_tokens < 1:
            problems.append(f"--max-new-tokens must be at least 1, not {self.max_new_tokens}")
        if not self.overdraw >= 0:
            problems.append(f"overdraw must be 0 or more, not {self.overdraw}")
        if problems:
            raise TwinchatError("; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Sampling:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class ContextWindow:
    """The context `prepare` gave every training example, which serving must repeat: at most
    `max_context` messages and `max_context_chars` characters, none across a silence of
    `session_gap` minutes. The defaults are `prepare`'s (`BuildOptions`)."""

    max_context: int = BuildOptions.max_context
    max_context_chars: int = BuildOptions.max_context_chars
    session_gap: float = BuildOptions.session_gap
    """Minutes of silence that start a new conversation."""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ContextWindow:
        """The window of a dict holding these keys among others (stats.json's options)."""
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def of_dataset(cls, data: Path) -> ContextWindow:
        """The window a prepared dataset folder was cut with, from its `stats.json`; prepare's
        defaults for a folder without one (examples written by hand).

        Raises:
            TwinchatError: `stats.json` is there but unreadable.
        """
        stats = Path(data) / "stats.json"
        if not stats.is_file():
            return cls()
        try:
            options = json.loads(stats.read_text(encoding="utf-8")).get("options")
        except (OSError, ValueError, AttributeError) as error:
            raise TwinchatError(
                f"cannot read {stats} ({error}); prepare the dataset again"
            ) from None
        return cls.from_dict(options)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def gap(self) -> timedelta:
        return timedelta(minutes=self.session_gap)

    def fit(self, turns: Sequence[Turn]) -> list[Turn]:
        """The most recent turns within the message and character budgets, oldest first: the
        cut `prepare` makes (`SessionBuilder._fit`), one long message keeping its end."""
        budget = self.max_context_chars
        kept: list[Turn] = []
        for turn in reversed(turns[-self.max_context :]):
            if len(turn.text) > budget:
                if not kept:
                    kept.append(Turn(turn.sender, turn.text[-budget:]))
                break
            budget -= len(turn.text)
            kept.append(turn)
        return kept[::-1]

    def session(self, timed: Sequence[tuple[datetime, Turn]], now: datetime) -> list[Turn]:
        """The turns since the last silence longer than the gap before `now`, fitted: a context
        in training never reaches across one."""
        kept: list[Turn] = []
        later = now
        for when, turn in reversed(timed):
            if later - when > self.gap:
                break
            kept.append(turn)
            later = when
        return self.fit(kept[::-1])


@dataclass(frozen=True)
class RunDescription:
    """A run's or an export's `twinchat.json`. Every field has a default, so a description
    written before the field existed still loads."""

    version: int = VERSION
    family: str | None = None
    base_model: str | None = None
    """The model the run was trained from (`--model`)."""
    format: ChatFormat | None = None
    """How conversations are rendered; None only for an untuned model's export."""
    speakers: dict[str, int] = field(default_factory=dict)
    """The people the run learnt to reply as, with their training examples, most first."""
    voices: dict[str, list[str]] = field(default_factory=dict)
    """A few training replies of each person, read before the conversation of a reply
    written as them (`twinchat.data.voices`); chat text, as private as the weights."""
    settings: dict[str, Any] = field(default_factory=dict)
    """`train`'s settings (its `TrainConfig`), as the run was trained."""
    data: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the dataset files, by split."""
    examples: dict[str, int] = field(default_factory=dict)
    steps: int | None = None
    best_eval_loss: float | None = None
    sampling: Sampling = field(default_factory=Sampling)
    adapter: bool = False
    """The weights are a LoRA adapter on `base_model`."""
    merged: str | None = None
    """The folder (in the run) of the adapter merged into its base, if written."""
    tokenizer_coverage: dict[str, Any] | None = None
    window: ContextWindow = field(default_factory=ContextWindow)
    """Missing in runs trained before it was recorded: prepare's defaults then."""
    backend: str = "hf"
    """`hf` for a run; the engine of an export."""
    quantization: str | None = None
    source_run: str | None = None
    """For a run's export, the run it came from."""
    source_model: str | None = None
    """For an untuned model's export, the model."""
    generation: dict[str, Any] | None = None
    """For an export, the model's own generation settings the engine must apply."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this version does not know (engine versions, newer fields), written back as read."""

    @property
    def max_source_tokens(self) -> int:
        """Conversation tokens a suggestion reads, newest first: `read_source_tokens`, which
        runs record since it exists (None: the larger of training's and 512); before, training's."""
        trained = int(self.settings.get("max_source_tokens", MAX_SOURCE_TOKENS))
        if "read_source_tokens" not in self.settings:
            return trained
        read = self.settings["read_source_tokens"]
        return int(read) if read is not None else max(trained, MAX_SOURCE_TOKENS)

    @property
    def is_export(self) -> bool:
        return self.backend != "hf"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in the layout runs have always had (`twinchat` is the version)."""
        result: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "extra":
                continue
            if value is None and item.name in _WRITTEN_WHEN_SET:
                continue
            if isinstance(value, (ChatFormat, ContextWindow)):
                value = value.to_dict()
            elif isinstance(value, Sampling):
                value = {f.name: getattr(value, f.name) for f in fields(value)}
            result[_KEYS.get(item.name, item.name)] = value
        return result | self.extra

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunDescription:
        """A description from its JSON object; unknown keys go to `extra`.

        Raises:
            TwinchatError: `data` is not an object, or a field holds nonsense.
        """
        if not isinstance(data, dict):
            raise TwinchatError(f"{FILE} must hold a JSON object, not {type(data).__name__}")
        names = {_KEYS.get(f.name, f.name): f.name for f in fields(cls) if f.name != "extra"}
        values = {names[k]: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        try:
            if values.get("format") is not None:
                values["format"] = ChatFormat.from_dict(values["format"])
            values["sampling"] = Sampling.from_dict(values.get("sampling"))
            values["window"] = ContextWindow.from_dict(values.get("window"))
            values["voices"] = _voices(values.get("voices", {}))
        except (TypeError, AttributeError) as error:
            raise TwinchatError(f"{FILE} holds a field twinchat cannot read: {error}") from None
        return cls(**values, extra=extra)

    @classmethod
    def read(cls, folder: str | Path) -> RunDescription:
        """The description of a finished run or export; `twinchat.json` is written last, so
        its presence means complete.

        Raises:
            TwinchatError: the folder is missing, holds no finished run, or an unreadable one.
        """
        folder = Path(folder)
        if not folder.is_dir():
            found = "is a file, not a folder" if folder.exists() else "does not exist"
            raise TwinchatError(f"{folder} {found}; give a run folder written by twinchat train")
        described = folder / FILE
        if not described.is_file():
            raise TwinchatError(
                f"{folder} is not a finished twinchat run (no {FILE}): let twinchat train "
                f"finish, or carry on with --resume"
            )
        try:
            data = json.loads(described.read_text(encoding="utf-8"))
        except ValueError as error:
            raise TwinchatError(f"{described} is not valid JSON ({error}); train again") from None
        return cls.from_dict(data)

    def write(self, folder: str | Path) -> Path:
        """Write `twinchat.json` into `folder`, atomically and owner-only; callers write it
        last, when everything it describes is in place."""
        path = Path(folder) / FILE
        write_private(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=2))
        return path

    def exported(self, backend: str, quantization: str, **more: Any) -> RunDescription:
        """This run's description for its export by `backend`: plain weights, no adapter."""
        return replace(
            self, backend=backend, quantization=quantization, adapter=False, merged=None, **more
        )


_KEYS = {"version": "twinchat"}
"""Field names whose JSON key differs."""
_WRITTEN_WHEN_SET = frozenset(
    {"family", "base_model", "format", "steps", "tokenizer_coverage", "quantization"}
    | {"source_run", "source_model", "generation"}
)
"""Optional fields left out of the file while unset (a run has no `source_run`); `merged`
and `best_eval_loss` are written as null, as runs always had them."""


def _voices(value: Any) -> dict[str, list[str]]:
    """The voice lines as written: an object of lists of texts (a text alone would be read
    a character a line)."""
    if not isinstance(value, dict) or not all(
        isinstance(lines, list) and all(isinstance(line, str) for line in lines)
        for lines in value.values()
    ):
        raise TypeError("voices must map each name to a list of texts")
    return value


def read_description(folder: str | Path) -> RunDescription:
    """`RunDescription.read`, by the name the commands call to check a folder early."""
    return RunDescription.read(folder)
