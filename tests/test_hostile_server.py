"""Server probes of issue 16: abandoned requests, a full queue, slow and unauthenticated
bodies, malformed bodies at every route. (The file probes are in test_hostile.py.)"""

from __future__ import annotations

import json
import platform
import random
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import HIKE, serving

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("torch")
from fastapi.testclient import TestClient  # noqa: E402

from twinchat.apps.server import create_app, worker  # noqa: E402

HIKE_MESSAGES = [{"sender": s, "text": t} for s, t, _ in HIKE[:3]]
TOKEN = "s3cret-token"


class Gated:
    """A suggester whose calls are counted and wait until the test opens the gate."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.speakers = inner.speakers
        self.sampling = inner.sampling
        self.tokenizer = inner.tokenizer
        self.description = inner.description
        self.calls = 0
        self.running = threading.Event()
        self.gate = threading.Event()

    def suggest(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("suggest", args, kwargs)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("complete", args, kwargs)

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        self.calls += 1
        self.running.set()
        self.gate.wait(30)
        return getattr(self.inner, name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _abandon(url: str, body: bytes) -> None:
    """Send a whole request, wait a little, then hang up without reading the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        head = (
            f"POST /v1/complete HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body)
        time.sleep(0.5)  # the server has read it all and queued it: then the client gives up


def test_abandoned_requests_never_reach_the_model(llama):
    """Issue 16 #2: clients that sent large bodies and left still ran the model one by one."""
    gated = Gated(llama)
    padding = [{"sender": "Ana", "text": "x" * 3_900}] * 190  # ~750 kB, near the cap
    body = json.dumps({"messages": padding + HIKE_MESSAGES, "as": "Sam"}).encode()
    with serving(create_app(gated, max_messages=200)) as url:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, f"{url}/v1/complete", json={
                "messages": HIKE_MESSAGES, "as": "Sam", "typed": "perfect, se"
            }, timeout=60)  # fmt: skip
            assert gated.running.wait(30)
            with ThreadPoolExecutor(5) as clients:
                list(clients.map(_abandon, [url] * 5, [body] * 5))
            time.sleep(0.5)  # let the server see them leave
            gated.gate.set()
            assert first.result().json()["completion"] == "e you there"
        last = httpx.post(f"{url}/v1/complete", json={"messages": HIKE_MESSAGES, "as": "Sam"})
        assert last.status_code == 200
    assert gated.calls == 2  # the first and the last: none of the five abandoned ones


def test_a_full_queue_is_503_with_retry_after_before_the_body_is_read(llama):
    gated = Gated(llama)
    client = TestClient(create_app(gated, max_queue=1))
    body = {"messages": HIKE_MESSAGES, "as": "Sam", "typed": "perfect, se"}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/v1/complete", json=body)
        assert gated.running.wait(30)
        refused = client.post("/v1/suggest", content=b"never parsed")
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]
        openai = client.post("/v1/chat/completions", content=b"{}")
        assert openai.status_code == 503 and "busy" in openai.json()["error"]["message"]
        assert client.get("/v1/speakers").status_code == 200  # reading routes do not queue
        gated.gate.set()
        assert first.result().status_code == 200
    assert client.post("/v1/complete", json=body).status_code == 200  # the queue drained


def test_a_burst_runs_on_one_thread_and_its_memory_goes_back_when_the_queue_drains(
    llama, monkeypatch
):
    """Issue 16: a burst of maximum-size requests took a tiny model's server from 0.4 to 1.3 GB
    and left it at 0.56 GB: each call ran on whichever pool thread was free, and glibc keeps a
    heap for each thread at its high-water mark. Now every call runs on the model's one thread,
    and when the queue drains the free heap goes back to the system
    (benchmarks/server_memory.py measures it)."""
    gated = Gated(llama)
    threads: set[int] = set()
    inner = gated._call
    gated._call = lambda *a: threads.add(threading.get_ident()) or inner(*a)  # type: ignore
    drained: list[int] = []
    monkeypatch.setattr(worker, "trim", lambda: drained.append(gated.calls) or True)
    body = {"messages": HIKE_MESSAGES, "as": "Sam", "typed": "perfect, se"}
    with serving(create_app(gated, max_queue=4)) as url:
        with ThreadPoolExecutor(4) as clients:
            burst = [clients.submit(httpx.post, f"{url}/v1/complete", json=body, timeout=60)
                     for _ in range(4)]  # fmt: skip
            assert gated.running.wait(30)
            # Until all four wait in the server (a fifth is refused): under a pool, each would
            # wait on a thread of its own. A probe let in is invalid and leaves at once.
            while httpx.post(f"{url}/v1/complete", content=b"{}").status_code != 503:
                time.sleep(0.05)
            assert not drained  # the queue never emptied while the burst was in it
            gated.gate.set()
            assert [f.result().json()["completion"] for f in burst] == ["e you there"] * 4
        while not drained:  # the last request leaves after its answer is sent
            time.sleep(0.05)
    assert len(threads) == 1, threads
    assert drained == [4]  # trimmed once, when the burst's last request left
    assert worker.trim() is (platform.libc_ver()[0] == "glibc")  # no malloc_trim elsewhere


