"""The pages of `twinchat eval`: `report.html` and `metrics.json`, and the blind test `blind.html`.

Both pages are single self-contained files that open offline, like the `prepare` report: inline
CSS and hand-written SVG, no fonts, style sheets, images or scripts from anywhere, and a
Content-Security-Policy that forbids loading any. Every string taken from the data (message text,
sender and model names, settings) goes through `html.escape` on its way in. Unlike the `prepare`
report these pages hold message text from the held-out chats, so every file is written owner-only.

The data is plain dicts and lists (the `TypedDict`s below only document their shapes):

- `models`: model names in order; the first is the fine-tune under test, the rest are baselines.
- `metrics`: model name -> metric name -> float or None. A missing or None (or NaN) value shows as
  "–". Metrics whose name contains "loss" or "perplexity" are better lower, all others higher.
- `curve`: the records of the run's `metrics.jsonl`: {"step": int, "loss"?: float,
  "eval_loss"?: float, ...}; other keys are ignored.
- `rows`: one `Row` per held-out example.
- `settings`: name -> value, listed at the top as they are (values that are not strings are
  shown as JSON).
- `intervals` (optional): the shape of `metrics`, each value's 95 % interval (low, high) or None.
- `differences` (optional): baseline -> metric -> (first model minus it, low, high), the paired
  interval of the difference; the verdict then calls a difference only when it excludes 0.
- `chats` (optional): chat -> {"examples", "metrics", "intervals"}, figures of each chat alone.
- `fidelity` (optional): per-person style figures, as `evaluation._fidelity` writes them.
"""

from __future__ import annotations

import base64
import json
import math
import random
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from twinchat.atomic import write_private
from twinchat.data.report import CSS, DARK, P90


class Message(TypedDict):
    """One message of a context."""

    sender: str
    text: str


class Row(TypedDict):
    """One held-out example: the context (oldest first), who replied, and what was suggested."""

    id: str | int
    context: list[Message]
    speaker: str
    real: str
    candidates: dict[str, list[str]]
    chat: NotRequired[str]
    """The dataset folder the example came from, when several were measured."""


KEY_METRICS = ("rouge_l_best", "chrf_best")
"""The metrics on which the first model must beat every baseline."""
LOWER_IS_BETTER = ("loss", "perplexity", "distance")
"""A metric whose name contains one of these is better lower; any other, higher."""
METRIC_ORDER = (
    "reply_loss",
    "perplexity",
    "rouge_l_best",
    "rouge_l_first",
    "chrf_best",
    "chrf_first",
    "exact_match@1",
    "exact_match@3",
    "keystroke_savings",
    "speaker_accuracy",
    "style_accuracy",
    "style_distance",
    "distinct_1",
    "distinct_2",
)
"""Rows of the metrics table come in this order; metrics not named here follow as they come."""
CONTEXT_SHOWN = 8
"""The newest messages of a context shown open; older ones fold into a `<details>`."""
BLIND_KEY = b"twinchat-blind"
"""The blind page's answer key is XORed with this, then base64-encoded: proof against a glance."""
REAL = -1
"""The author index of the real reply in the blind page's answer key."""

