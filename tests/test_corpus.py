"""Real export files from public repositories, each read against counts recorded in
tests/corpus/manifest.json: the messages people typed (text, or a caption), their senders,
and the first and last of them.

GPL, AGPL and unlicensed files are never copied here: ../shared/samples holds some, and
TWINCHAT_REAL_EXPORTS may name a folder of the others' repositories, one folder each named
`owner+name` (fetched by hand; TWINCHAT_WHATS_JSON may name a checkout of starkdmi/whats_json
alone); a file that is not on this machine is skipped, not failed. MANIFEST.md has the table
and says how each expected count was made: by the independent counters of tests/corpus
(`count_<source>.py`, their own simple rules, never twinchat's readers), which
`test_the_counters_still_give_the_manifests_counts` runs again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import SHARED

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
import recount  # tests/corpus is not a package

from twinchat import Kind, read_export

MANIFEST = json.loads((Path(__file__).parent / "corpus" / "manifest.json").read_text("utf-8"))
REAL = os.environ.get("TWINCHAT_REAL_EXPORTS")
ROOTS = {"starkdmi/whats_json": os.environ.get("TWINCHAT_WHATS_JSON")}


def _path(entry: dict) -> Path:
    if entry["file"].startswith("shared/"):
        return SHARED / entry["file"].removeprefix("shared/")
    root = ROOTS.get(entry["repository"])
    if root is None and REAL:
        root = str(Path(REAL) / entry["repository"].replace("/", "+"))
    return Path(root or "/nonexistent") / entry["file"]


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


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"].split("/")[-1])
def test_the_counters_still_give_the_manifests_counts(entry):
    """The expected counts are the independent counter's, not a copy of the reader's."""
    path = _path(entry)
    if not path.exists():
        pytest.skip(f"{entry['file']} ({entry['licence']}) is not on this machine")
    assert entry["counted_by"] == f"tests/corpus/{recount.COUNTERS[entry['source']]}.py"
    counts = recount.counted(entry, path)
    assert {k: entry[k] for k in recount.FIELDS} == counts


def test_the_manifest_says_where_each_file_comes_from():
    for entry in MANIFEST["files"]:
        assert {"repository", "commit", "licence", "source", "language"} <= entry.keys()
        assert entry["source"] in recount.COUNTERS
        permissive = ("MIT", "BSD", "Apache-2.0", "CC0", "CC-BY-4.0", "Unlicense")
        assert not entry["copied"] or entry["licence"] in permissive
