"""The quality card: headline figures with intervals in plain words, a difference called only
when its interval excludes 0, each person's clone against their real messages."""

from __future__ import annotations

import json
import stat

import pytest

from twinchat.evaluation.card import compare, figure, render_card, style_gaps
from twinchat.evaluation.evaluate import Evaluation

SETTINGS = {
    "samples": 300,
    "data": "data",
    "candidates": 5,
    "replies by people not in training": "12 of 300",
    "conversation tokens read": 96,
}


def _evaluation(style_diff=(0.20, 0.08, 0.31), loss_diff=(-0.52, -0.62, -0.42)) -> Evaluation:
    metrics = {
        "run": {"reply_loss": 4.60, "perplexity": 99.5, "keystroke_savings": 0.41,
                "style_accuracy": 0.30, "style_distance": 0.12, "rouge_l_best": 0.1},
        "base": {"reply_loss": 5.12, "perplexity": 167.3, "keystroke_savings": 0.33,
                 "style_accuracy": 0.10, "style_distance": 0.30, "rouge_l_best": 0.08},
        "real replies": {"style_accuracy": 0.40},
    }  # fmt: skip
    intervals = {
        "run": {"perplexity": (90.0, 110.0), "keystroke_savings": (0.36, 0.46),
                "style_accuracy": (0.22, 0.38)},
        "base": {},
        "real replies": {"style_accuracy": (0.31, 0.49)},
    }  # fmt: skip
    differences = {
        "base": {
            "reply_loss": loss_diff,
            "keystroke_savings": (0.08, -0.01, 0.17),
            "style_accuracy": style_diff,
        }
    }
    fidelity = {
        "chance": 0.25,
        "people": {
            "Ana": {"training replies": 80, "held-out replies": 30},
            "Sam": {"training replies": 40, "held-out replies": 10},
        },
        "accuracy": {
            "real replies": {"Ana": [0.84, 0.7, 0.95], "Sam": [0.5, 0.2, 0.8]},
            "run": {"Ana": [0.71, 0.55, 0.85], "Sam": [0.1, 0.0, 0.3]},
            "base": {"Ana": [0.2, 0.1, 0.35], "Sam": [0.0, 0.0, 0.0]},
        },
        "profiles": {
            "real replies": {
                "Ana": {"length": 20.0, "lowercase": 1.0, "emoji": 0.0, "punctuation": 0.02}
            },
            "run": {"Ana": {"length": 21.0, "lowercase": 0.08, "emoji": 0.0, "punctuation": 0.02}},
        },
        "feature distance": {
            "run": {"Ana": {"length": 0.05, "lowercase": 0.92, "emoji": 0.0, "punctuation": 0.0}}
        },
    }
    return Evaluation(
        ["run", "base"], metrics, intervals, differences, {}, fidelity, "run beats base."
    )


def test_the_card_says_each_headline_figure_with_its_interval():
    card = render_card(_evaluation(), SETTINGS)
    assert card.startswith("# Quality card: run\n")
    assert "on 300 held-out examples of data" in card
    assert "read the last 96 tokens of each conversation" in card
    assert "| perplexity | 99.5 [90.0, 110.0] | 167.3 | – |" in card
    assert "| keystroke savings | 41% [36%, 46%] | 33% | – |" in card
    assert "next word right" not in card  # no model has it: the row is left out
    assert "[report.html](report.html)" in card and "Verdict: run beats base." in card
    assert "hf-int8" not in card
    quantized = render_card(_evaluation(), {**SETTINGS, "engine": "hf-int8"})
    assert "**Measured on hf-int8**" in quantized


def test_the_card_calls_a_difference_only_when_its_interval_excludes_zero():
    card = render_card(_evaluation(), SETTINGS)
    assert "run is better than (-0.520 [-0.620, -0.420]) the untuned model" in card
    # keystroke savings: +0.08, but the interval holds 0
    assert "33% with the untuned model: not told apart from (+0.080" in card
    assert "75% of the real replies' share" in card  # 0.30 of 0.40
    assert "so run is better than (+0.200" in card
    unclear = render_card(_evaluation(style_diff=(0.2, -0.01, 0.4)), SETTINGS)
    assert "so run is not told apart from (+0.200" in unclear
    worse = render_card(_evaluation(loss_diff=(0.3, 0.1, 0.5)), SETTINGS)
    assert "run is worse than (+0.300 [+0.100, +0.500]) the untuned model" in worse


def test_each_person_is_measured_against_their_real_messages_with_their_style_gaps():
    card = render_card(_evaluation(), SETTINGS)
    assert (
        "- Ana's clone is told apart as Ana 71% [55%, 85%] of the time; Ana's real messages "
        "84% [70%, 95%] (30 held-out replies). Style gaps: lowercase 8% (real 100%)." in card
    )
    assert "- Sam's clone is told apart as Sam 10% [0%, 30%]" in card
    assert style_gaps(_evaluation().fidelity) == [
        "style gap · Ana as written by run: lowercase 8% (real 100%)"
    ]


@pytest.mark.parametrize(
    ("key", "found", "said"),
    [
        ("reply_loss", (-0.1, -0.2, -0.01), "better than"),
        ("reply_loss", (-0.1, -0.2, 0.01), "not told apart from"),
        ("reply_loss", (0.1, 0.01, 0.2), "worse than"),
        ("style_accuracy", (0.1, 0.01, 0.2), "better than"),
        ("style_accuracy", (-0.1, -0.2, -0.01), "worse than"),
        ("style_accuracy", (0.0, 0.0, 0.0), "not told apart from"),
        ("style_accuracy", None, "not compared with"),
    ],
)
def test_compare_reads_the_direction_of_each_figure(key, found, said):
    assert compare(key, found).startswith(said)


def test_figures_are_shares_or_numbers_by_kind():
    assert figure("style_accuracy", 0.123, (0.1, 0.2)) == "12% [10%, 20%]"
    assert figure("reply_loss", 4.2) == "4.200"
    assert figure("reply_loss", None) == "–"


def test_eval_writes_the_card_beside_the_report(hike_llama_run, hike_data, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from twinchat.evaluation.evaluate import EvalOptions, evaluate

    options = EvalOptions(compare=["frequent"], samples=4, candidates=2, typeahead=1)
    result = evaluate(hike_llama_run, hike_data, tmp_path / "report", options)
    card = tmp_path / "report" / "quality.md"
    assert stat.S_IMODE(card.stat().st_mode) == 0o600
    text = card.read_text(encoding="utf-8")
    assert text == render_card(result, {**_settings_of(tmp_path), "samples": 4})
    assert "Ana's clone is told apart as Ana" in text
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert '<a href="quality.md">quality.md</a>' in page
    # every example's part of every figure, to compute any subset's intervals again
    from twinchat.evaluation.intervals import value
    from twinchat.jsonl import read_jsonl

    lines = list(read_jsonl(tmp_path / "report" / "figures.jsonl"))
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    for model in ("run", "frequent", "real replies"):
        for key, found in result.metrics[model].items():
            parts = {
                line["index"]: tuple(line["figures"][model][key])
                for line in lines
                if key in line["figures"].get(model, {})
            }
            if parts:
                assert value(parts) == pytest.approx(found), (model, key)


def _settings_of(tmp_path) -> dict:
    return json.loads((tmp_path / "report" / "metrics.json").read_text())["settings"]
