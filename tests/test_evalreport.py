"""evalreport.py: the eval report, metrics.json and the blind "who said it?" page."""

from __future__ import annotations

import base64
import json
import math
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from twinchat.evaluation.report import (
    BLIND_KEY,
    best_models,
    render_blind,
    render_report,
    verdict,
    write_blind,
    write_report,
)

EVIL = "<script>alert(1)</script>"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
MODELS = ["run-Ω", "base-Ψ", "retrieval-Φ", "frequent-Σ"]
RUN, BASE, RETRIEVAL, FREQUENT = MODELS


class Node:
    """An element: tag, attributes, children (elements and strings)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def markup(self) -> str:
        """Tag names, attribute values and text of this element and all inside it."""
        parts = [self.tag, *(f"{k}={v}" for k, v in self.attrs.items())]
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.markup())
        return " ".join(parts)


class Tree(HTMLParser):
    """Builds a tree of `Node`s; fails on an end tag that does not close the innermost one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], f"unclosed: {[n.tag for n in tree.stack[1:]]}"
    return tree.root


def make_metrics() -> dict[str, dict[str, float | None]]:
    return {
        RUN: {
            "reply_loss": 2.1,
            "perplexity": 8.17,
            "rouge_l_best": 0.31,
            "rouge_l_first": 0.2,
            "chrf_best": 28.4,
            "distinct_1": 0.4,
            "keystroke_savings": 0.12,
        },
        BASE: {"reply_loss": 3.0, "perplexity": 20.1, "rouge_l_best": 0.22, "chrf_best": 21.0},
        RETRIEVAL: {"rouge_l_best": 0.25, "chrf_best": 25.0, "exact_match@1": 0.02},
        FREQUENT: {"rouge_l_best": 0.1, "chrf_best": 11.5, "perplexity": None},
    }


def make_rows(count: int = 12) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        context = [
            {"sender": "Ann", "text": f"hi {i}\nsecond line 🎉"},
            {"sender": "Bob", "text": "see https://example.com/x"},
            {"sender": "Ann", "text": "what now?"},
        ]
        candidates = {
            RUN: [f"run answer {i}", f"run second {i}"],
            BASE: [f"base answer {i}"],
            RETRIEVAL: [f"retrieved {i}"],
            FREQUENT: ["ok"],
        }
        rows.append(
            {
                "id": f"row-{i}",
                "context": context,
                "speaker": "Bob",
                "real": f"the real one {i}",
                "candidates": candidates,
            }
        )
    return rows


def evil_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": EVIL,
            "context": [
                {"sender": EVIL, "text": EVIL},
                {"sender": "Ann", "text": "line one\nline two 😀🇺🇦"},
            ],
            "speaker": EVIL,
            "real": f"real {EVIL}",
            "candidates": {EVIL: [f"cand {EVIL}"], RUN: ["multi\nline 👍"]},
        }
    ]


def table_rows(root: Node) -> dict[str, dict[str, Node]]:
    """The metrics table: metric name -> model name -> cell."""
    table = root.all("table")[1]  # the first is the settings table
    head, *lines = table.all("tr")
    columns = [th.text() for th in head.all("th")][2:]
    out = {}
    for line in lines:
        name, _, *cells = line.all("td")
        out[name.text()] = dict(zip(columns, cells, strict=True))
    return out


def blind_rows(root: Node) -> list[Node]:
    return root.all("section", "row")


def decode_key(page: str) -> dict[str, Any]:
    """The blind page's answer key, decoded as its script does."""
    raw = page.split('var RAW = "', 1)[1].split('"', 1)[0]
    mixed = base64.b64decode(raw)
    plain = bytes(b ^ BLIND_KEY[i % len(BLIND_KEY)] for i, b in enumerate(mixed))
    return json.loads(plain.decode())


def real_positions(page: str) -> list[int]:
    return [[-1 in authors for authors in row].index(True) for row in decode_key(page)["key"]]


