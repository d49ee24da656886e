"""The Telegram bot against a local fake Bot API server: python-telegram-bot polls it for queued
updates and sends its answers to it, so every outgoing call is recorded and checked.

    pytest tests/test_bot.py -q
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from conftest import HIKE

pytest.importorskip("telegram")
pytest.importorskip("torch")
pytest.importorskip("transformers")


from twinchat import TwinchatError
from twinchat.apps.bot import (
    ALLOWED_UPDATES,
    batch_conversation,
    bot_token,
    build_application,
    run_bot,
)
from twinchat.data.example import Turn
from twinchat.description import ContextWindow, RunDescription
from twinchat.inference.suggester import Candidate, Suggester

LINES = HIKE
BOT = {"id": 5000, "is_bot": True, "first_name": "Sam", "username": "twinbot"}
ANA = {"id": 42, "is_bot": False, "first_name": "Ana"}
STRANGER = {"id": 999, "is_bot": False, "first_name": "Eve"}
GROUP = {"id": -100, "type": "group", "title": "Hikers"}
TOKEN = "123:test-token"


class FakeTelegram:
    """The Bot API methods python-telegram-bot calls, on 127.0.0.1: `getUpdates` serves the
    queued updates; every call is recorded as (token, method, parameters)."""

    def __init__(self, me: dict[str, Any]):
        self.me = me
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.updates: list[dict[str, Any]] = []
        self.rejected: set[str] = set()
        self.changed = threading.Condition()
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1000)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def push(self, **update: Any) -> int:
        """Queue an update; returns its id."""
        with self.changed:
            number = next(self.update_ids)
            self.updates.append({"update_id": number, **update})
            self.changed.notify_all()
        return number

    def called(self, method: str) -> list[dict[str, str]]:
        return [params for _, name, params in self.calls if name == method]

    def answer(self, token: str, method: str, params: dict[str, str]) -> tuple[int, Any]:
        with self.changed:
            self.calls.append((token, method, params))
        if token in self.rejected:
            return 401, None
        if method == "getMe":
            return 200, self.me
        if method == "getUpdates":
            return 200, self._updates(int(params.get("offset", 0)))
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            return 200, {
                "message_id": next(self.message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                "from": self.me,
                "text": params["text"],
            }
        if method in ("deleteWebhook", "setMyCommands", "answerCallbackQuery"):
            return 200, True
        return 400, None

    def _updates(self, offset: int) -> list[dict[str, Any]]:
        # Long polling, kept short so that stopping the updater is quick.
        with self.changed:
            self.changed.wait_for(lambda: any(u["update_id"] >= offset for u in self.updates), 0.2)
            return [u for u in self.updates if u["update_id"] >= offset]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                token, method = self.path.removeprefix("/bot").split("/", 1)
                size = int(self.headers.get("Content-Length", 0))
                params = dict(parse_qsl(self.rfile.read(size).decode()))
                status, result = fake.answer(token, method, params)
                if status == 200:
                    body = {"ok": True, "result": result}
                else:
                    body = {"ok": False, "error_code": status, "description": f"fake: {method}"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # A poll cut short when the updater stops has no reader left.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class FakeSuggester:
    """The Suggester API with fixed candidates; records every conversation it is given."""

    def __init__(self, description: RunDescription | None = None) -> None:
        self.speakers = ["Ana", "Sam"]
        self.description = description or RunDescription()
        self.asked: list[tuple[list[Turn], str | None]] = []

    def suggest(self, messages: list[Turn], as_: str | None = None, **_: Any) -> list[Candidate]:
        if as_ not in (None, *self.speakers):
            raise TwinchatError(f"the model was not trained on replies by '{as_}'")
        self.asked.append((list(messages), as_))
        return [
            Candidate("sure, 8 works", as_ or "Sam", -0.5),
            Candidate("ok!", as_ or "Ana", -0.9),
        ]


@pytest.fixture(scope="module")
def run(hike_llama_run) -> Path:
    """A tiny Llama that knows the little chat by heart (conftest)."""
    return hike_llama_run


@pytest.fixture(scope="module")
def suggester(run) -> Suggester:
    return Suggester.load(run)


@pytest.fixture
def telegram():
    fake = FakeTelegram(BOT)
    yield fake
    fake.close()


def _app(telegram: FakeTelegram, suggester: Any, token: str = TOKEN, **options: Any):
    options = {"allow": {ANA["id"], GROUP["id"]}, "as_": "Sam", "pause": 0.3, **options}
    return build_application(
        suggester, token, base_url=f"{telegram.url}/bot", base_file_url=f"{telegram.url}/file/bot",
        **options,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def polling(application):
    """The application started as `run_polling` starts it, stopped on the way out."""
    await application.initialize()
    await application.post_init(application)
    await application.start()
    await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=1)
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def until(found: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Wait for `found()` to be truthy; its value."""
    deadline = time.monotonic() + timeout
    while not (value := found()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the bot")
        await asyncio.sleep(0.05)
    return value


_message_ids = itertools.count(1)


def message(chat: dict, sender: dict, text: str, **extra: Any) -> dict[str, Any]:
    """A message update's `message`; `@twinbot` in the text comes with its mention entity."""
    found = {"message_id": next(_message_ids), "date": int(time.time()), "chat": chat}
    found.update({"from": sender, "text": text, **extra})
    if "@twinbot" in text:
        found["entities"] = [{"type": "mention", "offset": text.index("@twinbot"), "length": 8}]
    return found


def private(user: dict) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def forwarded(name: str, text: str, user_id: int | None = None) -> dict[str, Any]:
    """A message forwarded to the bot by Ana: from a known user, or a hidden one (no id)."""
    if user_id is None:
        origin = {"type": "hidden_user", "date": 1, "sender_user_name": name}
    else:
        user = {"id": user_id, "is_bot": False, "first_name": name}
        origin = {"type": "user", "date": 1, "sender_user": user}
    return message(private(ANA), ANA, text, forward_origin=origin)


def test_a_mention_in_a_group_gets_the_memorized_reply_as_a_reply(telegram, suggester):
    """The answer to a later reply shows the bot remembered its own answer as context."""

    async def scenario() -> None:
        async with polling(_app(telegram, suggester)):
            asked = message(GROUP, ANA, "@twinbot hi sam, are we still on for the hike?")
            telegram.push(message=asked)
            (answer,) = await until(lambda: telegram.called("sendMessage"))
            assert answer["text"] == "yes! saturday at 8"
            assert answer["chat_id"] == str(GROUP["id"])
            assert json.loads(answer["reply_parameters"])["message_id"] == asked["message_id"]

            ours = {"message_id": 1000, "date": int(time.time()), "chat": GROUP, "from": BOT}
            ours["text"] = answer["text"]
            follow = message(GROUP, ANA, "great, I'll bring snacks", reply_to_message=ours)
            telegram.push(message=follow)
            answers = await until(lambda: telegram.called("sendMessage")[1:])
            # Sam's memorized line after the snacks; the tiny model half blends it with Ana's
            # "great", and the bot sends the candidate most like the others, either one.
            assert answers[0]["text"] in {"perfect, see you there", "great, see you there"}
            assert json.loads(answers[0]["reply_parameters"])["message_id"] == follow["message_id"]

    asyncio.run(scenario())
    assert len(telegram.called("sendMessage")) == 2


def test_a_group_message_not_addressed_gets_nothing_but_is_context(telegram, suggester):
    import torch

    torch.manual_seed(0)  # the bot samples: the same draws whatever ran before in the process

    async def scenario() -> None:
        async with polling(_app(telegram, suggester)):
            telegram.push(message=message(GROUP, ANA, "hi sam, are we still on for the hike?"))
            mention = message(GROUP, ANA, "@twinbot")
            telegram.push(message=mention)
            # The mention's answer comes after the first message was handled: one answer only.
            (answer,) = await until(lambda: telegram.called("sendMessage"))
            assert json.loads(answer["reply_parameters"])["message_id"] == mention["message_id"]
            assert answer["text"] == "yes! saturday at 8"  # the answer to the first message

    asyncio.run(scenario())
    assert len(telegram.called("sendMessage")) == 1


def test_a_pasted_conversation_gets_buttons_and_a_tap_sends_the_text(telegram, suggester):
    pasted = "\n".join(f"{name}: {text}" for name, text, _ in LINES[:3])

    async def scenario() -> None:
        async with polling(_app(telegram, suggester)):
            telegram.push(message=message(private(ANA), ANA, pasted))
            (offer,) = await until(lambda: telegram.called("sendMessage"))
            rows = json.loads(offer["reply_markup"])["inline_keyboard"]
            buttons = {row[0]["text"]: row[0]["callback_data"] for row in rows}
            assert "perfect, see you there" in buttons
            assert "as Sam" in offer["text"]

            sent = {"message_id": 1000, "date": int(time.time()), "chat": private(ANA)}
            sent.update({"from": BOT, "text": offer["text"]})
            query = {"id": "q1", "from": ANA, "chat_instance": "c1", "message": sent}
            query["data"] = buttons["perfect, see you there"]
            telegram.push(callback_query=query)
            await until(lambda: telegram.called("answerCallbackQuery"))
            copied = await until(lambda: telegram.called("sendMessage")[1:])
            assert copied[0]["text"] == "perfect, see you there"
            assert "reply_markup" not in copied[0]

    asyncio.run(scenario())


def test_forwarded_messages_are_one_conversation_answered_after_a_pause(telegram):
    fake = FakeSuggester()

    async def scenario() -> None:
        async with polling(_app(telegram, fake, as_=None)):
            telegram.push(message=message(private(ANA), ANA, "what do I say?"))  # a comment
            telegram.push(message=forwarded("Kim", "are we still on?", user_id=7))
            telegram.push(message=forwarded("Lee", "I can drive"))
            (offer,) = await until(lambda: telegram.called("sendMessage"))
            rows = json.loads(offer["reply_markup"])["inline_keyboard"]
            assert [row[0]["text"] for row in rows] == ["Sam: sure, 8 works", "Ana: ok!"]

            telegram.push(
                message=message(private(ANA), ANA, "/suggest Ana", entities=[_command(8)])
            )
            again = await until(lambda: telegram.called("sendMessage")[1:])
            assert "as Ana" in again[0]["text"]

    asyncio.run(scenario())
    expected = [Turn("Kim", "are we still on?"), Turn("Lee", "I can drive")]
    assert fake.asked == [(expected, None), (expected, "Ana")]


def test_suggest_answers_a_batch_at_once(telegram):
    fake = FakeSuggester()

    async def scenario() -> None:
        async with polling(_app(telegram, fake, pause=60)):
            telegram.push(message=message(private(ANA), ANA, "/suggest", entities=[_command(8)]))
            (nothing,) = await until(lambda: telegram.called("sendMessage"))
            assert nothing["text"].startswith("Nothing to answer yet")
            telegram.push(message=forwarded("Kim", "are we still on?", user_id=7))
            telegram.push(message=message(private(ANA), ANA, "/suggest", entities=[_command(8)]))
            offers = await until(lambda: telegram.called("sendMessage")[1:])
            assert "reply_markup" in offers[0]

    asyncio.run(scenario())
    assert fake.asked == [([Turn("Kim", "are we still on?")], "Sam")]


def test_strangers_and_unallowed_groups_get_no_answer_and_are_logged(telegram, caplog):
    caplog.set_level(logging.INFO)
    fake = FakeSuggester()
    other_group = {"id": -200, "type": "group", "title": "Others"}

    async def scenario() -> None:
        async with polling(_app(telegram, fake)):
            telegram.push(message=message(private(STRANGER), STRANGER, "Ana: secret plans"))
            telegram.push(message=message(other_group, ANA, "@twinbot secret plans"))
            telegram.push(message=message(private(ANA), ANA, "/help", entities=[_command(5)]))
            (help_,) = await until(lambda: telegram.called("sendMessage"))
            assert help_["chat_id"] == str(ANA["id"])
            assert "forward me messages" in help_["text"]
            await asyncio.sleep(0.5)  # a stranger's paste would be answered after the pause

    asyncio.run(scenario())
    assert len(telegram.called("sendMessage")) == 1
    assert fake.asked == []
    ignored = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ignored")]
    assert len(ignored) == 2
    assert "user 999 in private chat 999" in ignored[0]
    assert "user 42 in group chat -200" in ignored[1]
    assert "secret" not in caplog.text


def test_the_token_comes_from_the_environment(telegram, monkeypatch):
    monkeypatch.setenv("TWINCHAT_BOT_TOKEN", " 777:from-env\n")
    monkeypatch.setenv("OTHER_TOKEN", "888:other")
    assert bot_token("OTHER_TOKEN") == "888:other"
    application = _app(telegram, FakeSuggester(), token=bot_token())

    async def scenario() -> None:
        async with polling(application):
            pass

    asyncio.run(scenario())
    assert {token for token, _, _ in telegram.calls} == {"777:from-env"}
    methods = {method for _, method, _ in telegram.calls}
    assert methods <= {"getMe", "setMyCommands", "deleteWebhook", "getUpdates"}


def test_a_missing_token_variable_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("TWINCHAT_BOT_TOKEN", raising=False)
    monkeypatch.setenv("EMPTY_TOKEN", "  ")
    for variable in ("TWINCHAT_BOT_TOKEN", "EMPTY_TOKEN"):
        with pytest.raises(TwinchatError) as error:
            bot_token(variable)
        assert f"environment variable {variable} is not set" in str(error.value)
        assert "\n" not in str(error.value)


def test_a_rejected_token_is_a_one_line_error(telegram, run):
    telegram.rejected.add("bad:token")
    with pytest.raises(TwinchatError, match="rejected the bot token") as error:
        run_bot(run, "bad:token", {42}, "Sam", base_url=f"{telegram.url}/bot")
    assert "\n" not in str(error.value)
    assert telegram.called("getMe")


def test_the_bot_gives_back_the_signals_it_took(telegram, run):
    """The library's stop-signal handlers and wakeup fd outlived the bot: a later signal in
    the process went to a closed fd (CI, stop 29) instead of the CLI's handler."""

    def terminated(signum, frame):
        raise KeyboardInterrupt

    telegram.rejected.add("bad:token")
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        with pytest.raises(TwinchatError, match="rejected the bot token"):
            run_bot(run, "bad:token", {42}, "Sam", base_url=f"{telegram.url}/bot")
        assert signal.getsignal(signal.SIGTERM) is terminated
        assert signal.set_wakeup_fd(-1) == -1
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_unknown_as_fails_before_going_online(telegram, run):
    with pytest.raises(TwinchatError, match="not trained on replies by 'Zed'"):
        run_bot(run, TOKEN, {42}, "Zed", base_url=f"{telegram.url}/bot")
    assert telegram.calls == []


def test_a_batch_leaves_out_a_comment_on_forwards_but_not_a_bad_paste():
    kim = Turn("Kim", "are we still on?")
    assert batch_conversation(["what do I say?", kim]) == [kim]
    pasted = ["Ana: hi", "Sam: hey"]  # a long paste Telegram split in two
    assert batch_conversation([*pasted, kim]) == [Turn("Ana", "hi"), Turn("Sam", "hey"), kim]
    with pytest.raises(TwinchatError, match="no messages found"):
        batch_conversation(["just some words"])


def _command(length: int) -> dict[str, Any]:
    return {"type": "bot_command", "offset": 0, "length": length}


def test_an_unreachable_bot_api_is_one_line_and_no_library_traceback(run, capfd, caplog):
    """Issue 16 #8: ~100 lines of the library's tracebacks came before twinchat's one line."""
    caplog.set_level(logging.INFO)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(TwinchatError, match="cannot reach the Telegram Bot API") as error:
        run_bot(run, TOKEN, {42}, "Sam", base_url=f"http://127.0.0.1:{port}/bot")
    assert "\n" not in str(error.value)
    err = capfd.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err
    tracebacks = [r.name for r in caplog.records if r.exc_info]
    assert tracebacks == [], tracebacks


def test_a_button_works_only_for_the_chat_and_user_it_was_offered_to(telegram):
    """Issue 16 #8: `pick:0:0` sent by another allowed user returned Ana's reply to them."""
    bob = {"id": 43, "is_bot": False, "first_name": "Bob"}

    async def scenario() -> None:
        async with polling(_app(telegram, FakeSuggester(), allow={ANA["id"], bob["id"]})):
            telegram.push(message=message(private(ANA), ANA, "Sam: are we on?\nAna: sure"))
            (offer,) = await until(lambda: telegram.called("sendMessage"))
            data = json.loads(offer["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
            sent = {"message_id": 1000, "date": int(time.time()), "chat": private(bob)}
            sent.update({"from": BOT, "text": "Replies"})
            query = {"id": "q1", "from": bob, "chat_instance": "c1", "message": sent, "data": data}
            telegram.push(callback_query=query)
            (answered,) = await until(lambda: telegram.called("answerCallbackQuery"))
            assert "not offered to you" in answered["text"]

    asyncio.run(scenario())
    assert len(telegram.called("sendMessage")) == 1  # the offer; nothing was sent to Bob


def test_the_allowlist_is_by_chat_every_member_of_an_allowed_group_is_answered(telegram):
    """The documented semantics: a group on --allow trusts everyone in it; a user on --allow
    gets private answers only, not answers in a group that is not allowed."""

    async def scenario() -> None:
        async with polling(_app(telegram, FakeSuggester(), allow={ANA["id"], GROUP["id"]})):
            telegram.push(message=message(GROUP, STRANGER, "@twinbot hi"))
            (answer,) = await until(lambda: telegram.called("sendMessage"))
            assert answer["chat_id"] == str(GROUP["id"])
            other = {"id": -300, "type": "group", "title": "Elsewhere"}
            telegram.push(message=message(other, ANA, "@twinbot hi"))
            telegram.push(message=message(private(STRANGER), STRANGER, "Ana: hi"))
            await asyncio.sleep(0.6)  # past the private pause: a paste would be answered by now

    asyncio.run(scenario())
    assert len(telegram.called("sendMessage")) == 1


def test_a_group_is_read_with_the_window_the_run_was_prepared_with(telegram, windowed_run):
    """Four messages, none across a silence of 30 minutes: what the model saw in training."""
    loaded = Suggester.load(windowed_run).description
    assert loaded.window == ContextWindow(max_context=4, session_gap=30.0)
    fake = FakeSuggester(loaded)
    hour_ago = int(time.time()) - 50 * 60
    early = ["we met an hour ago", "are we on?", "@twinbot sam?"]
    later = ["snacks?", "@twinbot well?"]

    async def scenario() -> None:
        async with polling(_app(telegram, fake)):
            telegram.push(message=message(GROUP, ANA, early[0], date=hour_ago))
            for text in early[1:]:
                telegram.push(message=message(GROUP, ANA, text))
            await until(lambda: telegram.called("sendMessage"))
            for text in later:
                telegram.push(message=message(GROUP, ANA, text))
            await until(lambda: telegram.called("sendMessage")[1:])

    asyncio.run(scenario())
    (first, _), (second, _) = fake.asked
    # 50 minutes of silence start a new conversation (prepare's default gap is 120)
    assert first == [Turn("Ana", "are we on?"), Turn("Ana", "sam?")]
    # four messages (prepare's default is 10): the oldest two are gone
    assert len(second) == 4 and second[-2:] == [Turn("Ana", "snacks?"), Turn("Ana", "well?")]
    assert Turn("Ana", "are we on?") not in second
