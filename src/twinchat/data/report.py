"""The `report.html` page of `twinchat prepare`: the figures of `stats.json` drawn as charts.

The page is `pages/templates/dataset.html` filled with SVG charts from `pages.charts`: one
self-contained file that opens offline. It shows names and figures only, never message text,
and every string taken from the data is escaped on its way in.
"""

from __future__ import annotations

import json
import math
from typing import Any

from twinchat.pages.charts import P50, P90, Mark, Pair, bars, horizontal_bars
from twinchat.pages.render import Html, escape, fill, inline, section, table

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOKEN_LIMITS = (64, 128, 256, 512, 1024)


def render_report(stats: dict[str, Any]) -> str:
    """The whole page for one `stats.json` dict, as a string of HTML."""
    lengths = stats.get("lengths", {})
    sessions = stats.get("sessions", {})
    charts = [
        _histogram("Session length", sessions.get("messages", {}), "messages", "sessions"),
        _histogram("Context length", lengths.get("context_messages", {}), "messages", "examples"),
        _histogram("Context length", lengths.get("context_chars", {}), "characters", "examples"),
        _histogram("Reply length", lengths.get("reply_chars", {}), "characters", "examples"),
    ]
    return fill(
        "dataset.html",
        style=inline("style.css"),
        summary=_summary(stats),
        read=_read_tables(stats),
        senders=_senders(stats),
        activity=_activity(stats.get("activity", {})),
        lengths=Html("".join(charts)),
        tokens=_tokens(stats.get("tokens")),
        lost=_lost_text(stats.get("coverage")),
        options=_options(stats.get("options", {})),
    )


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else escape(value)


def _summary(stats: dict[str, Any]) -> Html:
    messages, examples = stats.get("messages", {}), stats.get("examples", {})
    sessions, span = stats.get("sessions", {}), stats.get("span") or {}
    first, last = span.get("first"), span.get("last")
    dates = f"{escape(first)} to {escape(last)}" if first else "no dates"
    line = (
        f"{_n(messages.get('read', 0))} messages read, {_n(messages.get('kept', 0))} kept · "
        f"{_n(examples.get('train', 0))} training / {_n(examples.get('validation', 0))} "
        f"validation examples · {_n(sessions.get('count', 0))} sessions "
        f"({_n(sessions.get('with_examples', 0))} with examples) · "
        f"{_n(stats.get('senders_total', 0))} senders · {dates}"
    )
    text = f"<h1>twinchat dataset report</h1><p>{line}</p>"
    if stats.get("pseudonyms"):
        text += (
            '<p class="note">Names are pseudonyms; the key that maps them back is '
            f"<code>{escape(stats['pseudonyms'])}</code> (keep it private).</p>"
        )
    for note in stats.get("notes", []):
        text += f'<p class="note">⚠ {escape(note)}</p>'
    return Html(f"<section>{text}</section>")


def _read_tables(stats: dict[str, Any]) -> Html:
    dropped = stats.get("messages", {}).get("dropped", {})
    drops = [[escape(reason), _n(count)] for reason, count in dropped.items()]
    text = table(["dropped because", "messages"], drops, {1}) if drops else ""
    text = text or '<p class="note">No messages were dropped.</p>'
    rows = [_export_row(export) for export in stats.get("exports", [])]
    head = ["export", "format", "chats", "messages", "unreadable"]
    return section("What was read", text + table(head, rows, {2, 3}))


def _export_row(export: dict[str, Any]) -> list[str]:
    unreadable = ", ".join(f"{escape(k)}: {_n(v)}" for k, v in export.get("unreadable", {}).items())
    fields = (escape(export.get(key, "")) for key in ("path", "format"))
    return [
        *fields,
        _n(export.get("chats", 0)),
        _n(export.get("messages", 0)),
        unreadable or "none",
    ]


def _senders(stats: dict[str, Any]) -> Html:
    rows, total = stats.get("senders", [])[:20], stats.get("senders_total", 0)
    pairs = [
        Pair(
            str(row["name"]),
            row["messages"],
            row.get("examples", 0),
            f"{row['name']}: {row['messages']:,} messages, "
            f"{row.get('examples', 0):,} kept as reply examples",
        )
        for row in rows
    ]
    legend = ("messages sent", "replies kept as examples")
    chart = horizontal_bars(pairs, legend, "messages per sender", empty="no senders")
    note = f'<p class="note">Top {len(rows)} of {total:,} senders.</p>' if total > len(rows) else ""
    return Html(chart + note)


def _activity(activity: dict[str, Any]) -> Html:
    hours, days = activity.get("hour", [0] * 24), activity.get("weekday", [0] * 7)
    hour_labels = [str(h) if h % 3 == 0 else "" for h in range(24)]
    hour_tips = [f"{h:02d}:00–{h:02d}:59: {c:,} messages" for h, c in enumerate(hours)]
    day_tips = [f"{d}: {c:,} messages" for d, c in zip(WEEKDAYS, days, strict=False)]
    by_hour = bars(hours, hour_labels, hour_tips, "hour (local time)")
    by_day = bars(days, list(WEEKDAYS), day_tips, "weekday")
    return Html(section("Activity by hour", by_hour) + section("Activity by weekday", by_day))


