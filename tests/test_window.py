"""A run keeps the context window `prepare` cut its examples with, and every app reads with it.

    pytest tests/test_window.py

The run is made by `prepare --max-context 4 --session-gap 30` and `train` (the `windowed_run`
fixture of conftest.py); the bot's own check is in test_bot.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from twinchat.data.example import Turn
from twinchat.description import ContextWindow
from twinchat.inference.suggester import Suggester

SAID = [("Ana", "we met an hour ago"), ("Sam", "did we?"), ("Ana", "yes"), ("Sam", "ok")]
SAID += [("Ana", "snacks?"), ("Sam", "sure"), ("Ana", "well?")]  # seven: more than four


class Recorder:
    """The run's suggester, keeping the turns each call was given."""

    def __init__(self, inner: Suggester):
        self.inner = inner
        self.seen: list[list[Turn]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def suggest(self, messages: list[Turn], **options: Any) -> Any:
        self.seen.append(list(messages))
        return self.inner.suggest(messages, **options)


@pytest.fixture(scope="module")
def recorder(windowed_run) -> Recorder:
    suggester = Suggester.load(windowed_run)
    assert suggester.description.window == ContextWindow(max_context=4, session_gap=30.0)
    return Recorder(suggester)


def test_the_group_chat_reads_four_messages_and_30_minutes(recorder):
    from twinchat.apps.groupchat import GroupChat

    recorder.seen.clear()
    chat = GroupChat(recorder, me="Ana", context=[Turn(s, t) for s, t in SAID], greedy=True)
    list(chat.answer_as("Sam", limit=1))
    assert recorder.seen[-1] == [Turn(s, t) for s, t in SAID[-4:]]  # prepare's default: 10
    # 50 minutes of silence: a new conversation for this run (prepare's default gap is 120)
    chat.transcript = [replace(e, time=e.time - timedelta(minutes=50)) for e in chat.transcript]
    chat.say("still there?")
    list(chat.answer_as("Sam", limit=1))
    assert recorder.seen[-1] == [Turn("Ana", "still there?")]


def test_the_server_reads_four_messages(recorder):
    from fastapi.testclient import TestClient

    from twinchat.apps.server import create_app

    recorder.seen.clear()
    client = TestClient(create_app(recorder))
    body = {"messages": [{"sender": s, "text": t} for s, t in SAID], "as": "Sam", "n": 1}
    assert client.post("/v1/suggest", json=body).status_code == 200
    chat = [{"role": "user", "name": s, "content": t} for s, t in SAID]
    body = {"model": "twinchat/Sam", "messages": chat, "max_tokens": 4}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    newest = [Turn(s, t) for s, t in SAID[-4:]]
    assert recorder.seen == [newest, newest]
