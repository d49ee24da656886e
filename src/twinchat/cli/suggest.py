"""`twinchat suggest`: reply candidates for a conversation given on stdin or in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinchat.cli.console import err, out
from twinchat.cli.options import (
    BackendOpt,
    RunArg,
    SeedOpt,
    TemperatureOpt,
    TopPOpt,
    defaults_of,
    examples,
    the_runs,
)
from twinchat.inference.suggester import Suggester

app = typer.Typer()
SUGGEST = defaults_of(Suggester.suggest)

EXAMPLES = examples(
    "echo 'Ann: are you coming tonight?' | twinchat suggest runs/me --as Ben",
    "twinchat suggest runs/me --input chat.txt --prefix 'sure, ' -n 3 --scores",
    "twinchat suggest runs/me-ct2 --input chat.json --json --greedy",
)


@app.command(epilog=EXAMPLES)
def suggest(
    run: RunArg,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Reply as this person.", show_default="whoever is next"),
    ] = None,
    prefix: Annotated[
        str, typer.Option(help="Text already typed: every candidate goes on from it.")
    ] = SUGGEST["prefix"],
    n: Annotated[int, typer.Option("-n", help="Number of candidates.")] = SUGGEST["n"],
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Conversation file: Name: text lines, a Telegram paste, or JSON.",
            show_default="stdin",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
    greedy: Annotated[bool, typer.Option(help="Beam search: the same output every time.")] = False,
    scores: Annotated[
        bool, typer.Option(help="Show each candidate's mean log-probability.")
    ] = False,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_new_tokens: Annotated[
        int | None,
        typer.Option(help="Longest candidate in tokens.", show_default=the_runs("max_new_tokens")),
    ] = None,
    seed: SeedOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Reply candidates for the next message of a conversation, as anyone in it.

    The conversation comes on stdin or from --input, one message a line as `Name: text`, text
    copied from Telegram Desktop, or JSON.
    """
    import json
    from dataclasses import replace

    from twinchat.description import read_description
    from twinchat.inference.conversation import read_conversation

    given = {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens}
    sampling = {k: v for k, v in given.items() if v is not None}
    # Before reading stdin or loading the model, a wrong folder or a bad setting fails at once.
    replace(read_description(run).sampling, **sampling)
    messages = read_conversation(input_)
    suggester = Suggester.load(run, backend=backend)
    candidates = suggester.suggest(
        messages, as_=as_, prefix=prefix, n=n, greedy=greedy, seed=seed, **sampling
    )
    if as_json:
        records = [
            {"text": c.text, "speaker": c.speaker, "score": round(c.score, 4)} for c in candidates
        ]
        print(json.dumps({"candidates": records}, ensure_ascii=False))
        return
    if not candidates:
        err.print("no candidate survived curation; try a higher --temperature or a larger -n")
    for candidate in candidates:
        who = "" if as_ else f"{candidate.speaker}: "
        score = f"{candidate.score:7.3f}  " if scores else ""
        out.print(f"{score}{who}{candidate.text}", highlight=False, markup=False)