def test_open_routes_read_a_tiny_body_and_slow_bodies_time_out(llama):
    client = TestClient(create_app(llama, token=TOKEN, read_timeout=0.5))
    for path in ("/health", "/", "/openapi.json", "/nowhere"):
        response = client.request("GET", path, content=b"x" * 2_000)
        assert response.status_code == 413, (path, response.text)
    # without the token, a /v1 body is refused before it is read
    assert client.post("/v1/suggest", content=b"x" * 900_000).status_code == 401

    with serving(create_app(llama, token=TOKEN, read_timeout=0.5)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(
                f"POST /v1/suggest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}"
                "\r\nContent-Length: 100\r\n\r\n{".encode()
            )  # and then nothing: a slow-loris client
            answer = _response(connection)
    assert answer.startswith("HTTP/1.1 408") and "did not arrive within 0.5 s" in answer


def _response(connection: socket.socket) -> str:
    """A whole HTTP response: its head and body can arrive in separate packets."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(4096) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
    while len(body) < length and (more := connection.recv(4096)):
        body += more
    return (head + b"\r\n\r\n" + body).decode()


def test_the_bearer_scheme_is_case_insensitive_and_health_tells_strangers_nothing(llama):
    client = TestClient(create_app(llama, token=TOKEN))
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = client.get("/v1/speakers", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 200, scheme
    assert (
        client.get("/v1/speakers", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    )
    assert client.get("/health").json() == {"status": "ok", "token_required": True}


BAD_VALUES = [
    None, True, False, 0, -1, 1e-45, 1e308, -1e308, 2**70, "", "\ud800", "x" * 5_000, [], {},
    [1], {"a": 1}, "twinchat/Sam", "Sam", [{"sender": "Sam", "text": "\udfff"}],
    [{"role": "user", "content": "\ud800 hi"}], [{"role": "user", "content": [{"type": "x"}]}],
]  # fmt: skip
ROUTES = {
    "/v1/suggest": {"messages": HIKE_MESSAGES, "as": "Sam", "n": 1},
    "/v1/complete": {"messages": HIKE_MESSAGES, "as": "Sam", "typed": "pe"},
    "/v1/chat/completions": {
        "model": "twinchat/Sam", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
    },
}  # fmt: skip
FIELDS = {
    "/v1/suggest": ["messages", "as", "prefix", "n", "greedy", "seed", "temperature", "top_p",
                    "max_new_tokens"],
    "/v1/complete": ["messages", "as", "typed", "max_new_tokens"],
    "/v1/chat/completions": ["model", "messages", "n", "temperature", "top_p", "max_tokens",
                             "stop", "seed", "stream", "stream_options", "frequency_penalty",
                             "tools", "logprobs"],
}  # fmt: skip


def _post(client: TestClient, path: str, body: Any) -> Any:
    """POST `body` as JSON, lone surrogates escaped as a JavaScript client would send them."""
    content = json.dumps(body).encode()
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def _shaped(path: str, response: Any) -> None:
    """A JSON answer in the route's shape, never a plain-text 500."""
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    if response.status_code == 200:
        return
    data = response.json()
    if path.startswith("/v1/chat") or path.startswith("/v1/models"):
        assert isinstance(data["error"]["message"], str), data
    else:
        assert isinstance(data["detail"], str), data
    assert len(response.content) < 2_000  # nothing huge echoed


def test_malformed_bodies_get_json_errors_in_the_routes_shape(llama):
    """Issue 16 #4 and #9: random bytes, random JSON and random field values at each route."""
    client = TestClient(create_app(llama), raise_server_exceptions=False)
    rng = random.Random(16)
    for path, good in ROUTES.items():
        for _ in range(15):  # random bytes, sometimes JSON-looking
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            if rng.random() < 0.5:
                junk = b'{"messages": [' + junk + b"]}"
            _shaped(
                path, client.post(path, content=junk, headers={"Content-Type": "application/json"})
            )
        for value in BAD_VALUES:  # every field, every hostile value
            for field in FIELDS[path]:
                _shaped(path, _post(client, path, {**good, field: value}))
        for _ in range(10):  # random JSON documents
            document = rng.choice([[], 1, "s", None, {"messages": rng.random()}, {"x": [1, {}]}])
            _shaped(path, client.post(path, json=document))
    for path in ("/health", "/", "/v1/speakers", "/v1/models", "/v1/models/%ff%fe", "/v1/x"):
        response = client.get(path)
        assert response.status_code < 500, (path, response.text)


def test_the_hostile_values_issue_16_named(llama):
    client = TestClient(create_app(llama), raise_server_exceptions=False)
    surrogate = b'{"messages": [{"sender": "Ana", "text": "\\ud800"}], "as": "Sam"}'
    for path in ("/v1/suggest", "/v1/complete"):
        response = client.post(
            path, content=surrogate, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422 and "surrogate" in response.json()["detail"]
    pair = b'{"messages": [{"sender": "Ana", "text": "\\ud83d\\ude00 hi"}], "as": "Sam", "n": 1}'
    assert (
        client.post(
            "/v1/suggest", content=pair, headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )
    tiny = {**ROUTES["/v1/suggest"], "temperature": 1e-45}
    assert client.post("/v1/suggest", json=tiny).status_code == 422
    chat = {**ROUTES["/v1/chat/completions"], "temperature": 1e-45}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200  # taken as greedy
    for path, body in ROUTES.items():
        response = client.post(path, json={**body, "n": True})
        assert response.status_code in (400, 422), (path, response.text)
