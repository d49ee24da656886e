"""The table `twinchat prepare` prints when it is done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_summary(console: Console, stats: dict[str, Any], out: Path) -> None:
    """Messages read, kept and dropped, sessions, examples per split, top senders."""
    messages, examples = stats["messages"], stats["examples"]
    table = Table(title=f"Prepared {out}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("messages read", f"{messages['read']:,}")
    several = len(stats["exports"]) > 1
    for export in stats["exports"]:
        if several:  # each input on its own: a misread file shows at once
            dropped = sum(export.get("dropped", {}).values())
            kept = export["messages"] - dropped
            table.add_row(
                f"  {escape(Path(export['path']).name)}",
                f"{export['messages']:,} read, {kept:,} kept",
            )
            for reason, n in export.get("dropped", {}).items():
                table.add_row(f"    dropped: {reason}", f"{n:,}", style="dim")
        for reason, n in export["unreadable"].items():
            table.add_row(f"  unreadable: {reason}", f"{n:,}", style="red")
    table.add_row("messages kept", f"{messages['kept']:,}")
    for reason, n in messages["dropped"].items():
        table.add_row(f"  dropped: {reason}", f"{n:,}", style="dim")
    table.add_row("sessions", f"{stats['sessions']['count']:,}")
    table.add_row("examples: train", f"{examples['train']:,}")
    table.add_row("examples: validation", f"{examples['validation']:,}")
    top = ", ".join(f"{s['name']} ({s['messages']:,})" for s in stats["senders"][:5])
    table.add_row("top senders", top)
    if "tokens" in stats:
        tokens = stats["tokens"]
        context, reply = tokens["context_tokens"], tokens["reply_tokens"]
        table.add_row(
            "tokens p50 / p90 / p99",
            f"context {context.get('p50')} / {context.get('p90')} / {context.get('p99')}; "
            f"reply {reply.get('p50')} / {reply.get('p90')} / {reply.get('p99')}",
        )
    if "coverage" in stats:
        coverage = stats["coverage"]
        style = (
            "red"
            if coverage["lost_characters"] or coverage.get("format", {}).get("lost_names")
            else None
        )
        table.add_row("tokenizer", escape(coverage["summary"]), style=style)
    if "pseudonyms" in stats:
        table.add_row("pseudonym key (keep private)", stats["pseudonyms"])
    console.print(table)
    for note in stats.get("notes", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    console.print(f"Report: {out / 'report.html'}")
