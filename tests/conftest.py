"""Shared helpers: paths of the fixtures and a writer of small Telegram exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TELEGRAM = FIXTURES / "telegram"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def telegram_message(i: int, sender: str, text: Any, epoch: int, **extra: Any) -> dict[str, Any]:
    """One message as Telegram Desktop writes it."""
    return {
        "id": i,
        "type": "message",
        "date": "2024-01-01T00:00:00",
        "date_unixtime": str(epoch),
        "from": sender,
        "from_id": f"user{abs(hash(sender)) % 1000}",
        "text": text,
        **extra,
    }


def conversation(turns: list[tuple[str, str, int]], start: int = 1_700_000_000) -> list[dict]:
    """Messages from (sender, text, seconds after the previous message) triples."""
    messages, epoch = [], start
    for i, (sender, text, gap) in enumerate(turns, 1):
        epoch += gap
        messages.append(telegram_message(i, sender, text, epoch))
    return messages


@pytest.fixture
def write_export(tmp_path: Path):
    """Write a single-chat Telegram export and return its path."""

    def write(messages: list[dict], name: str = "Chat", chat_id: int = 1) -> Path:
        path = tmp_path / f"export-{chat_id}" / "result.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        chat = {"name": name, "type": "private_group", "id": chat_id, "messages": messages}
        path.write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    return write