def report(**changes: Any) -> str:
    args: dict[str, Any] = {
        "models": MODELS,
        "metrics": make_metrics(),
        "curve": [{"step": 0, "eval_loss": 3.1}, {"step": 10, "loss": 2.9}],
        "rows": make_rows(3),
        "settings": {"run": "/runs/a", "samples": 3},
    }
    args.update(changes)
    return render_report(**args)


def assert_self_contained(page: str, scripts: int) -> None:
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    root = parse(page)
    tags = root.all()
    assert {"link", "img", "iframe", "object", "embed", "base"}.isdisjoint(t.tag for t in tags)
    assert len(root.all("script")) == scripts
    for node in tags:
        assert "src" not in node.attrs and not any(a.startswith("on") for a in node.attrs)
        for value in node.attrs.values():
            assert "://" not in (value or ""), value
            assert not (value or "").startswith("//"), value
    # the only URL is the one typed in a chat message, shown as text
    assert page.count("://") == page.count("https://example.com/x")
    assert "@import" not in page and "url(" not in page


def test_report_with_four_models_and_missing_metrics() -> None:
    page = report()
    assert_self_contained(page, scripts=0)
    cells = table_rows(parse(page))
    assert list(cells)[:2] == ["reply_loss", "perplexity"]  # the known order first
    assert set(cells) >= {"rouge_l_best", "chrf_best", "exact_match@1", "keystroke_savings"}
    assert all(list(row) == MODELS for row in cells.values())
    assert cells["perplexity"][FREQUENT].text() == "–"  # None
    assert cells["exact_match@1"][RUN].text() == "–"  # missing
    assert cells["reply_loss"][RETRIEVAL].text() == "–"
    assert cells["rouge_l_best"][RUN].text() == "0.3100"
    assert cells["chrf_best"][BASE].text() == "21.00"


def test_best_value_lower_for_loss_higher_for_rouge() -> None:
    cells = table_rows(parse(report()))

    def best(metric: str) -> list[str]:
        return [m for m, cell in cells[metric].items() if "best" in cell.classes]

    assert best("reply_loss") == [RUN]  # 2.1 < 3.0
    assert best("perplexity") == [RUN]
    assert best("rouge_l_best") == [RUN]  # 0.31 > 0.25
    assert best("keystroke_savings") == []  # one value: nothing to compare
    metrics = make_metrics()
    metrics[RUN]["rouge_l_best"], metrics[BASE]["reply_loss"] = 0.05, 1.5
    cells = table_rows(parse(report(metrics=metrics)))
    assert best("rouge_l_best") == [RETRIEVAL]
    assert best("reply_loss") == [BASE]
    metrics[BASE]["rouge_l_best"] = 0.25  # a tie: both
    assert best_models(MODELS, metrics, "rouge_l_best") == [BASE, RETRIEVAL]
    assert best_models(MODELS, {RUN: {"x": math.nan}, BASE: {"x": 1.0}}, "x") == []


def test_verdict_when_the_run_beats_every_baseline() -> None:
    sentence = verdict(MODELS, make_metrics())
    assert sentence == f"{RUN} beats every baseline on rouge_l_best and chrf_best."
    verdicts = parse(report()).all("p", "verdict")
    assert len(verdicts) == 1 and verdicts[0].text() == f"✓ {sentence}"


