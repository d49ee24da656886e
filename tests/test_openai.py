"""`twinchat serve` for OpenAI clients: the official `openai` client against tiny memorized runs
served by uvicorn, the role mapping, streaming, limits and errors in OpenAI's shape.

    pytest tests/test_openai.py -q
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import HIKE, serving

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("fastapi")
pytest.importorskip("openai")

import httpx
import openai

from twinchat.apps.server import create_app
from twinchat.apps.server.openai_routes import HUMAN, Reply, conversation, replies, token_pieces
from twinchat.apps.server.openai_schemas import Message
from twinchat.data.example import Turn
from twinchat.inference.suggester import Suggester

TOKEN = "s3cret-token"
FIRST, ANSWER, THIRD, LAST = (text for _, text, _ in HIKE)
ASKED = [{"role": "user", "content": FIRST}]
"""Ana's first message: Sam's memorized answer is ANSWER."""


class Recorder:
    """A suggester that keeps the turns each call was given."""

    def __init__(self, inner: Suggester):
        self.inner = inner
        self.seen: list[list[Turn]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def suggest(self, messages: list[Turn], **options: Any) -> Any:
        self.seen.append(list(messages))
        return self.inner.suggest(messages, **options)


@pytest.fixture(scope="module")
def recorder(llama) -> Recorder:
    return Recorder(llama)


@pytest.fixture(scope="module")
def url(recorder) -> Iterator[str]:
    with serving(create_app(recorder, token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def t5_url(t5) -> Iterator[str]:
    with serving(create_app(t5, token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def small_url(llama) -> Iterator[str]:
    app = create_app(llama, token=TOKEN, max_messages=3, max_text_chars=50, max_body_bytes=2_000)
    with serving(app) as url:
        yield url


def _tokens(suggester: Suggester, text: str) -> list[int]:
    return suggester.tokenizer(text, add_special_tokens=False)["input_ids"]


def _client(url: str, key: str = TOKEN) -> Any:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def client(url) -> Any:
    return _client(url)


@pytest.fixture(scope="module", params=["llama", "t5"])
def twin(request) -> tuple[Any, Suggester]:
    """A client of each family's server, and the suggester behind it."""
    name = request.param
    url = request.getfixturevalue("url" if name == "llama" else "t5_url")
    return _client(url), request.getfixturevalue(name)


# --- models and completions -------------------------------------------------------------------


