"""JSON Lines in and out. Writing uses orjson: prepare writes millions of lines, and orjson
encodes a record an order of magnitude faster than the standard library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

Fragment = orjson.Fragment
"""JSON encoded once and embedded as is: a context message appears in up to ten examples."""


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8, aware datetimes in UTC with a `Z`."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def encode_line(value: Any) -> bytes:
    """`encode`, plus the newline that ends a JSON Lines record."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file, skipping blank lines."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
