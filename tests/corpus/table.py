"""The table of MANIFEST.md: each file of manifest.json, its expected counts and twinchat's.

`python tests/corpus/table.py` (with TWINCHAT_REAL_EXPORTS set) prints the rows in the order of
manifest.json, then a line of totals; a file not on this machine reads as "absent".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from recount import MANIFEST, path_of

from twinchat import Kind, read_export


def row(entry: dict) -> tuple[str, bool | None]:
    """A markdown row of one entry, and whether twinchat read it as expected (None: absent)."""
    path = path_of(entry)
    expected = f"{entry['texts']} / {len(entry['senders'])}"
    if path is None:
        read, result, passed = "absent", "skipped", None
    else:
        typed = [
            m
            for m in read_export(path)
            if m.sender and m.text.strip() and m.kind in (Kind.TEXT, Kind.MEDIA)
        ]
        senders = sorted({m.sender for m in typed})
        read = f"{len(typed)} / {len(senders)}"
        ends = (typed[0].text, typed[-1].text) if typed else (None, None)
        passed = (
            len(typed) == entry["texts"]
            and senders == entry["senders"]
            and ends == (entry["first"], entry["last"])
        )
        result = "pass" if passed else "fail"
    name = Path(entry["file"]).name
    cells = [
        f"`{name}`",
        f"{entry['repository']} @ {entry['commit'][:12]}",
        entry["licence"],
        entry["source"],
        entry["language"],
        expected,
        read,
        result,
    ]
    return "| " + " | ".join(cells) + " |", passed


def main() -> None:
    manifest = json.loads(MANIFEST.read_text("utf-8"))
    outcomes = []
    for entry in manifest["files"]:
        line, passed = row(entry)
        outcomes.append(passed)
        print(line)
    files = manifest["files"]
    sources = sorted({e["source"] for e in files})
    languages = sorted({e["language"] for e in files})
    print(
        f"\n{len(files)} files, {outcomes.count(True)} passing, {outcomes.count(False)} failing, "
        f"{outcomes.count(None)} absent; sources ({len(sources)}): {', '.join(sources)}; "
        f"languages ({len(languages)}): {', '.join(languages)}.",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
