"""The page kit: escaped templates from package data, well-formed SVG charts, one loss curve."""

from __future__ import annotations

import ast
import math
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from string import Template

import pytest

import twinchat
from twinchat.pages import charts, render
from twinchat.pages.charts import Line, Mark, Pair
from twinchat.pages.render import Html, escape, fill, inline

EVIL = "<script>alert(1)</script>"
TEMPLATES = resources.files("twinchat.pages") / "templates"
SOURCE = Path(twinchat.__file__).parent
CURVE = [
    {"step": 0, "eval_loss": 3.2},
    *({"step": s, "loss": 3 - s / 100, "learning_rate": 1e-4} for s in range(10, 60, 10)),
    {"step": 50, "eval_loss": 2.6},
    {"step": 60, "loss": math.nan},
    {"step": True, "loss": 1.0},
]


def svg(chart: str) -> ET.Element:
    """The chart parsed as XML: it fails on anything not well-formed."""
    return ET.fromstring(chart)


def test_values_are_escaped_and_markup_is_kept() -> None:
    page = fill("evaluation.html", **dict.fromkeys(_placeholders("evaluation.html"), EVIL))
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert escape(escape(EVIL)) == escape(EVIL)  # Html is not escaped twice
    kept = fill("profiles.html", features=Html("<th>x</th>"), rows=EVIL, far="25%")
    assert "<th>x</th>" in kept and EVIL not in kept
    assert render.section(EVIL, "<p>ok</p>") == (
        "<section><h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2><p>ok</p></section>"
    )


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError):
        fill("profiles.html", features="", rows="")


def test_inlining_refuses_what_would_close_the_element(monkeypatch) -> None:
    assert "white-space:pre-wrap" in inline("style.css", "evaluation.css")
    monkeypatch.setattr(render, "read", lambda name: "a{}</style><script>")
    with pytest.raises(ValueError, match="would close"):
        inline("style.css")


def test_every_template_named_in_the_source_exists_and_is_used() -> None:
    named = {
        arg.value
        for path in SOURCE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("fill", "inline")
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }
    shipped = {entry.name for entry in TEMPLATES.iterdir() if entry.is_file()}
    assert named and named <= shipped, named - shipped
    assert shipped <= named, f"templates nothing uses: {shipped - named}"


def test_templates_load_nothing_from_anywhere() -> None:
    for entry in TEMPLATES.iterdir():
        text = entry.read_text(encoding="utf-8")
        assert "://" not in text and "url(" not in text and "@import" not in text, entry.name
        assert not re.search(r"\ssrc=\"(?!#)", text) and "<link" not in text, entry.name
        # an <a href> to a file beside the page (the quality card) is a link, not a load
        assert all(":" not in href for href in re.findall(r"<a [^>]*href=\"([^\"]*)\"", text))


def test_bar_charts_are_well_formed_and_escape_their_labels() -> None:
    marks = [Mark(1.5, "p50 3", charts.P50), Mark(2.5, EVIL, charts.P90)]
    drawn = charts.bars([3, 0, 7], ["a", "", EVIL], ["t1", "t2", EVIL], "x", EVIL, marks)
    root = svg(drawn)
    assert len(root.findall("g")) == 3 and len(root.findall("line")) == 3 + len(marks)
    assert EVIL not in drawn  # escaped in the markup, whole in the text
    assert [t.text for t in root.iter("title")][2] == EVIL
    assert EVIL in [t.text for t in root.iter("text")]
    assert "no data" in svg(charts.bars([], [], [], "x")).findall("text")[-1].text
    pairs = [Pair(EVIL, 10, 4, EVIL), Pair("b" * 40, 5, 5, "tip")]
    across = svg(charts.horizontal_bars(pairs, ("sent", "kept"), "per sender"))
    labels = [t.text for t in across.iter("text")]
    assert EVIL in labels and "b" * 25 + "…" in labels and "10 / 4" in labels
    empty = charts.horizontal_bars([], ("sent", "kept"), "per sender", empty="no senders")
    assert [t.text for t in svg(empty).iter("text")] == ["no senders"]


def test_the_loss_curve_draws_the_points_it_is_given() -> None:
    root = svg(charts.loss_curve(CURVE))
    training, validation = root.iter("polyline")
    # the NaN and the boolean step are left out
    assert len(training.get("points").split()) == 5
    assert len(validation.get("points").split()) == 2
    assert len(root.findall("circle")) == 2  # validation points are dotted
    xs = [float(p.split(",")[0]) for p in training.get("points").split()]
    assert xs == sorted(xs) and len(set(xs)) == 5
    assert charts.loss_summary(CURVE) == (
        "last training loss 2.5000 at step 50 · best validation loss 2.6000 at step 50"
    )
    assert charts.loss_curve([]) == "" and charts.loss_curve([{"step": 1, "lr": 0.1}]) == ""
    single = svg(charts.loss_curve([{"step": 3, "loss": 1.0}]))
    assert len(single.findall("circle")) == 1  # a lone point is drawn as a dot


def test_a_line_chart_puts_every_line_on_the_same_axes() -> None:
    lines = [Line("up", "#000", [(0, 0.0), (10, 1.0)]), Line("down", "#111", [(0, 1.0), (10, 0)])]
    up, down = (
        [tuple(map(float, p.split(","))) for p in line.get("points").split()]
        for line in svg(charts.lines(lines, "x", "y")).iter("polyline")
    )
    assert [x for x, _ in up] == [x for x, _ in down] and up[0][0] < up[1][0]
    assert up[0][1] == down[1][1] > up[1][1] == down[0][1]  # higher values are drawn higher


def test_a_standalone_chart_is_an_svg_file() -> None:
    text = charts.standalone(charts.loss_curve(CURVE))
    assert text.startswith("<?xml")
    root = ET.fromstring(text.encode())
    assert root.tag == f"{{{charts.SVG_NS}}}svg" and "font" in root.get("style")
    assert root.find(f"{{{charts.SVG_NS}}}rect").get("fill") == "#fff"


def _placeholders(name: str) -> list[str]:
    return Template(render.read(name)).get_identifiers()
