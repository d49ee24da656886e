"""Real export files from public repositories, each read against counts recorded in
tests/corpus/manifest.json: the messages people typed (text, or a caption), their senders,
and the first and last of them.

GPL and AGPL files are never copied here: ../shared/samples holds some, and the others are
read from a checkout named by TWINCHAT_WHATS_JSON (starkdmi/whats_json); a file that is not
on this machine is skipped, not failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SHARED

from twinchat import Kind, read_export

MANIFEST = json.loads((Path(__file__).parent / "corpus" / "manifest.json").read_text("utf-8"))
ROOTS = {
    "starkdmi/whats_json": Path(os.environ.get("TWINCHAT_WHATS_JSON", "/nonexistent")),
}


def _path(entry: dict) -> Path:
    if entry["file"].startswith("shared/"):
        return SHARED / entry["file"].removeprefix("shared/")
    return ROOTS.get(entry["repository"], Path("/nonexistent")) / entry["file"]


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"].split("/")[-1])
def test_real_export_reads_as_recorded(entry):
    path = _path(entry)
    if not path.exists():
        pytest.skip(f"{entry['file']} ({entry['licence']}) is not on this machine")
    typed = [
        m
        for m in read_export(path)
        if m.sender and m.text.strip() and m.kind in (Kind.TEXT, Kind.MEDIA)
    ]
    assert len(typed) == entry["texts"]
    assert sorted({m.sender for m in typed}) == entry["senders"]
    assert (typed[0].text, typed[-1].text) == (entry["first"], entry["last"])


def test_the_manifest_says_where_each_file_comes_from():
    for entry in MANIFEST["files"]:
        assert {"repository", "commit", "licence", "source", "language"} <= entry.keys()
        assert not entry["copied"] or entry["licence"] in ("MIT", "BSD", "Apache-2.0", "CC0")
