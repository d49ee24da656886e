"""JSON Lines in and out, with one shared encoder (json.dumps builds a new one per call)."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterator
from pathlib import Path
from typing import Any

dumps = json.JSONEncoder(ensure_ascii=False).encode
_encode_string = json.encoder.encode_basestring  # the C version, keeping non-ASCII as is


def quote(value: str | None) -> str:
    """A JSON string or null; the hot paths build lines from these instead of dicts."""
    return "null" if value is None else _encode_string(value)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file, skipping blank lines."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
