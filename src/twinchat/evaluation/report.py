"""The pages of `twinchat eval`: `report.html` and `metrics.json`, and the blind test `blind.html`.

Both pages are templates of the page kit (`pages/templates/evaluation.html`, `blind.html`) filled
here: single self-contained files that open offline, like the `prepare` report, with inline CSS
and SVG, no fonts, style sheets, images or scripts from anywhere, and a Content-Security-Policy
that forbids loading any. Every string taken from the data (message text, sender and model names,
settings) is escaped on its way in. Unlike the `prepare` report these pages hold message text
from the held-out chats, so every file is written owner-only.

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
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from twinchat.atomic import write_private
from twinchat.evaluation.fidelity import FAR
from twinchat.evaluation.fidelity import FEATURES as PROFILE_FEATURES
from twinchat.pages.charts import loss_curve, loss_summary
from twinchat.pages.render import Html, escape, fill, inline, section


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
    "style_odds_accuracy",
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
    names = ", ".join(f"<b>{escape(m)}</b>" if i == 0 else escape(m) for i, m in enumerate(order))
    summary = (
        f"{len(rows):,} held-out examples · models: {names}"
        f"{' (the first is under test)' if len(order) > 1 else ''}"
    )
    columns = [*models, *(m for m in metrics if m not in models)]
    ok, sentence = _verdict(models, metrics, KEY_METRICS, differences)
    return fill(
        "evaluation.html",
        style=inline("style.css", "evaluation.css"),
        summary=Html(summary),
        settings=_settings(settings),
        metrics=_metrics_table(columns, metrics, intervals, compared=models),
        mark={True: "✓", False: "✗", None: "?"}[ok],
        verdict=sentence if verdict_text is None else verdict_text,
        fidelity=_fidelity_section(fidelity or {}),
        chats=_chats_section(columns, models, chats or {}),
        loss=_loss(curve),
        examples=_examples(order, rows),
    )


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
    return fill(
        "blind.html",
        style=inline("style.css", "evaluation.css", "blind.css"),
        count=f"{len(kept):,}",
        settings=_settings({**(settings or {}), "seed": seed}),
        rows=Html("".join(sections)),
        tally=_blind_tally(order),
        script=fill("blind.js", data=_obfuscate(data)),
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
            better_side = high < 0 if lower_better(key) else low > 0
            worse_side = low > 0 if lower_better(key) else high < 0
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
    top = min(values.values()) if lower_better(metric) else max(values.values())
    return [m for m, v in values.items() if v == top]


# --- page parts --------------------------------------------------------------------------------


def _settings(settings: Mapping[str, Any]) -> Html:
    rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(_setting(value))}</td></tr>"
        for key, value in settings.items()
    )
    return Html(f"<table>{rows}</table>" if rows else "")


def _metrics_table(
    columns: list[str],
    metrics: Mapping[str, Mapping[str, float | None]],
    intervals: Mapping[str, Mapping[str, Any]] | None = None,
    compared: Sequence[str] | None = None,
) -> Html:
    """Metric rows by model columns, each value with its interval under it when known; the
    best of `compared` (all columns by default) highlighted."""
    names = [m for m in METRIC_ORDER if any(m in metrics.get(x, {}) for x in columns)]
    for model in columns:
        names += [m for m in metrics.get(model, {}) if m not in names]
    if not columns or not names:
        return Html('<p class="note">No metrics.</p>')
    head = "".join(f'<th class="n">{escape(m)}</th>' for m in columns)
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
        better = "↓ lower" if lower_better(name) else "↑ higher"
        lines.append(
            f'<tr><td><code>{escape(name)}</code></td><td class="note">{better}</td>{cells}</tr>'
        )
    table = f'<div class="wide"><table><tr><th>metric</th><th>better</th>{head}</tr>'
    return Html(table + "".join(lines) + "</table></div>")


def _span(span: Any, scale: float | None = None) -> str:
    """An interval as `[low, high]` under its value; nothing without one."""
    if not span or any(_value(x) is None for x in span):
        return ""
    low, high = span
    return f'<span class="ci">[{_fmt(low, scale)}, {_fmt(high, scale)}]</span>'


def _fidelity_section(fidelity: Mapping[str, Any]) -> Html:
    """Per person: how often the classifier attributes their real replies and each model's
    candidates to them, and how far each model's style profile is from their real one."""
    people = fidelity.get("people") or {}
    if not people:
        least = fidelity.get("min_replies")
        why = f" with {least} or more training replies" if least else ""
        note = f'<p class="note">No held-out reply is by a person{why}: nothing to measure.</p>'
        return section("Style fidelity", note) if fidelity else Html("")
    accuracy, distance = fidelity.get("accuracy") or {}, fidelity.get("distance") or {}
    models = list(accuracy)
    head = "".join(f'<th class="n">{escape(m)}</th>' for m in models)
    rows = []
    for person, counts in people.items():
        cells = "".join(_triple_cell((accuracy.get(m) or {}).get(person)) for m in models)
        rows.append(
            f"<tr><td>{escape(person)}</td><td class=n>{counts.get('training replies', 0):,}</td>"
            f"<td class=n>{counts.get('held-out replies', 0):,}</td>{cells}</tr>"
        )
    chance = fidelity.get("chance")
    return fill(
        "fidelity.html",
        models=Html(head),
        rows=Html("".join(rows)),
        least=fidelity.get("min_replies"),
        chance=f" Chance is {chance:.0%}." if isinstance(chance, float) else "",
        profiles=_profile_table(fidelity, distance),
    )