def _histogram(title: str, lengths: dict[str, Any], unit: str, noun: str, flag: str = "") -> Html:
    title = f"{title} ({unit})"
    if not lengths.get("count"):
        return section(title, '<p class="note">No data.</p>' + bars([], [], [], unit, noun))
    hist, width = lengths["histogram"], lengths["bin_width"]
    last = len(hist) - 1
    ranges = [_bin_range(i, width, last) for i in range(len(hist))]
    step = max(1, math.ceil(len(hist) / 10))
    shown = [i == last or (i % step == 0 and last - i >= min(step, 2)) for i in range(last + 1)]
    labels = [r.split("–")[0] if show else "" for r, show in zip(ranges, shown, strict=True)]
    tips = [f"{r} {unit}: {c:,} {noun}" for r, c in zip(ranges, hist, strict=True)]
    marks = [
        Mark(min((lengths[key] + 0.5) / width, last + 1), f"{key} {lengths[key]:,}", colour)
        for key, colour in (("p50", P50), ("p90", P90))
    ]
    note = f"{lengths['count']:,} {noun} · mean {lengths['mean']:,}" + "".join(
        f" · {key} {lengths[key]:,}" for key in ("p50", "p90", "p99", "max")
    )
    chart = bars(hist, labels, tips, unit, noun, marks)
    extra = _coverage(lengths, flag, "contexts" if "source" in flag else "replies") if flag else ""
    return section(title, f'<p class="note">{note}</p>{chart}{extra}')


def _bin_range(i: int, width: int, last: int) -> str:
    if i == last:
        return f"≥ {i * width:,}"
    return f"{i * width:,}" if width == 1 else f"{i * width:,}–{(i + 1) * width - 1:,}"


def _tokens(tokens: dict[str, Any] | None) -> Html:
    if not tokens:
        return Html("")
    tokenizer = escape(tokens.get("tokenizer"))
    head = (
        f'<h2>Tokens</h2><p class="note">Counted with <code>{tokenizer}</code>'
        f" on {_n(tokens.get('sampled_examples', 0))} sampled examples.</p>"
    )
    charts = [
        _histogram(title, tokens.get(key, {}), "tokens", "examples", flag)
        for title, key, flag in (
            ("Context length", "context_tokens", "--max-source-tokens"),
            ("Reply length", "reply_tokens", "--max-target-tokens"),
        )
    ]
    return Html(f'<div id="tokens">{head}<div class="grid">{"".join(charts)}</div></div>')


def _lost_text(coverage: dict[str, Any] | None) -> Html:
    """What the tokenizer cannot read or write: overall, by character, by sender."""
    if not coverage:
        return Html("")
    head = (
        f'<p class="note">Each sampled message encoded and decoded with '
        f"<code>{escape(coverage['tokenizer'])}</code> ({escape(coverage['family'])}), as training "
        f"would: {escape(coverage['summary'])}.</p>"
    )
    chars = table(
        ["character", "lost"],
        [[escape(c["shown"]), _n(c["count"])] for c in coverage["top_lost"]],
        {1},
    )
    senders = table(
        ["sender", "messages", "characters lost", "messages with a loss", "most lost"],
        [
            [
                escape(name),
                _n(loss["messages"]),
                _percent(loss["lost_character_share"]),
                _percent(loss["lost_message_share"]),
                escape(" ".join(c["shown"] for c in loss["top_lost"][:5])),
            ]
            for name, loss in list(coverage["senders"].items())[:30]
        ],
        {1, 2, 3},
    )
    body = head + (chars + senders if coverage["lost_characters"] else "")
    return section("What the tokenizer loses", body)


def _percent(share: float) -> str:
    return f"{share:.1%}" if share else "0"


def _coverage(lengths: dict[str, Any], flag: str, noun: str) -> str:
    """Which power-of-two max length keeps 90% and 99% whole, and what each one keeps."""
    pick = {key: _power_of_two(lengths[key]) for key in ("p90", "p99")}
    line = (
        f"Covers 90% of {noun}: <code>{flag} {pick['p90']}</code>; "
        f"99%: <code>{flag} {pick['p99']}</code>."
    )
    shares = [_pct(_share_within(lengths, limit)) for limit in TOKEN_LIMITS]
    limits = table(
        [f"<code>{flag}</code>", *(str(limit) for limit in TOKEN_LIMITS)],
        [[f"{noun} kept whole", *shares]],
        set(range(1, len(TOKEN_LIMITS) + 1)),
    )
    return f"<p>{line}</p>{limits}"


def _power_of_two(value: int) -> int:
    limit = TOKEN_LIMITS[0]
    while limit < value:
        limit *= 2
    return limit


def _share_within(lengths: dict[str, Any], limit: int) -> float:
    """The share of values at most `limit`, from the histogram (linear within a bin)."""
    if limit >= lengths["max"]:
        return 1.0
    hist, width, covered = lengths["histogram"], lengths["bin_width"], 0.0
    for i, count in enumerate(hist):
        low = i * width
        high = lengths["max"] + 1 if i == len(hist) - 1 else low + width
        covered += count * min(max((limit + 1 - low) / max(high - low, 1), 0.0), 1.0)
    share = covered / lengths["count"]
    for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        share = max(share, q) if limit >= lengths[key] else min(share, q - 0.001)
    return share


def _pct(share: float) -> str:
    return "all" if share >= 1 else f"{math.floor(share * 100)}%"


def _options(options: dict[str, Any]) -> Html:
    items = [(escape(k), escape(json.dumps(v, ensure_ascii=False))) for k, v in options.items()]
    half = math.ceil(len(items) / 2)
    rows = [
        [*items[i], *(items[i + half] if i + half < len(items) else ("", ""))] for i in range(half)
    ]
    return table(["option", "value", "option", "value"], rows) if rows else Html("<p>none</p>")