def test_verdict_lists_the_baselines_not_beaten() -> None:
    metrics = make_metrics()
    metrics[RETRIEVAL]["rouge_l_best"] = 0.4  # above the run's 0.31
    metrics[BASE]["chrf_best"] = 28.4  # a tie is not a win
    metrics[FREQUENT]["chrf_best"] = None
    sentence = verdict(MODELS, metrics)
    assert sentence.startswith(f"{RUN} does not beat every baseline on rouge_l_best and chrf_best.")
    assert f"{BASE} on chrf_best (28.40 vs 28.40)" in sentence
    assert f"{RETRIEVAL} on rouge_l_best (0.3100 vs 0.4000)" in sentence
    assert FREQUENT not in sentence.split("(Not compared")[0]
    assert f"Not compared, for want of a value: {FREQUENT} on chrf_best" in sentence
    assert parse(report(metrics=metrics)).all("p", "verdict")[0].text() == f"✗ {sentence}"
    assert "no baselines" in verdict([RUN], metrics)
    metrics[BASE].pop("rouge_l_best")
    assert verdict([BASE, RUN], metrics).startswith(f"Cannot tell whether {BASE}")


def test_loss_chart_only_with_a_curve() -> None:
    curve = [{"step": 0, "eval_loss": 3.2}] + [
        {"step": s, "loss": 3 - s / 100, "learning_rate": 1e-4} for s in range(10, 110, 10)
    ]
    curve.append({"step": 100, "eval_loss": 2.2})
    root = parse(report(curve=curve))
    assert len(root.all("svg")) == 1
    lines = root.all("polyline")
    assert len(lines) == 2  # training and validation
    assert len(lines[0].attrs["points"].split()) == 10
    assert "best validation loss 2.2000 at step 100" in root.text()
    for empty in ([], [{"step": 5, "learning_rate": 0.1}], [{"step": 1, "loss": math.nan}]):
        page = report(curve=empty)
        assert "<svg" not in page and "Training loss" not in page
    assert "<svg" in report(curve=[{"step": 3, "loss": 1.0}])  # a single point


def test_chat_text_names_and_candidates_are_escaped() -> None:
    models = [RUN, EVIL]
    metrics = {RUN: {"rouge_l_best": 0.2}, EVIL: {"rouge_l_best": 0.1}}
    settings = {EVIL: EVIL}
    pages = [
        render_report(models, metrics, [], evil_rows(), settings),
        render_blind(models, evil_rows(), settings=settings),
    ]
    for page, scripts in zip(pages, (0, 1), strict=True):
        assert page.count("<script") == scripts and "alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        root = parse(page)
        assert len(root.all("script")) == scripts
        text = root.text()
        assert f"real {EVIL}" in text
        assert f"cand {EVIL}" in text
        assert "line one\nline two 😀🇺🇦" in text and "multi\nline 👍" in text


def test_emoji_and_newlines_survive_and_are_kept_as_lines() -> None:
    root = parse(report())
    texts = [node.text() for node in root.all("span", "t")]
    assert "hi 0\nsecond line 🎉" in texts
    assert "white-space:pre-wrap" in report()
    columns = root.all("div", "cand")
    assert [c.all("h3")[0].text() for c in columns[:4]] == MODELS
    assert [li.text() for li in columns[0].all("li")] == ["run answer 0", "run second 0"]
    real = root.all("div", "real")
    assert len(real) == 3 and real[0].text().endswith("the real one 0")