EVAL_CSS = """
.chat{display:flex;flex-direction:column;gap:4px;margin:8px 0}
.msg{max-width:80%;background:#f1f3f5;border-radius:8px;padding:4px 9px;align-self:flex-start}
.msg.me{align-self:flex-end;background:#ddf4ff}
.msg b,.cand h3{display:block;font-size:12px;font-weight:600;color:#57606a;margin:0}
.t{white-space:pre-wrap;overflow-wrap:anywhere}
.msg.real{background:#dafbe1;border:1px solid #4ac26b}
details{align-self:stretch;color:#57606a;font-size:12.5px}
details .chat{color:#24292f;font-size:14px}
.cands{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:8px}
.cand{border:1px solid #e1e4e8;border-radius:8px;padding:6px 9px;min-width:0}
.cand ol{margin:4px 0 0;padding-left:20px} .cand li{margin-bottom:4px}
.same{font-size:11px;background:#dafbe1;border-radius:3px;padding:0 4px;margin-left:4px}
td.best{background:#dafbe1;font-weight:600}
.verdict{font-weight:600} .empty{color:#8c959f;font-style:italic}
.wide{overflow-x:auto}
.ci{display:block;font-size:11px;color:#57606a;font-weight:400;white-space:nowrap}
td.far{background:#ffebe9}
"""
BLIND_CSS = """
.opts{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:8px;margin:8px 0}
button.opt{font:inherit;color:inherit;text-align:left;background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:8px 10px;cursor:pointer;opacity:1}
button.opt:hover:enabled{border-color:#4a89c0;background:#f6fbff}
button.opt:disabled{cursor:default}
button.opt.is-real{background:#dafbe1;border-color:#4ac26b}
button.opt.picked{box-shadow:0 0 0 3px #24292f}
button.opt.picked:not(.is-real){background:#ffebe9;border-color:#d1242f}
.who{display:block;font-size:12px;color:#57606a;margin-top:4px} .who:empty{display:none}
.res{font-weight:600;min-height:1em;margin:4px 0 0}
.bar{position:sticky;bottom:0;background:#fff;border-top:1px solid #e1e4e8;padding:8px 24px;
display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;justify-content:center}
.bar button{font:inherit;padding:4px 12px;border-radius:6px;border:1px solid #d0d7de;
background:#f6f8fa;cursor:pointer}
"""
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'"
BLIND_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def write_report(
    folder: Path,
    models: Sequence[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    curve: Sequence[Mapping[str, Any]],
    rows: Sequence[Row | Mapping[str, Any]],
    settings: Mapping[str, Any],
    **extra: Any,
) -> None:
    """Write `folder/report.html` and `folder/metrics.json` (models, metrics, settings, and the
    `extra` of `render_report`: intervals, differences, chats, fidelity), 0600.

    In `metrics.json` values that are not finite (NaN, infinity) become null, so the file is
    strict JSON; settings that JSON cannot hold are written as strings.
    """
    folder = _folder(folder)
    page = render_report(models, metrics, curve, rows, settings, **extra)
    write_private(folder / "report.html", page)
    payload = {
        "models": list(models),
        "metrics": {
            model: {name: _finite(value) for name, value in values.items()}
            for model, values in metrics.items()
        },
        "settings": dict(settings),
    }
    payload.update({k: _strict(v) for k, v in extra.items() if k != "verdict_text" and v})
    if extra.get("verdict_text"):
        payload["verdict"] = extra["verdict_text"]
    text = json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False, default=str)
    write_private(folder / "metrics.json", text + "\n")


