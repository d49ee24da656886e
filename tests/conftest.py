"""Shared helpers: paths of the fixtures, a writer of small Telegram exports, the memorized
tiny runs, and an app served by uvicorn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# torch's OpenMP threads spin while they wait: on a busy 2-core machine that makes the tiny
# models' training several times slower
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


@pytest.fixture(autouse=True)
def no_signal_wakeup_fd_left():
    """Fail a test that leaves the process a signal wakeup fd (an event loop's, kept after it):
    a later test's signal is then written to a closed fd, and a line lands on its stderr."""
    yield
    left = signal.set_wakeup_fd(-1)
    assert left == -1, f"a signal wakeup fd ({left}) was left set"


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


HIKE = [
    ("Ana", "hi sam, are we still on for the hike?", 0),
    ("Sam", "yes! saturday at 8", 40),
    ("Ana", "great, I'll bring snacks", 30),
    ("Sam", "perfect, see you there", 50),
]
"""A little chat that tiny models learn by heart, so their suggestions are known."""


def prepare_sessions(
    root: Path,
    lines: list[tuple[str, str, int]],
    sessions: int,
    holdout: float,
    **chat: Any,
) -> Path:
    """`lines` (sender, text, seconds after the previous) repeated `sessions` times, each time
    closed by Ana's "bye" four hours later, written as a Telegram export in `root` and prepared
    into `root/ds`; `chat` overrides the export's name, type and id."""
    from twinchat import PrepareOptions, prepare

    turns = []
    for _ in range(sessions):
        turns += lines
        turns.append(("Ana", "bye", 4 * 3600))
    export = root / "result.json"
    chat = {"name": "Hike", "type": "personal_chat", "id": 7, **chat}
    chat["messages"] = conversation(turns)
    export.write_text(json.dumps(chat, ensure_ascii=False), encoding="utf-8")
    prepare([export], root / "ds", PrepareOptions(holdout=holdout))
    return root / "ds"


@pytest.fixture(scope="session")
def hike_data(tmp_path_factory) -> Path:
    """The little chat, 16 sessions of it, prepared."""
    return prepare_sessions(tmp_path_factory.mktemp("hike"), HIKE, 16, holdout=0.1)


def memorize(data: Path, model: Path, run: Path, voice_lines: int = 0) -> Path:
    """Train a tiny model until it knows the chat by heart; the run folder."""
    from twinchat.training.train import TrainConfig, train

    # No voice lines: what these runs learnt by heart is each reply after its conversation
    # alone (tests/test_voices.py trains its own with them).
    config = TrainConfig(
        model=str(model), max_steps=60, batch_size=8, lr=1e-2, eval_every=1000, seed=0,
        patience=0, voice_lines=voice_lines,
    )  # fmt: skip
    train(data, run, config)
    return run


@pytest.fixture(scope="session")
def hike_llama_run(hike_data, tmp_path_factory) -> Path:
    """A tiny Llama that knows the little chat by heart (shared: training it costs seconds)."""
    from tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("hike-llama")
    return memorize(hike_data, make_tiny_llama(root / "model"), root / "run")


@pytest.fixture(scope="session")
def hike_voiced_run(hike_data, tmp_path_factory) -> Path:
    """A tiny Llama trained as `hike_llama_run`, saving each person's voice lines."""
    from tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("hike-voiced")
    return memorize(hike_data, make_tiny_llama(root / "model"), root / "run", voice_lines=4)


@pytest.fixture(scope="session")
def hike_t5_run(hike_data, tmp_path_factory) -> Path:
    """A tiny T5 that knows the little chat by heart."""
    from tiny_models import make_tiny_t5

    root = tmp_path_factory.mktemp("hike-t5")
    return memorize(hike_data, make_tiny_t5(root / "model"), root / "run")


@pytest.fixture(scope="module")
def llama(hike_llama_run) -> Any:
    """The tiny Llama that knows the little chat by heart, as a Suggester (one per module: tests
    change its caches and settings)."""
    from twinchat.inference.suggester import Suggester

    return Suggester.load(hike_llama_run)


@pytest.fixture(scope="module")
def t5(hike_t5_run) -> Any:
    """The tiny T5 that knows the little chat by heart, as a Suggester (one per module)."""
    from twinchat.inference.suggester import Suggester

    return Suggester.load(hike_t5_run)


@pytest.fixture(params=["llama", "t5"])
def suggester(request) -> Any:
    """Each tiny model in turn."""
    return request.getfixturevalue(request.param)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """uvicorn on a free loopback port, in a thread, as `twinchat serve` runs it; its base URL."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture(scope="session")
def windowed_run(tmp_path_factory) -> Path:
    """`prepare --max-context 4 --session-gap 30` then `train`: a run whose contexts were cut
    otherwise than by prepare's defaults (10 messages, 120 minutes)."""
    from tiny_models import make_tiny_llama

    from twinchat import PrepareOptions, prepare
    from twinchat.data.builder import BuildOptions
    from twinchat.training.train import TrainConfig, train

    root = tmp_path_factory.mktemp("windowed")
    chat = {"name": "Hike", "type": "personal_chat", "id": 7, "messages": conversation(HIKE * 4)}
    (root / "result.json").write_text(json.dumps(chat), encoding="utf-8")
    build = BuildOptions(max_context=4, session_gap=30.0)
    prepare([root / "result.json"], root / "ds", PrepareOptions(build=build, holdout=0.0))
    model = make_tiny_llama(root / "model")
    config = TrainConfig(model=str(model), max_steps=1, batch_size=4, eval_every=1000, patience=0)
    train(root / "ds", root / "run", config)
    return root / "run"
