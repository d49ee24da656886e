"""The SVG charts of the pages: vertical bars, horizontal bars, lines, and the loss curve.

A chart is an `<svg>` element to put inline in a page, whose style sheet sets its font and
text colour; `standalone` makes one a file of its own. Every label goes in escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from twinchat.pages.render import Html, escape

BAR, DARK, P50, P90 = "#a8cbe8", "#4a89c0", "#e08a2e", "#c0457c"
GRID, AXIS = "#eaeef2", "#8c959f"
SVG_NS = "http://www.w3.org/2000/svg"
Scale = Callable[[float], float]


class Mark(NamedTuple):
    """A dashed vertical line over a bar chart, at `position` bars from the left."""

    position: float
    label: str
    colour: str


class Pair(NamedTuple):
    """A horizontal bar: a whole and the part of it drawn darker over it, and a hover text."""

    label: str
    whole: int
    part: int
    tip: str


class Line(NamedTuple):
    """A line of a line chart; `dotted` draws a dot at each point too (up to 200 of them)."""

    label: str
    colour: str
    points: list[tuple[float, float]]
    dotted: bool = False


def bars(
    values: Sequence[int],
    labels: Sequence[str],
    tips: Sequence[str],
    xlabel: str,
    ylabel: str = "messages",
    marks: Sequence[Mark] = (),
) -> Html:
    """A vertical bar chart, one bar per value, with a label under it and a hover text."""
    width, height, left, top, bottom = 460, 200, 48, 24, 40
    plot_w, plot_h, base = width - left - 8, height - top - bottom, height - bottom
    slot, peak = plot_w / max(len(values), 1), max(values, default=0) or 1
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(ylabel)}">',
        _text(left + plot_w / 2, height - 4, xlabel, "middle"),
        f'<text transform="rotate(-90)" x="{-(top + plot_h / 2)}" y="12" '
        f'text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for value in (0, *sorted({peak, peak // 2} - {0} if any(values) else ())):
        y, colour = base - plot_h * value / peak, GRID if value else AXIS
        out.append(_line(left, y, width - 8, y, colour))
        out.append(_text(left - 5, y + 4, _short(value), "end"))
    if not any(values):
        out.append(_text(left + plot_w / 2, top + plot_h / 2, "no data", "middle"))
    for i, (value, label, tip) in enumerate(zip(values, labels, tips, strict=True)):
        x, bar, bar_w = left + i * slot, plot_h * value / peak, max(min(slot * 0.8, 40), 1)
        out.append(
            f"<g><title>{escape(tip)}</title>{_rect(x, top, slot, plot_h, '#fff', 0)}"
            f"{_rect(x + (slot - bar_w) / 2, base - bar, bar_w, bar, BAR)}"
            f"{_text(min(x + slot / 2, width - 3.3 * len(label)), base + 14, label, 'middle')}</g>"
        )
    placed = [Mark(left + mark.position * slot, mark.label, mark.colour) for mark in marks]
    out.extend(_marks(placed, (left, width), top, base))
    return Html("".join(out) + "</svg>")


def _marks(marks: list[Mark], bounds: tuple[float, float], top: float, base: float) -> list[str]:
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


def horizontal_bars(
    pairs: Sequence[Pair], legend: tuple[str, str], subject: str, empty: str = "no data"
) -> Html:
    """One row per pair, its label on the left and "whole / part" after the bars; `legend`
    names the whole and the part, `subject` the chart ("messages per sender")."""
    width, name_w, num_w, row_h = 960, 180, 170, 22
    plot, peak = width - name_w - num_w, max((p.whole for p in pairs), default=0) or 1
    height = row_h * max(len(pairs), 1) + 34
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(subject)}">']
    if not pairs:
        out.append(_text(width / 2, 20, empty, "middle"))
    for i, (label, whole, part, tip) in enumerate(pairs):
        y, short = 4 + i * row_h, label if len(label) <= 26 else label[:25] + "…"
        wide, dark = plot * whole / peak, plot * part / peak
        out.append(
            f"<g><title>{escape(tip)}</title>{_text(name_w - 8, y + 15, short, 'end', '#24292f')}"
            f"{_rect(name_w, y + 3, wide, row_h - 6, BAR)}"
            f"{_rect(name_w, y + 3, dark, row_h - 6, DARK)}"
            f"{_text(name_w + wide + 6, y + 15, f'{whole:,} / {part:,}')}</g>"
        )
    keys = ((name_w, BAR, legend[0]), (name_w + 120, DARK, legend[1]))
    for x, colour, label in keys if pairs else ():
        out.append(_rect(x, height - 19, 10, 10, colour) + _text(x + 14, height - 10, label))
    return Html("".join(out) + "</svg>")


def lines(drawn: Sequence[Line], xlabel: str, ylabel: str) -> Html:
    """A line chart of `drawn` (each with at least one point) on shared axes, with a legend."""
    width, height, left, right, top, bottom = 960, 280, 60, 16, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for line in drawn for x, _ in line.points]
    ys = [y for line in drawn for _, y in line.points]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.06 or max(abs(y1) * 0.06, 0.05)
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * plot_h

    label = escape(f"{ylabel} by {xlabel}")
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{label}">']
    for value in _ticks(y0, y1):
        y = py(value)
        out.append(_line(left, y, width - right, y, GRID))
        out.append(_text(left - 6, y + 4, f"{value:.3g}", "end"))
    for value in _ticks(x0, x1, whole=True):
        x = px(value)
        out.append(_line(x, top, x, top + plot_h, GRID))
        out.append(_text(x, top + plot_h + 15, f"{value:,.0f}", "middle"))
    out.append(_line(left, top + plot_h, width - right, top + plot_h, AXIS))
    out.append(_text(left + plot_w / 2, height - 14, xlabel, "middle"))
    out.append(
        f'<text transform="rotate(-90)" x="{-(top + plot_h / 2):.1f}" y="14" '
        f'text-anchor="middle">{escape(ylabel)}</text>'
    )
    legend_x = left
    for line in drawn:
        out.append(_polyline(line, px, py, xlabel))
        out.append(_rect(legend_x, height - 11, 10, 10, line.colour))
        out.append(_text(legend_x + 14, height - 2, line.label))
        legend_x += 24 + 7 * len(line.label)
    return Html("".join(out) + "</svg>")


def _polyline(line: Line, px: Scale, py: Scale, xlabel: str) -> str:
    coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line.points)
    out = (
        f'<g><title>{escape(line.label)}</title><polyline points="{coords}" fill="none" '
        f'stroke="{line.colour}" stroke-width="1.8" stroke-linejoin="round"/></g>'
    )
    if len(line.points) <= 200 and (line.dotted or len(line.points) == 1):
        out += "".join(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{line.colour}">'
            f"<title>{escape(xlabel)} {x:,.0f}: {escape(line.label)} {y:.4f}</title></circle>"
            for x, y in line.points
        )
    return out


def loss_lines(records: Sequence[Mapping[str, Any]]) -> list[Line]:
    """Training and validation loss by step from `metrics.jsonl` records (`step`, `loss`,
    `eval_loss`; other keys ignored); a line without a finite point is left out."""
    training = Line("training loss", DARK, _points(records, "loss"))
    validation = Line("validation loss", P90, _points(records, "eval_loss"), dotted=True)
    return [line for line in (training, validation) if line.points]


def loss_curve(records: Sequence[Mapping[str, Any]]) -> Html:
    """The loss curve of a run's `metrics.jsonl` records; empty without a point to draw."""
    drawn = loss_lines(records)
    return lines(drawn, "step", "loss") if drawn else Html("")


