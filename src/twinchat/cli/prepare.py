"""`twinchat prepare`: chat exports in, a dataset folder of (context → reply) examples out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from twinchat.cli.console import err, out
from twinchat.cli.options import ForceOpt, OutputOpt, SeedOpt, examples
from twinchat.data.builder import BuildOptions
from twinchat.data.options import PrepareOptions

app = typer.Typer()

EXAMPLES = examples(
    "twinchat prepare result.json -o data",
    "twinchat prepare WhatsApp.zip telegram-export/ -o data --as 'Ann Lee' --pseudonymize",
    "twinchat prepare bundled:ubuntu-irc -o data --max-context 4 --split random --force",
    "twinchat prepare chat.csv -o data --source table --columns 'sender=author,text=body'",
)


def _by_split(shares: dict[str, float]) -> str:
    return ", ".join(f"{share:g} for {split}" for split, share in shares.items())


@app.command(epilog=EXAMPLES)
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
    output: OutputOpt,
    speakers: Annotated[
        list[str] | None,
        typer.Option(
            "--as", help="Only replies by this person (repeatable).", show_default="everyone"
        ),
    ] = None,
    session_gap: Annotated[
        float, typer.Option(help="Minutes of silence that start a new session.")
    ] = BuildOptions.session_gap,
    max_context: Annotated[
        int, typer.Option(help="Most previous messages in a context.")
    ] = BuildOptions.max_context,
    max_context_chars: Annotated[
        int, typer.Option(help="Character budget of a context; the most recent are kept.")
    ] = BuildOptions.max_context_chars,
    min_context: Annotated[
        int, typer.Option(help="Fewest context messages an example needs.")
    ] = BuildOptions.min_context,
    reach_back: Annotated[
        bool,
        typer.Option(help="When a session gives fewer than 2 context messages, use earlier ones."),
    ] = BuildOptions.reach_back,
    merge_within: Annotated[
        float | None,
        typer.Option(help="Merge consecutive messages of one sender sent within SECONDS."),
    ] = BuildOptions.merge_within,
    stickers: Annotated[
        bool, typer.Option(help="Keep stickers as their emoji.")
    ] = BuildOptions.stickers,
    forwarded: Annotated[
        bool, typer.Option(help="Keep forwarded messages.")
    ] = BuildOptions.forwarded,
    chats: Annotated[
        list[str] | None,
        typer.Option(
            "--chat",
            "--chats",
            help="Only this chat, by name or id (repeatable).",
            show_default="all",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only messages from this date (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only messages before this date.")] = None,
    limit: Annotated[
        int | None, typer.Option(help="Only the most recent N kept messages.")
    ] = PrepareOptions.limit,
    split: Annotated[
        str, typer.Option(help="time: hold out the most recent sessions; random: draw sessions.")
    ] = PrepareOptions.split,
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Share of examples held out.", show_default=_by_split(PrepareOptions.HOLDOUT)
        ),
    ] = PrepareOptions.holdout,
    seed: SeedOpt = PrepareOptions.seed,
    pseudonymize: Annotated[
        bool, typer.Option(help="Replace names with consistent fake ones, in texts too.")
    ] = PrepareOptions.pseudonymize,
    keep_names: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-name",
            help="A word --pseudonymize leaves alone although someone is named so (repeatable).",
        ),
    ] = None,
    scrub: Annotated[
        bool, typer.Option(help="Replace phone numbers, e-mails, URLs and card numbers.")
    ] = PrepareOptions.scrub,
    tokenizer: Annotated[
        str | None, typer.Option(help="Also measure lengths in this tokenizer's tokens.")
    ] = PrepareOptions.tokenizer,
    source: Annotated[
        str,
        typer.Option(
            help="Export format: auto, telegram, whatsapp, discord, messenger, slack, signal, "
            "imessage, irc or table."
        ),
    ] = PrepareOptions.source,
    date_order: Annotated[
        str | None,
        typer.Option(
            help="How WhatsApp and table dates are written: dmy, mdy or ymd.",
            show_default="inferred",
        ),
    ] = PrepareOptions.date_order,
    columns: Annotated[
        str | None,
        typer.Option(
            help="Which table columns hold what, e.g. 'sender=author,text=body,time=date'.",
            show_default="guessed from the header",
        ),
    ] = PrepareOptions.columns,
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
    ] = PrepareOptions.me,
    force: ForceOpt = PrepareOptions.force,
) -> None:
    """Read chat exports and write a dataset of (context → reply) examples.

    Writes OUTPUT/messages.jsonl, train.jsonl, validation.jsonl, stats.json and report.html,
    readable by you only.
    """
    build = BuildOptions(
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
    )
    options = PrepareOptions(
        build=build,
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
    # Only now the readers load: a bad option has failed at once.
    from twinchat.data.prepare import prepare as run_prepare
    from twinchat.data.summary import print_summary
    from twinchat.progress import progress_bar

    with progress_bar(err) as progress:
        stats = run_prepare(exports, output, options, progress)
    print_summary(out, stats, output)


def _date(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date; use YYYY-MM-DD", param_hint=flag
        ) from None