def test_there_is_a_model_for_each_speaker(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["twinchat/Sam", "twinchat/Ana"]
    assert {(m.object, m.owned_by) for m in models} == {("model", "twinchat")}
    assert client.models.retrieve("twinchat/Ana").id == "twinchat/Ana"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("twinchat/Zed")


def test_a_greedy_completion_replies_as_the_speaker(twin):
    client, _ = twin
    done = client.chat.completions.create(model="twinchat/Sam", messages=ASKED, temperature=0)
    assert done.id.startswith("chatcmpl-") and done.object == "chat.completion"
    assert done.model == "twinchat/Sam"
    (choice,) = done.choices
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert (choice.message.role, choice.message.content) == ("assistant", ANSWER)


def test_usage_counts_what_the_model_read_and_wrote(twin):
    client, suggester = twin
    generate, prompts = suggester.backend.generate, []

    def recorded(prompt, *args, **kwargs):
        prompts.append(prompt)
        return generate(prompt, *args, **kwargs)

    suggester.backend.generate = recorded  # what the model was really given
    try:
        done = client.chat.completions.create(model="twinchat/Sam", messages=ASKED, temperature=0)
    finally:
        del suggester.backend.generate
    (seen,) = prompts
    written = _tokens(suggester, ANSWER)
    assert done.usage.prompt_tokens == len(seen.context) + len(seen.forced)
    assert done.usage.completion_tokens == len(written)
    assert done.usage.total_tokens == done.usage.prompt_tokens + len(written)


def test_streamed_pieces_join_to_the_greedy_text(twin):
    client, _ = twin
    whole = client.chat.completions.create(model="twinchat/Sam", messages=ASKED, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="twinchat/Sam", messages=ASKED, temperature=0, stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    *replied, last = chunks
    assert replied[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in replied[1:-1]]
    assert len(pieces) > 2 and all(pieces)
    assert "".join(pieces) == whole.choices[0].message.content == ANSWER
    assert [c.choices[0].finish_reason for c in replied] == [None] * (len(replied) - 1) + ["stop"]
    assert len({c.id for c in chunks}) == 1
    assert last.choices == [] and last.usage == whole.usage


def test_assistant_messages_are_the_speakers_own(client, recorder):
    said = [*ASKED, {"role": "assistant", "content": ANSWER}, {"role": "user", "content": THIRD}]
    done = client.chat.completions.create(model="twinchat/Sam", messages=said, temperature=0)
    assert done.choices[0].message.content == LAST
    assert recorder.seen[-1] == [Turn("Ana", FIRST), Turn("Sam", ANSWER), Turn("Ana", THIRD)]


def test_names_say_who_wrote_what_in_a_group_chat(client, recorder):
    said = [
        {"role": "system", "content": "You are Sam. Be brief."},
        {"role": "user", "name": "Ana", "content": FIRST},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "name": "Bo", "content": "can I come too?"},
        {"role": "assistant", "name": "Ana", "content": THIRD},
        {"role": "user", "content": [{"type": "text", "text": "and me?"}]},
    ]
    client.chat.completions.create(model="twinchat/Sam", messages=said, temperature=0)
    assert recorder.seen[-1] == [
        Turn("Ana", FIRST),
        Turn("Sam", ANSWER),
        Turn("Bo", "can I come too?"),
        Turn("Ana", THIRD),
        Turn("Ana", "and me?"),  # unnamed: the run's other speaker
    ]
    named = [{"role": "user", "name": s, "content": t} for s, t, _ in HIKE[:3]]
    done = client.chat.completions.create(model="twinchat/Sam", messages=named, temperature=0)
    assert done.choices[0].message.content == LAST


def test_an_unnamed_user_is_the_other_speaker_of_two_else_user():
    said = [Message(role="user", content="hi"), Message(role="assistant", content="yo")]
    assert list(conversation(said, "Sam", ["Sam", "Ana"], 100).values()) == [
        Turn("Ana", "hi"), Turn("Sam", "yo")
    ]  # fmt: skip
    group = conversation(said, "Sam", ["Sam", "Ana", "Bo"], 100)
    assert group == {0: Turn(HUMAN, "hi"), 1: Turn("Sam", "yo")}


def test_n_sampled_replies_are_distinct_and_best_first(client, llama):
    done = client.chat.completions.create(
        model="twinchat/Sam", messages=ASKED, n=3, temperature=1.0, seed=0
    )
    texts = [c.message.content for c in done.choices]
    # the memorized reply is the likeliest, and this seed draws two more distinct ones
    assert len(set(texts)) == len(texts) == 3
    assert texts[0] == ANSWER
    assert [c.index for c in done.choices] == [0, 1, 2]
    written = sum(len(_tokens(llama, t)) for t in texts)
    assert done.usage.completion_tokens == written


def test_stop_strings_cut_the_reply_before_them(client):
    def reply(stop: Any) -> tuple[str, str]:
        done = client.chat.completions.create(
            model="twinchat/Sam", messages=ASKED, temperature=0, stop=stop
        )
        return done.choices[0].message.content, done.choices[0].finish_reason

    assert reply("saturday") == ("yes! ", "stop")
    assert reply(["at 8", "!"]) == ("yes", "stop")  # the first one found in the reply
    assert reply(["nowhere"]) == (ANSWER, "stop")


def test_max_tokens_cuts_the_reply_and_says_length(client, llama):
    for limit in ({"max_tokens": 4}, {"max_completion_tokens": 4}):
        done = client.chat.completions.create(
            model="twinchat/Sam", messages=ASKED, temperature=0, **limit
        )
        choice = done.choices[0]
        assert (choice.message.content, choice.finish_reason) == ("yes! saturday", "length")
        assert done.usage.completion_tokens == 4
    exact = len(_tokens(llama, ANSWER))
    done = client.chat.completions.create(
        model="twinchat/Sam", messages=ASKED, temperature=0, max_tokens=exact
    )
    assert (done.choices[0].message.content, done.choices[0].finish_reason) == (ANSWER, "stop")


# --- refusals --------------------------------------------------------------------------------


def test_a_wrong_key_is_an_authentication_error(url):
    # a missing one too (the client will not send none: see the error shape test, without it)
    for key in ("wrong-token", TOKEN[:-1]):
        with pytest.raises(openai.AuthenticationError) as raised:
            _client(url, key).chat.completions.create(model="twinchat/Sam", messages=ASKED)
        assert raised.value.code == "invalid_api_key"
        assert "api_key" in raised.value.message


def test_an_unknown_model_is_not_found_and_names_the_known_ones(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=ASKED)
    error = raised.value
    assert (error.code, error.param) == ("model_not_found", "model")
    assert "twinchat/Sam, twinchat/Ana" in error.message and "GET /v1/models" in error.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"messages": ASKED * 4}, "4 messages is too many: send at most 3"),
        ({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y" * 51}]},
         "messages.1.content has 51 characters; at most 50"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
         "only text parts are accepted, not 'image_url'"),
        ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "a"}]},
         "messages.0.role: Input should be 'system', 'developer', 'user' or 'assistant'"),
        ({"messages": [{"role": "user", "name": "x" * 101, "content": "hi"}]},
         "messages.0.name has 101 characters; at most 100"),
        ({"messages": ASKED, "n": 11}, "n is 11; at most 10"),
        ({"messages": ASKED, "temperature": 2.5}, "temperature: Input should be less than or"),
        ({"messages": ASKED, "stop": list("abcde")}, "stop: List should have at most 4 items"),
        ({"messages": ASKED, "tools": [{"type": "function", "function": {"name": "f"}}]},
         "tools is not supported"),
        ({"messages": ASKED, "max_tokens": 4, "max_completion_tokens": 5},
         "max_tokens and max_completion_tokens differ"),
        ({"messages": []}, "messages: List should have at least 1 item"),
    ],
)  # fmt: skip
def test_a_bad_request_is_a_bad_request_error_that_names_the_fix(small_url, options, message):
    with pytest.raises(openai.BadRequestError) as raised:
        _client(small_url).chat.completions.create(model="twinchat/Sam", **options)
    assert message in raised.value.message
    assert raised.value.type == "invalid_request_error"