def test_files_metrics_json_and_permissions(tmp_path: Path) -> None:
    metrics = make_metrics()
    metrics[BASE]["perplexity"] = math.inf
    metrics[BASE]["distinct_2"] = math.nan
    settings = {"run": "/runs/ä", "samples": 3, "when": "2024-05-01", "folder": tmp_path}
    write_report(tmp_path / "eval", MODELS, metrics, [], make_rows(2), settings)
    write_blind(tmp_path / "eval", MODELS, make_rows(2), seed=1)
    folder = tmp_path / "eval"
    assert sorted(p.name for p in folder.iterdir()) == ["blind.html", "metrics.json", "report.html"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    text = (folder / "metrics.json").read_text(encoding="utf-8")
    assert "/runs/ä" in text and "Ω" in text  # not \u escapes
    data = json.loads(text)
    assert list(data) == ["models", "metrics", "settings"]
    assert data["models"] == MODELS
    expected = make_metrics()
    expected[BASE].update(perplexity=None, distinct_2=None)  # not finite: null
    assert data["metrics"] == expected
    assert data["settings"] == {**settings, "folder": str(tmp_path)}
    assert_self_contained((folder / "report.html").read_text(encoding="utf-8"), scripts=0)
    assert_self_contained((folder / "blind.html").read_text(encoding="utf-8"), scripts=1)


def test_blind_shows_every_option_once_per_row() -> None:
    rows = make_rows(5)
    page = render_blind(MODELS, rows, seed=3)
    assert_self_contained(page, scripts=1)
    sections = blind_rows(parse(page))
    assert len(sections) == 5
    for row, section in zip(rows, sections, strict=True):
        shown = [b.all("span", "t")[0].text() for b in section.all("button", "opt")]
        expected = [row["real"], *(texts[0] for texts in row["candidates"].values())]
        assert sorted(shown) == sorted(expected)  # the first candidate of each, once
        assert "run second" not in section.text()
        assert "hi" in section.text() and "what now?" in section.text()  # the context


def test_blind_order_varies_by_row_and_is_fixed_by_the_seed() -> None:
    rows = make_rows(20)
    page = render_blind(MODELS, rows, seed=7)
    assert page == render_blind(MODELS, rows, seed=7)
    positions = real_positions(page)
    assert len(positions) == 20 and len(set(positions)) > 1
    other = render_blind(MODELS, rows, seed=8)
    assert other != page and real_positions(other) != positions
    # the decoded key matches what the page shows
    key = decode_key(page)
    assert key["models"] == MODELS and key["ids"] == [r["id"] for r in rows]
    for row, section, authors in zip(rows, blind_rows(parse(page)), key["key"], strict=True):
        texts = [b.all("span", "t")[0].text() for b in section.all("button", "opt")]
        for text, who in zip(texts, authors, strict=True):
            (author,) = who
            wanted = row["real"] if author == -1 else row["candidates"][MODELS[author]][0]
            assert text == wanted


def test_blind_keeps_the_answer_out_of_sight() -> None:
    page = render_blind(MODELS, make_rows(6), seed=0)
    root = parse(page)
    for section in blind_rows(root):
        markup = section.markup()
        for name in MODELS:
            assert name not in markup
        for button in section.all("button", "opt"):
            assert set(button.attrs) == {"type", "class", "data-r", "data-o"}
            assert button.classes == {"opt"}
            assert button.all("span", "who")[0].text() == ""
        assert section.all("p", "res")[0].text() == ""
    script = root.all("script")[0].text()
    assert "the real one" not in page.split("<main>", 1)[0] and "the real one" not in script
    for name in MODELS:  # only in the tally table, not in the script
        assert name not in script
    assert [td.text() for td in root.all("td") if td.attrs.get("data-m") == "0"] == ["–"] * 4


def test_blind_skips_rows_without_candidates_and_merges_copies() -> None:
    rows = make_rows(4)
    rows[0]["candidates"] = {}
    rows[1]["candidates"] = {RUN: [], BASE: ["  The Real One 1 "]}  # only a copy: nothing to pick
    rows[2]["candidates"][BASE] = [" THE REAL ONE 2"]  # a copy of the real reply
    rows[2]["candidates"][FREQUENT] = ["run answer 2"]  # a copy of another model's
    rows[3]["candidates"][RUN] = []
    page = render_blind(MODELS, rows, seed=0)
    key = decode_key(page)
    assert key["ids"] == ["row-2", "row-3"]
    sections = blind_rows(parse(page))
    assert len(sections) == 2
    texts = [b.text() for b in sections[0].all("button", "opt")]
    assert sorted(texts) == ["retrieved 2", "run answer 2", "the real one 2"]
    merged = sorted(sorted(authors) for authors in key["key"][0])
    assert merged == [[-1, 1], [0, 3], [2]]  # real = base; run = frequent
    assert sorted(b.text() for b in sections[1].all("button", "opt")) == [
        "base answer 3",
        "ok",
        "retrieved 3",
        "the real one 3",
    ]
    assert "2 of 2" in sections[1].all("h2")[0].text()


def test_blind_header_lists_settings_and_seed() -> None:
    page = render_blind(MODELS, make_rows(2), seed=42, settings={"run": "/runs/b", "samples": 2})
    table = parse(page).all("table")[0]
    pairs = {tr.all("th")[0].text(): tr.all("td")[0].text() for tr in table.all("tr")}
    assert pairs == {"run": "/runs/b", "samples": "2", "seed": "42"}
    assert decode_key(page)["seed"] == 42


@pytest.mark.parametrize("rows", [[], [{"id": 1, "context": [], "speaker": "A", "real": ""}]])
def test_pages_without_examples(rows: list[dict[str, Any]]) -> None:
    page = render_report(MODELS, {}, [], rows, {})
    assert "No metrics." in page
    parse(page)
    blind = render_blind(MODELS, rows)
    assert_self_contained(blind, scripts=1)
    assert blind_rows(parse(blind)) == []


# --- intervals, the paired verdict, style fidelity and chats -----------------------------------


def make_differences(**changes: tuple[float, float, float]) -> dict[str, dict[str, Any]]:
    """The run minus each baseline, all clearly better unless changed (`BASE_chrf_best=...`)."""
    found: dict[str, dict[str, Any]] = {
        b: {"rouge_l_best": (0.05, 0.02, 0.08), "chrf_best": (3.0, 1.0, 5.0)}
        for b in (BASE, RETRIEVAL, FREQUENT)
    }
    for key, value in changes.items():
        baseline = {"BASE": BASE, "RETRIEVAL": RETRIEVAL, "FREQUENT": FREQUENT}[key.split("_")[0]]
        found[baseline][key.split("_", 1)[1]] = value
    return found


def test_paired_verdict_calls_a_difference_only_when_its_interval_excludes_zero() -> None:
    beaten = verdict(MODELS, make_metrics(), differences=make_differences())
    assert beaten == (
        f"{RUN} beats every baseline on rouge_l_best and chrf_best: the 95 % interval of every "
        "difference excludes 0."
    )
    # The run's point value is higher than base's, but the interval holds 0: not a win.
    unclear = make_differences(BASE_chrf_best=(7.4, -1.0, 12.0))
    sentence = verdict(MODELS, make_metrics(), differences=unclear)
    assert sentence == (
        f"{RUN} is not shown to beat every baseline on rouge_l_best and chrf_best: it is not "
        f"told apart from {BASE} on chrf_best (+7.4 [−1, +12]), the interval holding 0."
    )
    assert parse(report(differences=unclear)).all("p", "verdict")[0].text().startswith("? ")
    worse = make_differences(RETRIEVAL_rouge_l_best=(-0.1, -0.2, -0.05))
    sentence = verdict(MODELS, make_metrics(), differences=worse)
    assert f"worse than {RETRIEVAL} on rouge_l_best (−0.1 [−0.2, −0.05])" in sentence
    assert parse(report(differences=worse)).all("p", "verdict")[0].text().startswith("✗ ")
    # Lower is better for a loss: a negative difference whose interval excludes 0 wins.
    loss = {BASE: {"reply_loss": (-0.5, -0.7, -0.3)}}
    assert verdict([RUN, BASE], make_metrics(), ["reply_loss"], loss).startswith(
        f"{RUN} beats {BASE} on reply_loss"
    )
    missing = {BASE: {"reply_loss": None}}
    assert verdict([RUN, BASE], make_metrics(), ["reply_loss"], missing) == (
        f"Cannot tell whether {RUN} beats {BASE} on reply_loss. (Not compared, for want of "
        f"examples: {BASE} on reply_loss.)"
    )


def test_every_value_shows_its_interval_under_it() -> None:
    spans = {RUN: {"rouge_l_best": (0.2, 0.4)}, BASE: {"rouge_l_best": None}}
    cells = table_rows(parse(report(intervals=spans)))
    assert cells["rouge_l_best"][RUN].text() == "0.3100[0.2000, 0.4000]"
    assert cells["rouge_l_best"][RUN].all("span", "ci")[0].text() == "[0.2000, 0.4000]"
    assert cells["rouge_l_best"][BASE].text() == "0.2200"  # no interval: the value alone


FIDELITY = {
    "min_replies": 20,
    "people": {"Ana": {"training replies": 40, "held-out replies": 6}},
    "chance": 0.25,
    "accuracy": {"real replies": {"Ana": [0.8, 0.5, 1.0]}, RUN: {"Ana": [0.3, 0.1, 0.6]}},
    "profiles": {
        "real replies": {
            "Ana": {"length": 20.0, "punctuation": 0.01, "emoji": 0.0, "lowercase": 1.0}
        },
        RUN: {"Ana": {"length": 31.5, "punctuation": 0.05, "emoji": 0.0, "lowercase": 0.0}},
    },
    "distance": {RUN: {"Ana": [0.34, 0.3, 0.4]}},
    "feature distance": {
        RUN: {"Ana": {"length": 0.365, "punctuation": 0.04, "emoji": 0.0, "lowercase": 1.0}}
    },
}


def test_style_fidelity_section_shows_each_person_and_the_far_features() -> None:
    root = parse(report(fidelity=FIDELITY))
    section = next(s for s in root.all("section") if "Style fidelity" in s.text())
    accuracy, profiles = section.all("table")
    _, ana = accuracy.all("tr")
    assert [td.text() for td in ana.all("td")] == [
        "Ana", "40", "6", "0.8000[0.5000, 1.0000]", "0.3000[0.1000, 0.6000]",
    ]  # fmt: skip
    assert "Chance is 25%." in section.text()
    _, real, clone = profiles.all("tr")
    assert [td.text() for td in real.all("td")][1:6] == ["real replies", "20.0", "1%", "0%", "100%"]
    shaded = [td.text() for td in clone.all("td") if "far" in td.classes]
    assert shaded == ["31.5", "0%"]  # length 36 % off, lowercase 100 % off: "her clone capitalises"
    empty = parse(report(fidelity={"min_replies": 20, "people": {}}))
    assert "No held-out reply is by a person with 20 or more training replies" in empty.text()


def test_per_chat_tables_and_the_extras_in_metrics_json(tmp_path: Path) -> None:
    chats = {
        "friends": {
            "examples": 3,
            "metrics": {RUN: {"rouge_l_best": 0.5}, BASE: {"rouge_l_best": 0.25}},
            "intervals": {RUN: {"rouge_l_best": (0.25, 0.75)}, BASE: {}},
        }
    }
    spans = {RUN: {"rouge_l_best": (0.2, math.nan)}}
    write_report(
        tmp_path, MODELS, make_metrics(), [], make_rows(1), {}, intervals=spans, chats=chats,
        fidelity=FIDELITY, differences=make_differences(), verdict_text="All said.",
    )  # fmt: skip
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    sections = parse(page).all("section")
    section = next(s for s in sections if [h.text() for h in s.all("h2")][:1] == ["Per chat"])
    assert "friends · 3 examples" in section.text()
    assert "0.5000[0.2500, 0.7500]" in section.text()
    assert parse(page).all("p", "verdict")[0].text() == "✓ All said."
    data = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert list(data) == [
        "models", "metrics", "settings", "intervals", "chats", "fidelity", "differences", "verdict",
    ]  # fmt: skip
    assert data["intervals"][RUN]["rouge_l_best"] == [0.2, None]  # not finite: null
    assert data["chats"]["friends"]["intervals"][RUN]["rouge_l_best"] == [0.25, 0.75]
    assert data["verdict"] == "All said."