def _profile_table(fidelity: Mapping[str, Any], distance: Mapping[str, Any]) -> Html:
    """Each person's real profile, then each model's, the features far from the real shaded."""
    profiles = fidelity.get("profiles") or {}
    features = fidelity.get("feature distance") or {}
    real = next((m for m in profiles if m not in distance), None)
    if real is None:
        return Html("")
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
            total = (
                _triple_cell((distance.get(model) or {}).get(person))
                if model != real
                else '<td class="n">–</td>'
            )
            label = f"<b>{escape(person)}</b>" if model == real else ""
            rows.append(f"<tr><td>{label}</td><td>{escape(model)}</td>{cells}{total}</tr>")
    head = "".join(f'<th class="n">{escape(f)}</th>' for f in PROFILE_FEATURES)
    return fill("profiles.html", features=Html(head), rows=Html("".join(rows)), far=f"{FAR:.0%}")


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
) -> Html:
    """One metrics table per chat, when several were measured."""
    if not chats:
        return Html("")
    parts = [
        f"<h3>{escape(chat)} <span class=note>· {found.get('examples', 0):,} examples</span></h3>"
        + _metrics_table(
            [c for c in columns if c in (found.get("metrics") or {})],
            found.get("metrics") or {},
            found.get("intervals"),
            compared=models,
        )
        for chat, found in chats.items()
    ]
    return section("Per chat", "".join(parts))


def _loss(curve: Sequence[Mapping[str, Any]]) -> Html:
    """The training run's loss curve and its figures in words; nothing without a point."""
    chart = loss_curve(curve)
    note = f'<p class="note">{escape(loss_summary(curve))}.</p>'
    return section("Training loss", chart + note) if chart else Html("")


def _examples(order: list[str], rows: Sequence[Mapping[str, Any]]) -> Html:
    if not rows:
        return section("Examples", '<p class="note">No held-out examples.</p>')
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
            columns.append(f'<div class="cand"><h3>{escape(model)}</h3>{listed}</div>')
        parts.append(
            f'<section id="ex{i}"><h2>{escape(row.get("id", i))} '
            f'<span class="note">· reply by {escape(row.get("speaker", "?"))}</span></h2>'
            f'{chat}<div class="cands">{"".join(columns)}</div></section>'
        )
    return Html("".join(parts))


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
            f'<div class="msg me real"><b>{escape(speaker)} · real reply</b>'
            f'<span class="t">{_text_or_empty(real)}</span></div>'
        )
    return f'<div class="chat">{"".join(newer)}</div>'


def _bubble(sender: Any, text: Any, speaker: str) -> str:
    side = " me" if str(sender) == speaker else ""
    body = f'<span class="t">{_text_or_empty(text)}</span>'
    return f'<div class="msg{side}"><b>{escape(sender)}</b>{body}</div>'


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
    speaker = escape(row.get("speaker", "?"))
    return (
        f'<section class="row" id="r{i}"><h2>{i + 1} of {total:,} '
        f'<span class="note">· which reply is really by {speaker}?</span></h2>'
        f'{_chat(row)}<div class="opts">{buttons}</div><p class="res"></p></section>'
    )


def _blind_tally(order: list[str]) -> Html:
    """The tally's rows, one per model, which the page's script fills in."""
    rows = "".join(
        f'<tr><td>{escape(model)}</td><td class="n" data-m="{m}" data-f="shown">–</td>'
        f'<td class="n" data-m="{m}" data-f="picked">–</td>'
        f'<td class="n" data-m="{m}" data-f="rate">–</td>'
        f'<td class="n" data-m="{m}" data-f="same">–</td></tr>'
        for m, model in enumerate(order)
    )
    return Html(rows)


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


def lower_better(metric: str) -> bool:
    """Whether a smaller value of `metric` is the better one (losses, perplexity, distances)."""
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


def _better(metric: str, mine: float, theirs: float) -> bool:
    return mine < theirs if lower_better(metric) else mine > theirs


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


def _text_or_empty(text: Any) -> str:
    return escape(text) if str(text) else '<span class="empty">(empty)</span>'
