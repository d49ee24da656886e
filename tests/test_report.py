"""report.py: one self-contained, escaped HTML page of charts for a stats dict."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from typing import Any

import pytest

from twinchat.data.report import render_report

EVIL = "<script>alert(1)</script>"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


def lengths(histogram: list[int], width: int, p50: int, p90: int, p99: int, top: int) -> dict:
    return {
        "count": sum(histogram),
        "mean": round((p50 + p90) / 2, 1),
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": top,
        "bin_width": width,
        "histogram": histogram,
    }


def make_stats(**extra: Any) -> dict[str, Any]:
    senders = [{"name": EVIL, "messages": 300, "examples": 120}] + [
        {"name": f"Person {i}", "messages": 100 - i, "examples": 50 - i} for i in range(30)
    ]
    stats = {
        "exports": [
            {
                "path": "/tmp/x/result.json",
                "format": "telegram",
                "chats": 2,
                "messages": 5000,
                "unreadable": {"bad date": 3},
            }
        ],
        "messages": {"read": 5000, "kept": 4900, "dropped": {"service": 60, "empty": 40}},
        "span": {"first": "2021-01-02", "last": "2023-04-05"},
        "senders": senders,
        "senders_total": 31,
        "activity": {"hour": list(range(24)), "weekday": [5, 0, 3, 9, 1, 2, 7]},
        "sessions": {"count": 40, "with_examples": 35, "messages": lengths([40], 1, 0, 0, 0, 0)},
        "examples": {"train": 4000, "validation": 200},
        "lengths": {
            "context_messages": {"count": 0},
            "context_chars": lengths([5, 9, 4, 2, 1], 25, 30, 80, 110, 400),
            "reply_chars": lengths([0, 7, 3, 0], 4, 6, 9, 11, 15),
        },
        "options": {"split": "time", "holdout": None, "speakers": [EVIL], "session_gap": 120.0},
    }
    stats.update(extra)
    return stats


TOKENS = {
    "tokenizer": "gpt2<b>",
    "sampled_examples": 1000,
    "context_tokens": lengths([100, 300, 400, 150, 40, 10], 50, 120, 190, 260, 900),
    "reply_tokens": {"count": 0},
}


class Checker(HTMLParser):
    """Collects tags and fails on an end tag that does not close the innermost open one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    return checker


@pytest.mark.parametrize("tokens", [None, TOKENS])
def test_one_balanced_self_contained_document(tokens: dict | None) -> None:
    stats = make_stats(**({"tokens": tokens} if tokens else {}))
    page = render_report(stats)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.count("</html>") == 1
    checker = parse(page)
    names = [tag for tag, _ in checker.tags]
    assert {"script", "link", "img", "iframe", "object"}.isdisjoint(names)
    for _, attrs in checker.tags:
        assert "src" not in attrs
        assert not any(a.startswith("on") for a in attrs), attrs
        href = attrs.get("href") or ""
        assert not href.startswith(("http:", "https:", "//")), href
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page


def test_a_chart_for_each_figure() -> None:
    plain = render_report(make_stats())
    # senders, hour, weekday, sessions, context messages/chars, reply chars
    assert plain.count("<svg") == 7
    assert render_report(make_stats(tokens=TOKENS)).count("<svg") == 9


def test_sender_names_and_tokenizer_are_escaped() -> None:
    page = render_report(make_stats(tokens=TOKENS))
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "gpt2&lt;b&gt;" in page
    text = "".join(parse(page).text)
    assert EVIL in text  # shown, as text
    assert "Person 18:" in text and "Person 19:" not in text  # the top 20 only
    assert "Top 20 of 31 senders" in text


def test_token_section_only_with_tokens() -> None:
    plain = render_report(make_stats())
    assert "--max-source-tokens" not in plain and "Tokens" not in plain
    page = render_report(make_stats(tokens=TOKENS))
    assert "--max-source-tokens" in page and 'id="tokens"' in page
    text = "".join(parse(page).text)
    # p90 190 -> 256 and p99 260 -> 512
    assert "Covers 90% of contexts: --max-source-tokens 256; 99%: --max-source-tokens 512" in text
    # 64: 100 + 300 * 15/50 of 1000; 128: 100 + 300 + 400 * 29/50; 256 is below p99 260
    assert "contexts kept whole19%63%98%99%all" in text


def test_empty_and_single_bin_lengths() -> None:
    stats = make_stats()
    stats["lengths"] = {key: {"count": 0} for key in stats["lengths"]}
    stats["sessions"]["messages"] = {"count": 0}
    stats["senders"], stats["senders_total"] = [], 0
    stats["span"] = {"first": None, "last": None}
    stats["activity"] = {"hour": [0] * 24, "weekday": [0] * 7}
    page = render_report(stats)
    parse(page)
    assert page.count("no data") >= 6 and "no dates" in page and "no senders" in page
    single = make_stats()
    single["lengths"]["reply_chars"] = lengths([12], 1, 0, 0, 0, 0)
    parse(render_report(single))


def test_pseudonyms_and_options_are_shown() -> None:
    stats = copy.deepcopy(make_stats(pseudonyms="/tmp/out.pseudonyms.json"))
    text = "".join(parse(render_report(stats)).text)
    assert "pseudonyms" in text and "/tmp/out.pseudonyms.json" in text
    assert "session_gap" in text and "120.0" in text
    assert "service" in text and "bad date: 3" in text