def test_a_body_above_the_limit_is_413(small_url):
    with pytest.raises(openai.APIStatusError) as raised:
        _client(small_url).chat.completions.create(
            model="twinchat/Sam", messages=[{"role": "user", "content": "z" * 3_000}]
        )
    assert raised.value.status_code == 413
    assert raised.value.code == "request_too_large"
    assert "larger than 2000 bytes" in raised.value.message


def test_ignored_fields_and_neutral_settings_are_accepted(client):
    done = client.chat.completions.create(
        model="twinchat/Sam", messages=ASKED, temperature=0, user="u-1", store=False,
        frequency_penalty=0, presence_penalty=0, logprobs=False, response_format={"type": "text"},
    )  # fmt: skip
    assert done.choices[0].message.content == ANSWER


# --- the wire, without the client ------------------------------------------------------------


def test_a_stream_is_server_sent_events_ending_in_done(url):
    body = {"model": "twinchat/Sam", "messages": ASKED, "temperature": 0, "stream": True, "n": 2}
    response = httpx.post(
        f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.endswith("\n\ndata: [DONE]\n\n")
    events = response.text.split("\n\n")[:-2]
    assert all(e.startswith("data: {") and "\n" not in e for e in events)
    chunks = [json.loads(e.removeprefix("data: ")) for e in events]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert all("usage" not in c for c in chunks)  # only asked for with include_usage
    by_choice: dict[int, str] = {}
    for chunk in chunks:
        (choice,) = chunk["choices"]
        by_choice[choice["index"]] = by_choice.get(choice["index"], "") + choice["delta"].get(
            "content", ""
        )
    assert by_choice[0] == ANSWER and len(by_choice) == 2


def test_refusals_on_the_openai_routes_take_openais_error_shape(url):
    for path in ("/v1/models", "/v1/chat/completions"):
        response = httpx.post(f"{url}{path}", json={}) if "chat" in path else httpx.get(url + path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"error": {
            "message": response.json()["error"]["message"], "type": "authentication_error",
            "param": None, "code": "invalid_api_key",
        }}  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bad = httpx.post(f"{url}/v1/chat/completions", content=b"{nope", headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("the body is not valid JSON")
    missing = httpx.post(f"{url}/v1/chat/completions", json={"messages": ASKED}, headers=headers)
    assert missing.json()["error"] == {
        "message": "model: Field required", "type": "invalid_request_error",
        "param": "model", "code": None,
    }  # fmt: skip
    # the other routes keep their own shape
    assert "detail" in httpx.post(f"{url}/v1/suggest", json={}).json()
    assert httpx.post(f"{url}/v1/suggest", json={}, headers=headers).status_code == 422


def test_the_schema_shows_the_openai_routes(url):
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/v1/models", "/v1/models/{model_id}", "/v1/chat/completions"} <= set(schema["paths"])
    assert {"ChatCompletionRequest", "ChatCompletion", "ErrorResponse"} <= set(
        schema["components"]["schemas"]
    )


def test_the_log_has_sizes_but_no_chat_text(client, caplog):
    caplog.set_level(logging.INFO, logger="twinchat")
    secret = [{"role": "user", "content": "my secret plan"}]
    client.chat.completions.create(model="twinchat/Sam", messages=secret, temperature=0)
    assert "chat/completions: 1 messages, 14 chars" in caplog.text
    assert "secret" not in caplog.text


# --- replies, token by token -----------------------------------------------------------------


@pytest.mark.parametrize("text", [ANSWER, "naïve café ☕ 你好 👋🏽", "a  b\tc", ""])
def test_token_pieces_join_to_the_text_one_a_token(llama, t5, text):
    for suggester in (llama, t5):
        ids = _tokens(suggester, text)
        pieces = token_pieces(suggester.tokenizer, text)
        assert "".join(pieces) == text
        assert len(pieces) == len(ids)


def test_no_candidate_left_is_one_empty_choice(llama):
    assert replies(llama.tokenizer, [], 10, []) == [Reply("", [], "content_filter")]


def test_replies_equal_once_cut_are_one_choice(llama):
    cut = replies(llama.tokenizer, ["yes! saturday at 8", "yes! saturday at 9"], 4, [])
    assert [(r.text, r.finish_reason) for r in cut] == [("yes! saturday", "length")]


def test_the_server_gives_the_model_the_window_prepare_cut(llama):
    """A run prepared with `--max-context 2` is served the newest 2 messages of a request, on
    the API and the OpenAI route alike, as its training examples were cut."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from twinchat.description import ContextWindow

    recorder = Recorder(llama)
    recorder.description = replace(llama.description, window=ContextWindow(max_context=2))
    client = TestClient(create_app(recorder))
    sent = [("Ana", f"message {i}") for i in range(6)]
    body = {"messages": [{"sender": s, "text": t} for s, t in sent], "as": "Sam", "n": 1}
    assert client.post("/v1/suggest", json=body).status_code == 200
    chat = [{"role": "user", "name": s, "content": t} for s, t in sent]
    body = {"model": "twinchat/Sam", "messages": chat, "max_tokens": 4}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    newest = [Turn("Ana", "message 4"), Turn("Ana", "message 5")]
    assert recorder.seen == [newest, newest]