def write_blind(
    folder: Path,
    models: Sequence[str],
    rows: Sequence[Row | Mapping[str, Any]],
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Write `folder/blind.html`, the "who said it?" page (see `render_blind`), 0600."""
    folder = _folder(folder)
    write_private(folder / "blind.html", render_blind(models, rows, seed, settings))


def render_report(
    models: Sequence[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    curve: Sequence[Mapping[str, Any]],
    rows: Sequence[Row | Mapping[str, Any]],
    settings: Mapping[str, Any],
    intervals: Mapping[str, Mapping[str, Any]] | None = None,
    differences: Mapping[str, Mapping[str, Any]] | None = None,
    chats: Mapping[str, Mapping[str, Any]] | None = None,
    fidelity: Mapping[str, Any] | None = None,
    verdict_text: str | None = None,
) -> str:
    """The whole `report.html` page, as a string of HTML. With `intervals`, each value shows
    its interval under it; `verdict_text` replaces the verdict computed from `metrics`."""
    order = _model_order(models, rows)
    names = ", ".join(f"<b>{_e(m)}</b>" if i == 0 else _e(m) for i, m in enumerate(order))
    summary = (
        f"{len(rows):,} held-out examples · models: {names}"
        f"{' (the first is under test)' if len(order) > 1 else ''}"
    )
    chart = _curve(curve)
    columns = [*models, *(m for m in metrics if m not in models)]
    ok, sentence = _verdict(models, metrics, KEY_METRICS, differences)
    if verdict_text is not None:
        sentence = verdict_text
    table = _metrics_table(columns, metrics, intervals, compared=models)
    mark = {True: "✓", False: "✗", None: "?"}[ok]
    verdict_line = f'<p class="verdict">{mark} {_e(sentence)}</p>'
    body = [
        _header("twinchat evaluation", summary, settings),
        _section("Metrics", table + verdict_line + _METRICS_NOTE),
        _fidelity_section(fidelity or {}),
        _chats_section(columns, models, chats or {}),
        _section("Training loss", chart) if chart else "",
        _examples(order, rows),
        '<p class="note">Made by <code>twinchat eval</code>. It holds message text from the '
        "held-out chats: keep it private.</p>",
    ]
    return _page("twinchat evaluation", REPORT_CSP, EVAL_CSS, "".join(body))


def render_blind(
    models: Sequence[str],
    rows: Sequence[Row | Mapping[str, Any]],
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """The whole `blind.html` page: for each row, the context and the real reply shuffled among
    the first candidate of each model; the reader picks the one they think is real.

    Options are the real reply plus each model's first candidate, with duplicates merged: texts
    equal after `strip().casefold()` make one option whose key lists every author, so a candidate
    identical to the real reply counts as the real one (picking it is right) and is tallied as
    "identical to the real reply", not as shown. Rows with fewer than two options (no candidates,
    or only copies of the real reply) are left out. The options of each row are shuffled with one
    `random.Random(seed)` for the whole page, row after row, so a seed always gives the same page.

    The answer key (row ids, model names, and for each option the indices of its authors, -1 for
    the real reply) is JSON, XORed with `BLIND_KEY` and base64-encoded in an inline script: it
    resists a glance, not a reader who opens the browser's console. The option markup carries
    only its row and option numbers. Clicking an option reveals that row; the tally counts, per
    model, how often its candidate was shown and how often it was picked as the real one ("passed
    for the real thing"), and the reader's accuracy. It lives in the page only (a reload clears
    it); the "Download tally" button saves it as JSON through a Blob, with no network.
    """
    order = _model_order(models, rows)
    rng = random.Random(seed)
    kept: list[tuple[Mapping[str, Any], list[tuple[str, list[int]]]]] = []
    for row in rows:
        options = _blind_options(order, row)
        if len(options) >= 2:
            rng.shuffle(options)
            kept.append((row, options))
    sections = [_blind_row(i, len(kept), row, options) for i, (row, options) in enumerate(kept)]
    data = {
        "seed": seed,
        "models": order,
        "ids": [str(row.get("id", i)) for i, (row, _) in enumerate(kept)],
        "key": [[authors for _, authors in options] for _, options in kept],
    }
    intro = (
        f"{len(kept):,} examples. Each shows a conversation, then a few replies to it by the same "
        "person: one is what they really wrote, the others were written by models. Click the one "
        "you think is real; the page then tells you which was which."
    )
    shown = {**(settings or {}), "seed": seed}
    body = [
        _header("twinchat: who said it?", intro, shown),
        "<noscript><p><b>This page needs JavaScript to record answers.</b></p></noscript>",
        *sections,
        _section("Tally", _blind_tally(order)),
        '<p class="note">Made by <code>twinchat eval</code>. It holds message text from the '
        "held-out chats: keep it private.</p>",
    ]
    bar = (
        f'<div class="bar"><span id="score">Answered 0 of {len(kept):,}</span>'
        '<a href="#tally">tally</a><button type="button" id="download">Download tally</button>'
        "</div>"
    )
    script = f"<script>{BLIND_JS.replace('@DATA@', _obfuscate(data))}</script>"
    return _page(
        "twinchat: who said it?", BLIND_CSP, EVAL_CSS + BLIND_CSS, "".join(body), bar + script
    )


def verdict(
    models: Sequence[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    keys: Sequence[str] = KEY_METRICS,
    differences: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """One plain sentence: does the first model beat every baseline on `keys`, and if not, which
    baselines it does not beat, on which metric, with both values. Beating is strictly better;
    a baseline without a value is not compared, and the sentence says so.

    With `differences` (baseline -> metric -> (difference, low, high), the first model's value
    minus the baseline's and its paired interval), a difference counts only when its interval
    excludes 0: otherwise the two are "not told apart"."""
    return _verdict(models, metrics, keys, differences)[1]


def _verdict(
    models: Sequence[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    keys: Sequence[str],
    differences: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[bool | None, str]:
    """(True: beats all, False: does not, None: cannot tell; the sentence)."""
    if differences is not None and len(models) > 1:
        return _paired_verdict(models, metrics, keys, differences)
    if not models:
        return None, "There are no models to compare."
    first, baselines = models[0], list(models[1:])
    if not baselines:
        return None, f"There are no baselines to compare {first} with."
    own = metrics.get(first, {})
    lacking = [key for key in keys if _value(own.get(key)) is None]
    if lacking:
        return None, f"Cannot tell whether {first} beats every baseline: it has no {_and(lacking)}."
    losses: dict[str, list[str]] = {}
    unknown: list[str] = []
    for baseline in baselines:
        for key in keys:
            mine, theirs = own[key], metrics.get(baseline, {}).get(key)
            if _value(theirs) is None:
                unknown.append(f"{baseline} on {key}")
            elif not _better(key, _value(mine) or 0.0, _value(theirs) or 0.0):
                scale = _scale([mine, theirs])
                found = f"{key} ({_fmt(mine, scale)} vs {_fmt(theirs, scale)})"
                losses.setdefault(baseline, []).append(found)
    scope = f"every baseline on {_and(list(keys))}"
    note = f" (Not compared, for want of a value: {_and(unknown)}.)" if unknown else ""
    if not losses:
        return True, f"{first} beats {scope}.{note}"
    beaten = "; ".join(f"{name} on {_and(items)}" for name, items in losses.items())
    return False, f"{first} does not beat {scope}. It does not beat {beaten}.{note}"


def _paired_verdict(
    models: Sequence[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    keys: Sequence[str],
    differences: Mapping[str, Mapping[str, Any]],
) -> tuple[bool | None, str]:
    """The verdict when every comparison has a paired interval of its difference."""
    first = models[0]
    worse: list[str] = []
    unclear: list[str] = []
    unknown: list[str] = []
    for baseline in models[1:]:
        for key in keys:
            found = (differences.get(baseline) or {}).get(key)
            if found is None or any(_value(x) is None for x in found):
                unknown.append(f"{baseline} on {key}")
                continue
            diff, low, high = (float(x) for x in found)
            text = f"{baseline} on {key} ({_signed(diff)} [{_signed(low)}, {_signed(high)}])"
            better_side = high < 0 if _lower_better(key) else low > 0
            worse_side = low > 0 if _lower_better(key) else high < 0
            if worse_side:
                worse.append(text)
            elif not better_side:
                unclear.append(text)
    scope = f"{'every baseline' if len(models) > 2 else models[1]} on {_and(list(keys))}"
    note = f" (Not compared, for want of examples: {_and(unknown)}.)" if unknown else ""
    if not worse and not unclear:
        if unknown:
            return None, f"Cannot tell whether {first} beats {scope}.{note}"
        which = "every difference" if len(models) > 2 or len(keys) > 1 else "the difference"
        return True, f"{first} beats {scope}: the 95 % interval of {which} excludes 0."
    found = []
    if worse:
        found.append(f"worse than {'; '.join(worse)}")
    if unclear:
        found.append(f"not told apart from {'; '.join(unclear)}, the interval holding 0")
    sentence = f"{first} is not shown to beat {scope}: it is {', and '.join(found)}."
    return (False if worse else None), sentence + note


def _signed(value: float) -> str:
    if value == 0:
        return "0"
    text = f"{value:+.3g}" if abs(value) >= 0.001 else f"{value:+.1e}"
    return text.replace("-", "−")


def best_models(
    models: Sequence[str], metrics: Mapping[str, Mapping[str, float | None]], metric: str
) -> list[str]:
    """The models with the best value of `metric` (several on a tie); none when fewer than two
    models have a value or all values are equal."""
    values = {m: v for m in models if (v := _value(metrics.get(m, {}).get(metric))) is not None}
    if len(values) < 2 or len(set(values.values())) == 1:
        return []
    top = min(values.values()) if _lower_better(metric) else max(values.values())
    return [m for m, v in values.items() if v == top]


# --- page parts --------------------------------------------------------------------------------


def _page(title: str, csp: str, css: str, body: str, after: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}{css}</style></head>"
        f"<body><main>{body}</main>{after}</body></html>\n"
    )


def _header(title: str, line: str, settings: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{_e(key)}</th><td>{_e(_setting(value))}</td></tr>"
        for key, value in settings.items()
    )
    table = f"<table>{rows}</table>" if rows else ""
    return f"<section><h1>{_e(title)}</h1><p>{line}</p>{table}</section>"


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{content}</section>"


def _metrics_table(
    columns: list[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    intervals: Mapping[str, Mapping[str, Any]] | None = None,
    compared: Sequence[str] | None = None,
) -> str:
    """Metric rows by model columns, each value with its interval under it when known; the
    best of `compared` (all columns by default) highlighted."""
    names = [m for m in METRIC_ORDER if any(m in metrics.get(x, {}) for x in columns)]
    for model in columns:
        names += [m for m in metrics.get(model, {}) if m not in names]
    if not columns or not names:
        return '<p class="note">No metrics.</p>'
    head = "".join(f'<th class="n">{_e(m)}</th>' for m in columns)
    lines = []
    for name in names:
        best = best_models(compared or columns, metrics, name)
        values = [metrics.get(m, {}).get(name) for m in columns]
        scale = _scale(values)
        cells = "".join(
            f'<td class="n{" best" if m in best else ""}"{" title=best" if m in best else ""}>'
            f"{_fmt(value, scale)}{_span((intervals or {}).get(m, {}).get(name), scale)}</td>"
            for m, value in zip(columns, values, strict=True)
        )
        better = "↓ lower" if _lower_better(name) else "↑ higher"
        lines.append(
            f'<tr><td><code>{_e(name)}</code></td><td class="note">{better}</td>{cells}</tr>'
        )
    table = f'<div class="wide"><table><tr><th>metric</th><th>better</th>{head}</tr>'
    return table + "".join(lines) + "</table></div>"


_METRICS_NOTE = (
    '<p class="note">The best value of each row is highlighted. The first column is the '
    "model under test; the others are baselines. Under each value, its 95 % interval: the "
    "2.5th and 97.5th percentiles over 1,000 bootstrap resamples of the held-out examples.</p>"
)


def _span(span: Any, scale: float | None = None) -> str:
    """An interval as `[low, high]` under its value; nothing without one."""
    if not span or any(_value(x) is None for x in span):
        return ""
    low, high = span
    return f'<span class="ci">[{_fmt(low, scale)}, {_fmt(high, scale)}]</span>'


def _fidelity_section(fidelity: Mapping[str, Any]) -> str:
    """Per person: how often the classifier attributes their real replies and each model's
    candidates to them, and how far each model's style profile is from their real one."""
    people = fidelity.get("people") or {}
    if not people:
        least = fidelity.get("min_replies")
        why = f" with {least} or more training replies" if least else ""
        return (
            _section("Style fidelity", f'<p class="note">No held-out reply is by a person{why}: '
                     "nothing to measure.</p>")
            if fidelity else ""
        )  # fmt: skip
    accuracy, distance = fidelity.get("accuracy") or {}, fidelity.get("distance") or {}
    models = list(accuracy)
    head = "".join(f'<th class="n">{_e(m)}</th>' for m in models)
    rows = []
    for person, counts in people.items():
        cells = "".join(_triple_cell((accuracy.get(m) or {}).get(person)) for m in models)
        rows.append(
            f"<tr><td>{_e(person)}</td><td class=n>{counts.get('training replies', 0):,}</td>"
            f"<td class=n>{counts.get('held-out replies', 0):,}</td>{cells}</tr>"
        )
    chance = fidelity.get("chance")
    chance_note = f" Chance is {chance:.0%}." if isinstance(chance, float) else ""
    accuracy_table = (
        '<h3>Who wrote this? Share attributed to the person</h3><div class="wide"><table>'
        f"<tr><th>person</th><th>training replies</th><th>held-out replies</th>{head}</tr>"
        f'{"".join(rows)}</table></div><p class="note">A classifier of character and word '
        "n-grams fitted on the training replies of the people with at least "
        f"{fidelity.get('min_replies')} of them, applied to the real held-out replies (the "
        f"ceiling) and to each model's candidates written as the same person.{chance_note} "
        "Retrieval and frequent quote the person's training replies, which the classifier was "
        "fitted on: their share is an upper bound.</p>"
    )
    return _section("Style fidelity", accuracy_table + _profile_table(fidelity, distance))


def _profile_table(fidelity: Mapping[str, Any], distance: Mapping[str, Any]) -> str:
    """Each person's real profile, then each model's, the features far from the real shaded."""
    profiles = fidelity.get("profiles") or {}
    features = fidelity.get("feature distance") or {}
    real = next((m for m in profiles if m not in distance), None)
    if real is None:
        return ""
    rows = []
    for person in fidelity.get("people") or {}:
        for model in [real, *distance]:
            shown = (profiles.get(model) or {}).get(person) or {}
            gaps = (features.get(model) or {}).get(person) or {}
            cells = "".join(
                f'<td class="n{" far" if (_value(gaps.get(f)) or 0) >= FAR else ""}">'
                f"{_profile_value(f, shown.get(f))}</td>"
                for f in PROFILE_FEATURES
            )
            total = _triple_cell((distance.get(model) or {}).get(person)) if model != real else (
                '<td class="n">–</td>'
            )  # fmt: skip
            label = f"<b>{_e(person)}</b>" if model == real else ""
            rows.append(f"<tr><td>{label}</td><td>{_e(model)}</td>{cells}{total}</tr>")
    head = "".join(f'<th class="n">{_e(f)}</th>' for f in PROFILE_FEATURES)
    return (
        '<h3>Style profiles</h3><div class="wide"><table><tr><th>person</th><th>written by</th>'
        f'{head}<th class="n">distance ↓</th></tr>{"".join(rows)}</table></div>'
        '<p class="note">length: mean characters per reply; punctuation: share of characters; '
        "emoji: share of replies with one; lowercase: share of replies with letters that have "
        "no capital. Distance: the mean over the features of the gap to the real replies "
        "(length relative to the longer), 0 to 1, with its 95 % interval; gaps of "
        f"{FAR:.0%} or more are shaded.</p>"
    )


PROFILE_FEATURES = ("length", "punctuation", "emoji", "lowercase")
FAR = 0.25
"""A profile feature this far from the real replies' is shaded in the report."""


def _profile_value(feature: str, value: Any) -> str:
    number = _value(value)
    if number is None:
        return "–"
    return f"{number:.1f}" if feature == "length" else f"{number:.0%}"


def _triple_cell(found: Any) -> str:
    """A cell of (value, low, high): the value, its interval under it."""
    if not found or _value(found[0]) is None:
        return '<td class="n">–</td>'
    value, *span = found
    return f'<td class="n">{_fmt(value)}{_span(span)}</td>'


def _chats_section(
    columns: list[str], models: Sequence[str], chats: Mapping[str, Mapping[str, Any]]
) -> str:
    """One metrics table per chat, when several were measured."""
    if not chats:
        return ""
    parts = [
        f"<h3>{_e(chat)} <span class=note>· {found.get('examples', 0):,} examples</span></h3>"
        + _metrics_table(
            [c for c in columns if c in (found.get("metrics") or {})],
            found.get("metrics") or {},
            found.get("intervals"),
            compared=models,
        )
        for chat, found in chats.items()
    ]
    return _section("Per chat", "".join(parts))


def _curve(curve: Sequence[Mapping[str, Any]]) -> str:
    """Training and validation loss by step as an SVG line chart; empty without points."""
    lines = [
        (label, colour, points)
        for label, key, colour in (
            ("training loss", "loss", DARK),
            ("validation loss", "eval_loss", P90),
        )
        if (points := _points(curve, key))
    ]
    if not lines:
        return ""
    width, height, left, right, top, bottom = 960, 280, 60, 16, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    steps = [s for *_, points in lines for s, _ in points]
    values = [v for *_, points in lines for _, v in points]
    x0, x1 = min(steps), max(steps)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = min(values), max(values)
    pad = (y1 - y0) * 0.06 or max(abs(y1) * 0.06, 0.05)
    y0, y1 = y0 - pad, y1 + pad

    def px(step: float) -> float:
        return left + (step - x0) / (x1 - x0) * plot_w

    def py(value: float) -> float:
        return top + (y1 - value) / (y1 - y0) * plot_h

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="loss by step">']
    for value in _ticks(y0, y1):
        y = py(value)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eaeef2"/>'
        )
        out.append(_text(left - 6, y + 4, f"{value:.3g}", "end"))
    for step in _ticks(x0, x1, whole=True):
        x = px(step)
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#eaeef2"/>'
        )
        out.append(_text(x, top + plot_h + 15, f"{step:,.0f}", "middle"))
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#8c959f"/>'
    )
    out.append(_text(left + plot_w / 2, height - 14, "step", "middle"))
    out.append(
        f'<text transform="rotate(-90)" x="{-(top + plot_h / 2):.1f}" y="14" '
        'text-anchor="middle">loss</text>'
    )
    legend_x = left
    for label, colour, points in lines:
        coords = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in points)
        out.append(
            f'<g><title>{_e(label)}</title><polyline points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="1.8" stroke-linejoin="round"/></g>'
        )
        if len(points) <= 200 and (label.startswith("validation") or len(points) == 1):
            out.extend(
                f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}">'
                f"<title>step {s:,.0f}: {_e(label)} {v:.4f}</title></circle>"
                for s, v in points
            )
        out.append(
            f'<rect x="{legend_x}" y="{height - 11}" width="10" height="10" fill="{colour}"/>'
            + _text(legend_x + 14, height - 2, label)
        )
        legend_x += 24 + 7 * len(label)
    notes = []
    for label, _, points in lines:
        if label.startswith("training"):
            notes.append(f"last training loss {points[-1][1]:.4f} at step {points[-1][0]:,.0f}")
        else:
            step, value = min(points, key=lambda p: p[1])
            notes.append(f"best validation loss {value:.4f} at step {step:,.0f}")
    return "".join(out) + f'</svg><p class="note">{" · ".join(notes)}.</p>'


