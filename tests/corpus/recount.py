"""The expected counts of manifest.json, from the independent counters (count_<source>.py).

`python tests/corpus/recount.py` reads every file of the manifest that is on this machine
(with TWINCHAT_REAL_EXPORTS set, see tests/test_corpus.py), counts it with its source's
counter, never with twinchat, and writes the counts back (`--check` only says which differ).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
SHARED = HERE.parents[2] / "shared"
COUNTERS = {
    "whatsapp": "count_whatsapp",
    "telegram": "count_telegram",
    "discord": "count_discord",
    "messenger": "count_messenger",
    "slack": "count_slack",
    "kakaotalk": "count_kakao",
    "irc": "count_irc",
    "telegram_html": "count_telegram_html",
    "line": "count_line",
    "imessage": "count_imessage",
    "google_chat": "count_google_chat",
}
FIELDS = ("texts", "senders", "first", "last")


def path_of(entry: dict) -> Path | None:
    """Where a manifest entry's file is on this machine, or None."""
    if entry["file"].startswith("shared/"):
        path = SHARED / entry["file"].removeprefix("shared/")
    else:
        root = os.environ.get("TWINCHAT_REAL_EXPORTS")
        if not root:
            return None
        path = Path(root) / entry["repository"].replace("/", "+") / entry["file"]
    return path if path.exists() else None


def counted(entry: dict, path: Path) -> dict:
    """The counts of one file by its source's counter."""
    sys.path.insert(0, str(HERE))
    counter = importlib.import_module(COUNTERS[entry["source"]])
    from count_whatsapp import summary

    return summary(counter.typed(str(path)))


def main(check: bool) -> int:
    manifest = json.loads(MANIFEST.read_text("utf-8"))
    differ = 0
    for entry in manifest["files"]:
        path = path_of(entry)
        if path is None:
            print(f"absent  {entry['file']}")
            continue
        counts = {
            **counted(entry, path),
            "counted_by": f"tests/corpus/{COUNTERS[entry['source']]}.py",
        }
        if any(entry.get(k) != counts[k] for k in (*FIELDS, "counted_by")):
            differ += 1
            print(f"differs {entry['file']}: {entry.get('texts')} -> {counts['texts']}")
            if not check:
                entry.update(counts)
    if not check:
        MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return 1 if check and differ else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
