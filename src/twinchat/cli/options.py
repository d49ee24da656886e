"""The options several commands share, declared once: one flag, one help text everywhere.

No default is written here or in a help text: each command takes its defaults from the dataclass
(or the function) its options fill, so that `--help` shows the value the library really uses.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from twinchat.description import Sampling


def defaults_of(function: Callable[..., Any]) -> dict[str, Any]:
    """The defaults of `function`'s parameters by name, for options passed straight on to it."""
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def the_runs(setting: str) -> str:
    """How help shows a sampling default: each run keeps its own, set by training to these."""
    return f"the run's, {getattr(Sampling, setting)}"


def given(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The `values` the command line set, without those left at their default."""
    sources = {name: ctx.get_parameter_source(name) for name in values}
    # By name: newer typers carry their own copy of click, whose enum is not click's.
    return {
        name: value
        for name, value in values.items()
        if sources[name] is not None and sources[name].name not in ("DEFAULT", "DEFAULT_MAP")
    }


def examples(*lines: str) -> str:
    """A command's examples block, shown under its options by `--help`."""
    # Some typer versions join single line breaks into spaces: paragraphs keep lines apart.
    return "\n\n".join(["Examples:", *(f"  $ {line}" for line in lines)])


RunArg = Annotated[
    Path, typer.Argument(help="A run folder written by twinchat train.", show_default=False)
]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")]
ForceOpt = Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed, for repeatable results.")]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        help="The engine: hf (transformers), hf-int8 (the run's weights in int8 as they load), "
        "ct2 or ort (a folder from twinchat export).",
        show_default="the folder's own",
    ),
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(help="Sampling temperature.", show_default=the_runs("temperature")),
]
TopPOpt = Annotated[
    float | None,
    typer.Option(help="Nucleus sampling mass.", show_default=the_runs("top_p")),
]