def _examples(order: list[str], rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return _section("Examples", '<p class="note">No held-out examples.</p>')
    parts = [f"<h2>Examples ({len(rows):,})</h2>"]
    for i, row in enumerate(rows):
        real, candidates = str(row.get("real", "")), row.get("candidates") or {}
        chat = _chat(row, real)
        columns = []
        for model in order:
            texts = [str(t) for t in candidates.get(model) or []]
            items = "".join(
                f'<li><span class="t">{_text_or_empty(t)}</span>'
                f"{'<span class=same>= real</span>' if _norm(t) == _norm(real) else ''}</li>"
                for t in texts
            )
            listed = f"<ol>{items}</ol>" if items else '<p class="empty">no candidates</p>'
            columns.append(f'<div class="cand"><h3>{_e(model)}</h3>{listed}</div>')
        parts.append(
            f'<section id="ex{i}"><h2>{_e(row.get("id", i))} '
            f'<span class="note">· reply by {_e(row.get("speaker", "?"))}</span></h2>'
            f'{chat}<div class="cands">{"".join(columns)}</div></section>'
        )
    return "".join(parts)


def _chat(row: Mapping[str, Any], real: str | None = None) -> str:
    """The context as chat bubbles, the speaker's on the right; the real reply last if given."""
    speaker = str(row.get("speaker", ""))
    bubbles = [
        _bubble(m.get("sender", "?"), m.get("text", ""), speaker) for m in row.get("context") or []
    ]
    older, newer = bubbles[:-CONTEXT_SHOWN], bubbles[-CONTEXT_SHOWN:]
    if older:
        newer.insert(
            0,
            f"<details><summary>{len(older):,} earlier message{'s' if len(older) > 1 else ''}"
            f'</summary><div class="chat">{"".join(older)}</div></details>',
        )
    if not bubbles:
        newer.append('<p class="empty">no context</p>')
    if real is not None:
        newer.append(
            f'<div class="msg me real"><b>{_e(speaker)} · real reply</b>'
            f'<span class="t">{_text_or_empty(real)}</span></div>'
        )
    return f'<div class="chat">{"".join(newer)}</div>'


def _bubble(sender: Any, text: Any, speaker: str) -> str:
    side = " me" if str(sender) == speaker else ""
    body = f'<span class="t">{_text_or_empty(text)}</span>'
    return f'<div class="msg{side}"><b>{_e(sender)}</b>{body}</div>'


def _blind_options(order: list[str], row: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    """(text, author indices) for the real reply (-1) and each model's first candidate; texts
    equal after strip and casefold share one option."""
    real = str(row.get("real", ""))
    options: list[tuple[str, list[int]]] = [(real, [REAL])]
    seen = {_norm(real): 0}
    candidates = row.get("candidates") or {}
    for index, model in enumerate(order):
        texts = candidates.get(model) or []
        if not texts:
            continue
        text = str(texts[0])
        if _norm(text) in seen:
            options[seen[_norm(text)]][1].append(index)
        else:
            seen[_norm(text)] = len(options)
            options.append((text, [index]))
    return options


def _blind_row(
    i: int, total: int, row: Mapping[str, Any], options: list[tuple[str, list[int]]]
) -> str:
    buttons = "".join(
        f'<button type="button" class="opt" data-r="{i}" data-o="{o}">'
        f'<span class="t">{_text_or_empty(text)}</span><span class="who"></span></button>'
        for o, (text, _) in enumerate(options)
    )
    return (
        f'<section class="row" id="r{i}"><h2>{i + 1} of {total:,} '
        f'<span class="note">· which reply is really by {_e(row.get("speaker", "?"))}?</span></h2>'
        f'{_chat(row)}<div class="opts">{buttons}</div><p class="res"></p></section>'
    )


def _blind_tally(order: list[str]) -> str:
    rows = "".join(
        f'<tr><td>{_e(model)}</td><td class="n" data-m="{m}" data-f="shown">–</td>'
        f'<td class="n" data-m="{m}" data-f="picked">–</td>'
        f'<td class="n" data-m="{m}" data-f="rate">–</td>'
        f'<td class="n" data-m="{m}" data-f="same">–</td></tr>'
        for m, model in enumerate(order)
    )
    head = (
        "<tr><th>model</th><th>shown</th><th>picked as real</th>"
        "<th>passed for the real thing</th><th>identical to the real reply</th></tr>"
    )
    return (
        f'<div id="tally"><p id="accuracy">No answers yet.</p><div class="wide"><table>{head}'
        f"{rows}</table></div>"
        '<p class="note">Counted over the examples answered so far. With <i>n</i> options, a model '
        "that cannot be told from the real thing is picked about one time in <i>n</i>. A "
        "candidate identical to the real reply is merged with it and counted in the last column "
        "only. The tally lives in this page: reloading it starts over, so download it first.</p>"
        "</div>"
    )


BLIND_JS = """
(function () {
  "use strict";
  var RAW = "@DATA@", K = "twinchat-blind";
  var bin = atob(RAW), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i) ^ K.charCodeAt(i % K.length);
  var D = JSON.parse(new TextDecoder().decode(bytes));
  var picks = {};
  function name(a) { return a < 0 ? "real" : D.models[a]; }
  function isReal(authors) { return authors.indexOf(-1) >= 0; }
  function label(authors) {
    var models = authors.filter(function (a) { return a >= 0; }).map(name).join(", ");
    if (isReal(authors)) return models ? "the real reply (also written by " + models + ")"
      : "the real reply";
    return "written by " + models;
  }
  function pct(n, d) { return d ? Math.round(100 * n / d) + "%" : "–"; }
  function tally() {
    var m = D.models.map(function () { return {shown: 0, picked: 0, same_as_real: 0}; });
    var answered = 0, correct = 0, choices = [];
    Object.keys(picks).forEach(function (r) {
      var key = D.key[r], o = picks[r], ok = isReal(key[o]);
      answered++; if (ok) correct++;
      key.forEach(function (authors, i) {
        authors.forEach(function (a) {
          if (a < 0) return;
          if (isReal(authors)) { m[a].same_as_real++; return; }
          m[a].shown++; if (i === o) m[a].picked++;
        });
      });
      choices.push({id: D.ids[r], picked: key[o].map(name), correct: ok, options: key.length});
    });
    var models = {};
    D.models.forEach(function (n, i) {
      var t = m[i];
      t.passed_for_real = t.shown ? t.picked / t.shown : null;
      models[n] = t;
    });
    return {seed: D.seed, examples: D.key.length, answered: answered, correct: correct,
            accuracy: answered ? correct / answered : null, models: models, choices: choices};
  }
  function show() {
    var t = tally();
    var line = "Answered " + t.answered + " of " + t.examples + (t.answered
      ? " · right " + t.correct + " (" + pct(t.correct, t.answered) + ")" : "");
    document.getElementById("score").textContent = line;
    document.getElementById("accuracy").textContent = t.answered ? "You picked the real reply in "
      + t.correct + " of " + t.answered + " examples (" + pct(t.correct, t.answered) + ")."
      : "No answers yet.";
    D.models.forEach(function (n, i) {
      var s = t.models[n], v = {shown: s.shown, picked: s.picked,
        rate: pct(s.picked, s.shown), same: s.same_as_real};
      document.querySelectorAll('td[data-m="' + i + '"]').forEach(function (td) {
        td.textContent = t.answered ? String(v[td.dataset.f]) : "–";
      });
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.opt");
    if (!b) return;
    var r = +b.dataset.r, o = +b.dataset.o;
    if (r in picks) return;
    picks[r] = o;
    var row = b.closest(".row"), key = D.key[r];
    row.querySelectorAll("button.opt").forEach(function (x) {
      var authors = key[+x.dataset.o];
      x.disabled = true;
      x.classList.add(isReal(authors) ? "is-real" : "is-model");
      x.querySelector(".who").textContent = label(authors);
    });
    b.classList.add("picked");
    row.querySelector(".res").textContent = isReal(key[o])
      ? "Right: that is the real reply." : "Wrong: that one was " + label(key[o]) + ".";
    show();
  });
  document.getElementById("download").addEventListener("click", function () {
    var blob = new Blob([JSON.stringify(tally(), null, 2)], {type: "application/json"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "blind-tally.json";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  });
})();
"""


# --- small helpers -----------------------------------------------------------------------------


def _folder(folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _model_order(models: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The models as given, then any other model that has candidates, as they come."""
    order = [str(m) for m in models]
    for row in rows:
        order += [str(m) for m in (row.get("candidates") or {}) if str(m) not in order]
    return order


def _obfuscate(data: Any) -> str:
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    mixed = bytes(b ^ BLIND_KEY[i % len(BLIND_KEY)] for i, b in enumerate(raw))
    return base64.b64encode(mixed).decode("ascii")


def _points(curve: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    points = [
        (float(r["step"]), float(r[key]))
        for r in curve
        if _value(r.get("step")) is not None and _value(r.get(key)) is not None
    ]
    return [(s, v) for s, v in sorted(points) if math.isfinite(v) and math.isfinite(s)]


def _ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round values from `low` to `high`, about `count` of them."""
    raw = (high - low) / max(count - 1, 1)
    size = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next((m * size for m in (1, 2, 2.5, 5, 10) if m * size >= raw * 0.75), 10 * size)
    step = max(step, 1.0) if whole else step
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _value(value: Any) -> float | None:
    """A number, or None for anything else (missing, None, NaN, bools, strings)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _strict(value: Any) -> Any:
    """`value` with every non-finite float, however deep, made None; tuples made lists."""
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return _finite(value)


def _lower_better(metric: str) -> bool:
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


def _better(metric: str, mine: float, theirs: float) -> bool:
    return mine < theirs if _lower_better(metric) else mine > theirs


def _fmt(value: Any, scale: float | None = None) -> str:
    """A number with 4 decimals, 2 from 10, 1 from 1000, by `scale` (the largest in its row)
    or else its own size; "–" for no value."""
    number = _value(value)
    if number is None:
        return "–"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if isinstance(value, int):
        return f"{value:,}"
    size = abs(number) if scale is None else scale
    return f"{number:,.{4 if size < 10 else 2 if size < 1000 else 1}f}"


def _scale(values: Sequence[Any]) -> float:
    return max(
        (abs(v) for x in values if (v := _value(x)) is not None and math.isfinite(v)), default=0
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _norm(text: Any) -> str:
    return str(text).strip().casefold()


def _setting(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _e(value: Any) -> str:
    return escape(str(value))


def _text_or_empty(text: Any) -> str:
    return _e(text) if str(text) else '<span class="empty">(empty)</span>'


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{_e(text)}</text>'