def loss_summary(records: Sequence[Mapping[str, Any]]) -> str:
    """The last training loss and the best validation loss, with their steps, in words."""
    notes = []
    if training := _points(records, "loss"):
        step, value = training[-1]
        notes.append(f"last training loss {value:.4f} at step {step:,.0f}")
    if validation := _points(records, "eval_loss"):
        step, value = min(validation, key=lambda point: point[1])
        notes.append(f"best validation loss {value:.4f} at step {step:,.0f}")
    return " · ".join(notes)


def standalone(chart: str) -> str:
    """A chart made a file of its own: the SVG namespace, and the font, text colour and white
    background that a page's style sheet gives it inline."""
    head, body = chart.split(">", 1)
    width, height = head.split('viewBox="0 0 ', 1)[1].split('"', 1)[0].split()
    style = "font:11px system-ui,sans-serif;fill:#57606a"
    size = f'width="{width}" height="{height}"'  # viewers other than browsers need a size
    opened = head.replace("<svg ", f'<svg xmlns="{SVG_NS}" {size} style="{style}" ', 1)
    background = '<rect width="100%" height="100%" fill="#fff"/>'
    return f'<?xml version="1.0" encoding="utf-8"?>\n{opened}>{background}{body}\n'


def _points(records: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    found = [(r.get("step"), r.get(key)) for r in records]
    return sorted((float(s), float(v)) for s, v in found if _finite(s) and _finite(v))


def _finite(value: Any) -> bool:
    # bools are ints to Python, but never a step or a loss
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round values from `low` to `high`, about `count` of them."""
    raw = (high - low) / max(count - 1, 1)
    size = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next((m * size for m in (1, 2, 2.5, 5, 10) if m * size >= raw * 0.75), 10 * size)
    step = max(step, 1.0) if whole else step
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _short(value: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"/>'


def _rect(x: float, y: float, width: float, height: float, fill: str, opacity: int = 1) -> str:
    see = "" if opacity else ' fill-opacity="0"'
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
        f'fill="{fill}"{see}/>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", colour: str = "") -> str:
    fill = f' fill="{colour}"' if colour else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{fill}>{escape(text)}</text>'
