"""The `report.html` page of `twinchat prepare`: the figures of `stats.json` drawn as charts.

The page is one self-contained file that opens offline: inline CSS and hand-written SVG, with
no scripts, fonts, style sheets or images from anywhere. It shows names and figures only, never
message text, and every string taken from the data goes through `html.escape` on its way in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from html import escape
from typing import Any

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOKEN_LIMITS = (64, 128, 256, 512, 1024)
BAR, DARK, P50, P90 = "#a8cbe8", "#4a89c0", "#e08a2e", "#c0457c"
CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#24292f;background:#f6f8fa;margin:0}
main{max-width:1000px;margin:0 auto;padding:24px} h1{font-size:22px;margin:0 0 6px}
h2{font-size:15px;margin:0 0 4px} .note{color:#57606a;font-size:12.5px;margin:2px 0 8px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:14px 16px;
margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 16px}
table{border-collapse:collapse;font-size:13px;margin:4px 0 8px} th{font-weight:600;color:#57606a}
th,td{padding:3px 14px 3px 0;text-align:left;border-bottom:1px solid #eaeef2;vertical-align:top}
.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12.5px;background:#f1f3f5;padding:0 3px;border-radius:3px;white-space:nowrap}
svg{display:block;width:100%;height:auto;font-size:11px;fill:#57606a}
"""


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
    body = [
        _summary(stats),
        _read_tables(stats),
        _section("Messages per sender", _senders(stats)),
        _grid(_activity(stats.get("activity", {}))),
        _grid(charts),
        _tokens(stats.get("tokens")),
        _lost_text(stats.get("coverage")),
        _section("Options", _options(stats.get("options", {}))),
        '<p class="note">Made by <code>twinchat prepare</code>. It holds names and figures only,'
        " never message text.</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>twinchat dataset report</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _e(value: Any) -> str:
    return escape(str(value))


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _e(value)


def _short(value: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


def _section(title: str, content: str) -> str:
    return f"<section><h2>{title}</h2>{content}</section>"


def _grid(sections: list[str]) -> str:
    return f'<div class="grid">{"".join(sections)}</div>'


def _table(head: list[str], rows: list[list[str]], numeric: Collection[int] = ()) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    lines = [
        "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row))
        for row in rows
    ]
    return f"<table><tr>{cells}</tr>{''.join(f'<tr>{line}</tr>' for line in lines)}</table>"


def _summary(stats: dict[str, Any]) -> str:
    messages, examples = stats.get("messages", {}), stats.get("examples", {})
    sessions, span = stats.get("sessions", {}), stats.get("span") or {}
    dates = f"{_e(span['first'])} to {_e(span['last'])}" if span.get("first") else "no dates"
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
            f"<code>{_e(stats['pseudonyms'])}</code> (keep it private).</p>"
        )
    for note in stats.get("notes", []):
        text += f'<p class="note">⚠ {_e(note)}</p>'
    return f"<section>{text}</section>"


def _read_tables(stats: dict[str, Any]) -> str:
    dropped = stats.get("messages", {}).get("dropped", {})
    drops = [[_e(reason), _n(count)] for reason, count in dropped.items()]
    text = _table(["dropped because", "messages"], drops, {1}) if drops else ""
    text = text or '<p class="note">No messages were dropped.</p>'
    rows = [_export_row(export) for export in stats.get("exports", [])]
    head = ["export", "format", "chats", "messages", "unreadable"]
    return _section("What was read", text + _table(head, rows, {2, 3}))


def _export_row(export: dict[str, Any]) -> list[str]:
    unreadable = ", ".join(f"{_e(k)}: {_n(v)}" for k, v in export.get("unreadable", {}).items())
    fields = (_e(export.get(key, "")) for key in ("path", "format"))
    return [
        *fields,
        _n(export.get("chats", 0)),
        _n(export.get("messages", 0)),
        unreadable or "none",
    ]


def _senders(stats: dict[str, Any]) -> str:
    rows, total = stats.get("senders", [])[:20], stats.get("senders_total", 0)
    width, name_w, num_w, row_h = 960, 180, 170, 22
    plot, peak = width - name_w - num_w, max((r["messages"] for r in rows), default=0) or 1
    height = row_h * max(len(rows), 1) + 34
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="messages per sender">']
    if not rows:
        out.append(_text(width / 2, 20, "no senders", "middle"))
    for i, row in enumerate(rows):
        name, y, kept = str(row["name"]), 4 + i * row_h, row.get("examples", 0)
        short = name if len(name) <= 26 else name[:25] + "…"
        wide, dark = plot * row["messages"] / peak, plot * kept / peak
        tip = f"{name}: {row['messages']:,} messages, {kept:,} kept as reply examples"
        figures = f"{row['messages']:,} / {kept:,}"
        out.append(
            f"<g><title>{_e(tip)}</title>{_text(name_w - 8, y + 15, short, 'end', '#24292f')}"
            f"{_rect(name_w, y + 3, wide, row_h - 6, BAR)}"
            f"{_rect(name_w, y + 3, dark, row_h - 6, DARK)}"
            f"{_text(name_w + wide + 6, y + 15, figures)}</g>"
        )
    legend = ((name_w, BAR, "messages sent"), (name_w + 120, DARK, "replies kept as examples"))
    for x, colour, label in legend if rows else ():
        out.append(_rect(x, height - 19, 10, 10, colour) + _text(x + 14, height - 10, label))
    note = f"Top {len(rows)} of {total:,} senders." if total > len(rows) else ""
    return "".join(out) + "</svg>" + (f'<p class="note">{note}</p>' if note else "")


def _activity(activity: dict[str, Any]) -> list[str]:
    hours, days = activity.get("hour", [0] * 24), activity.get("weekday", [0] * 7)
    hour_labels = [str(h) if h % 3 == 0 else "" for h in range(24)]
    hour_tips = [f"{h:02d}:00–{h:02d}:59: {c:,} messages" for h, c in enumerate(hours)]
    day_tips = [f"{d}: {c:,} messages" for d, c in zip(WEEKDAYS, days, strict=False)]
    return [
        _section("Activity by hour", _bars(hours, hour_labels, hour_tips, "hour (local time)")),
        _section("Activity by weekday", _bars(days, list(WEEKDAYS), day_tips, "weekday")),
    ]


def _histogram(title: str, lengths: dict[str, Any], unit: str, noun: str, flag: str = "") -> str:
    title = f"{title} ({unit})"
    if not lengths.get("count"):
        return _section(title, '<p class="note">No data.</p>' + _bars([], [], [], unit, noun))
    hist, width = lengths["histogram"], lengths["bin_width"]
    last = len(hist) - 1
    ranges = [_bin_range(i, width, last) for i in range(len(hist))]
    step = max(1, math.ceil(len(hist) / 10))
    shown = [i == last or (i % step == 0 and last - i >= min(step, 2)) for i in range(last + 1)]
    labels = [r.split("–")[0] if show else "" for r, show in zip(ranges, shown, strict=True)]
    tips = [f"{r} {unit}: {c:,} {noun}" for r, c in zip(ranges, hist, strict=True)]
    marks = [
        (min((lengths[key] + 0.5) / width, last + 1), f"{key} {lengths[key]:,}", colour)
        for key, colour in (("p50", P50), ("p90", P90))
    ]
    note = f"{lengths['count']:,} {noun} · mean {lengths['mean']:,}" + "".join(
        f" · {key} {lengths[key]:,}" for key in ("p50", "p90", "p99", "max")
    )
    chart = _bars(hist, labels, tips, unit, noun, marks)
    extra = _coverage(lengths, flag, "contexts" if "source" in flag else "replies") if flag else ""
    return _section(title, f'<p class="note">{note}</p>{chart}{extra}')


def _bin_range(i: int, width: int, last: int) -> str:
    if i == last:
        return f"≥ {i * width:,}"
    return f"{i * width:,}" if width == 1 else f"{i * width:,}–{(i + 1) * width - 1:,}"


def _bars(
    values: list[int],
    labels: list[str],
    tips: list[str],
    xlabel: str,
    ylabel: str = "messages",
    marks: Sequence[tuple[float, str, str]] = (),
) -> str:
    """A vertical bar chart; marks are (position in bars, label, colour) dashed lines."""
    width, height, left, top, bottom = 460, 200, 48, 24, 40
    plot_w, plot_h, base = width - left - 8, height - top - bottom, height - bottom
    slot, peak = plot_w / max(len(values), 1), max(values, default=0) or 1
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(ylabel)}">',
        _text(left + plot_w / 2, height - 4, xlabel, "middle"),
        f'<text transform="rotate(-90)" x="{-(top + plot_h / 2)}" y="12" '
        f'text-anchor="middle">{_e(ylabel)}</text>',
    ]
    for value in (0, *sorted({peak, peak // 2} - {0} if any(values) else ())):
        y, colour = base - plot_h * value / peak, "#eaeef2" if value else "#8c959f"
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - 8}" y2="{y}" stroke="{colour}"/>')
        out.append(_text(left - 5, y + 4, _short(value), "end"))
    if not any(values):
        out.append(_text(left + plot_w / 2, top + plot_h / 2, "no data", "middle"))
    for i, (value, label, tip) in enumerate(zip(values, labels, tips, strict=True)):
        x, bar, bar_w = left + i * slot, plot_h * value / peak, max(min(slot * 0.8, 40), 1)
        out.append(
            f"<g><title>{_e(tip)}</title>{_rect(x, top, slot, plot_h, '#fff', 0)}"
            f"{_rect(x + (slot - bar_w) / 2, base - bar, bar_w, bar, BAR)}"
            f"{_text(min(x + slot / 2, width - 3.3 * len(label)), base + 14, label, 'middle')}</g>"
        )
    placed = [(left + pos * slot, label, colour) for pos, label, colour in marks]
    out.extend(_marks(placed, (left, width), top, base))
    return "".join(out) + "</svg>"


def _marks(
    marks: list[tuple[float, str, str]], bounds: tuple[float, float], top: float, base: float
) -> list[str]:
    """Dashed lines with labels above the plot: the first to the left, the rest to the right,
    unless that runs off the chart; a label that would overlap the one before drops a line."""
    out, taken = [], bounds[0]
    for n, (x, label, colour) in enumerate(marks):
        room = 6.5 * len(label)
        before = x - room > bounds[0] if n == 0 else x + room > bounds[1]
        start = x - room - 3 if before else x + 3
        y = top - 8 if n == 0 or start >= taken else top + 6
        taken = start + room
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>' + _text(start, y, label, "start", colour)
        )
    return out


def _rect(x: float, y: float, width: float, height: float, fill: str, opacity: int = 1) -> str:
    see = "" if opacity else ' fill-opacity="0"'
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
        f'fill="{fill}"{see}/>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", colour: str = "") -> str:
    fill = f' fill="{colour}"' if colour else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{fill}>{_e(text)}</text>'


def _tokens(tokens: dict[str, Any] | None) -> str:
    if not tokens:
        return ""
    head = (
        f'<h2>Tokens</h2><p class="note">Counted with <code>{_e(tokens.get("tokenizer"))}</code>'
        f" on {_n(tokens.get('sampled_examples', 0))} sampled examples.</p>"
    )
    charts = [
        _histogram(title, tokens.get(key, {}), "tokens", "examples", flag)
        for title, key, flag in (
            ("Context length", "context_tokens", "--max-source-tokens"),
            ("Reply length", "reply_tokens", "--max-target-tokens"),
        )
    ]
    return f'<div id="tokens">{head}{_grid(charts)}</div>'


def _lost_text(coverage: dict[str, Any] | None) -> str:
    """What the tokenizer cannot read or write: overall, by character, by sender."""
    if not coverage:
        return ""
    head = (
        f'<p class="note">Each sampled message encoded and decoded with '
        f"<code>{_e(coverage['tokenizer'])}</code> ({_e(coverage['family'])}), as training "
        f"would: {_e(coverage['summary'])}.</p>"
    )
    chars = _table(
        ["character", "lost"],
        [[_e(c["shown"]), _n(c["count"])] for c in coverage["top_lost"]],
        {1},
    )
    senders = _table(
        ["sender", "messages", "characters lost", "messages with a loss", "most lost"],
        [
            [
                _e(name),
                _n(loss["messages"]),
                _percent(loss["lost_character_share"]),
                _percent(loss["lost_message_share"]),
                _e(" ".join(c["shown"] for c in loss["top_lost"][:5])),
            ]
            for name, loss in list(coverage["senders"].items())[:30]
        ],
        {1, 2, 3},
    )
    body = head + (chars + senders if coverage["lost_characters"] else "")
    return _section("What the tokenizer loses", body)


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
    table = _table(
        [f"<code>{flag}</code>", *(str(limit) for limit in TOKEN_LIMITS)],
        [[f"{noun} kept whole", *shares]],
        set(range(1, len(TOKEN_LIMITS) + 1)),
    )
    return f"<p>{line}</p>{table}"


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


def _options(options: dict[str, Any]) -> str:
    items = [(_e(k), _e(json.dumps(v, ensure_ascii=False))) for k, v in options.items()]
    half = math.ceil(len(items) / 2)
    rows = [
        [*items[i], *(items[i + half] if i + half < len(items) else ("", ""))] for i in range(half)
    ]
    return _table(["option", "value", "option", "value"], rows) if rows else "<p>none</p>"
