"""`twinchat serve`: the API's contract over a tiny memorized run, its token, limits and lock, and
the typeahead page driven in a real headless Chromium.

    pytest tests/test_serve.py -q
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import HIKE, serving

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("fastapi")

import anyio
from fastapi import HTTPException
from fastapi.testclient import TestClient

from twinchat import TwinchatError
from twinchat.apps.server import GONE, LOOPBACK_NAMES, create_app, is_loopback
from twinchat.apps.server.worker import ModelWorker
from twinchat.data.example import Turn
from twinchat.inference.suggester import Suggester

LINES = HIKE
MESSAGES = [{"sender": s, "text": t} for s, t, _ in LINES[:3]]
REPLY = "perfect, see you there"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def suggester(hike_llama_run) -> Suggester:
    """A tiny model that knows the little chat by heart (conftest)."""
    return Suggester.load(hike_llama_run)


class Watched:
    """The suggester's public API, counting calls and how many ever ran at once."""

    def __init__(self, inner: Suggester, delay: float = 0.0):
        self.inner = inner
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.active = 0
        self.most = 0
        self._lock = threading.Lock()

    @property
    def speakers(self) -> list[str]:
        return self.inner.speakers

    @property
    def description(self) -> Any:
        return self.inner.description

    def suggest(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("suggest", args, kwargs)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("complete", args, kwargs)

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        with self._lock:
            self.calls[name] += 1
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            time.sleep(self.delay)
            return getattr(self.inner, name)(*args, **kwargs)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture(scope="module")
def client(suggester) -> TestClient:
    return TestClient(create_app(suggester))


# --- the contract ------------------------------------------------------------------------------


def test_suggest_gives_ranked_candidates_by_the_speaker(client):
    body = {"messages": MESSAGES, "as": "Sam", "n": 3, "greedy": True}
    response = client.post("/v1/suggest", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["candidates"][0] == {"text": REPLY, "score": pytest.approx(-0.38, abs=0.3),
                                     "speaker": "Sam"}  # fmt: skip
    assert all(c["speaker"] == "Sam" for c in data["candidates"])
    scores = [c["score"] for c in data["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert data["latency_ms"] > 0
    assert response.headers["cache-control"] == "no-store"


def test_suggest_honours_the_prefix_and_sampling_settings(client):
    body = {"messages": MESSAGES, "as": "Sam", "prefix": "perfect, se", "n": 2, "seed": 1,
            "temperature": 0.5, "top_p": 0.9, "max_new_tokens": 12}  # fmt: skip
    candidates = client.post("/v1/suggest", json=body).json()["candidates"]
    assert candidates
    assert all(c["text"].startswith("perfect, se") for c in candidates)


def test_complete_gives_the_rest_of_the_typed_reply(client):
    def completion(typed: str) -> str:
        body = {"messages": MESSAGES, "as": "Sam", "typed": typed, "max_new_tokens": 8}
        response = client.post("/v1/complete", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["latency_ms"] > 0
        return response.json()["completion"]

    assert completion("perfect, se") == "e you there"  # mid-word, healed
    assert completion(REPLY) == ""


def test_speakers_and_health(client):
    assert client.get("/v1/speakers").json() == {"speakers": ["Sam", "Ana"]}
    assert client.get("/health").json() == {"status": "ok", "token_required": False}


def test_the_schema_lists_every_endpoint_and_no_docs_page_loads_a_cdn(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/suggest", "/v1/complete", "/v1/speakers", "/health"} <= set(schema["paths"])
    assert "/" not in schema["paths"]
    models = schema["components"]["schemas"]
    assert {"SuggestRequest", "SuggestResponse", "CompleteRequest", "Problem"} <= set(models)
    assert "as" in models["SuggestRequest"]["properties"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_the_page_is_one_file_that_loads_nothing_from_elsewhere(client):
    assert client.head("/").status_code == 200
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'id="reply"' in page and 'id="ghost-text"' in page
    assert not re.search(r"https?:|//[\w.-]+\.[a-z]{2,}/|@import|url\(", page)
    for target in re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page):
        assert target.startswith("data:"), target
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert "access-control-allow-origin" not in response.headers


def test_no_cors_headers_for_a_foreign_origin(client):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    preflight = client.options("/v1/suggest", headers=headers)
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/v1/speakers", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


# --- the token -------------------------------------------------------------------------------


def test_a_token_guards_every_v1_call_but_not_the_page(suggester):
    client = TestClient(create_app(suggester, token=TOKEN))
    body = {"messages": MESSAGES, "as": "Sam", "typed": "perfect, se"}
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]:
        for response in [
            client.post("/v1/complete", json=body, headers=headers),
            client.get("/v1/speakers", headers=headers),
            client.post("/v1/suggest", content=b"not even json", headers=headers),
        ]:
            assert response.status_code == 401, (headers, response.text)
            assert "Authorization: Bearer" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/v1/complete", json=body, headers=good).json()["completion"] == (
        "e you there"
    )
    assert client.get("/").status_code == 200
    assert client.get("/health").json()["token_required"] is True
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


@pytest.mark.parametrize("token", ["", "short", "has a space", "naïve-token"])
def test_a_token_a_browser_cannot_send_is_refused_at_start(suggester, token):
    with pytest.raises(TwinchatError, match="letters, digits and punctuation only"):
        create_app(suggester, token=token)


# --- limits ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(suggester) -> TestClient:
    app = create_app(suggester, max_messages=3, max_text_chars=50, max_body_bytes=2_000)
    return TestClient(app)


def _problem(response: Any, code: int) -> str:
    assert response.status_code == code, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    return detail


def test_a_body_above_the_limit_is_413_by_its_length_or_as_it_streams(small):
    big = {"messages": MESSAGES, "typed": "x" * 3_000}
    assert "larger than 2000 bytes" in _problem(small.post("/v1/complete", json=big), 413)

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"messages": [], "typed": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    assert "larger than 2000 bytes" in _problem(small.post("/v1/complete", content=chunks()), 413)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": MESSAGES * 2}, "6 messages is too many: send at most 3"),
        ({"messages": [{"sender": "Ana", "text": "y" * 51}]}, "messages.0.text has 51 characters"),
        ({"messages": MESSAGES, "prefix": "z" * 60}, "prefix has 60 characters; at most 50"),
        ({"messages": MESSAGES, "n": 11}, "n: Input should be less than or equal to 10"),
        ({"messages": MESSAGES, "n": 0}, "n: Input should be greater than or equal to 1"),
        ({"messages": MESSAGES, "temperature": 0}, "temperature: Input should be greater than or"),
        ({"messages": MESSAGES, "temperature": 1e-45}, "temperature: Input should be greater"),
        ({"messages": MESSAGES, "n": True}, "n: Input should be a valid integer"),
        ({"messages": MESSAGES, "as": "x" * 1_500}, "as: String should have at most 100"),
        ({"messages": [{"sender": "", "text": "hi"}]}, "messages.0.sender: String should have"),
        ({"messages": MESSAGES, "prefx": "typo"}, "prefx: Extra inputs are not permitted"),
        ({"as": "Sam"}, "messages: Field required"),
    ],
)
def test_bad_requests_are_422_with_a_clear_message(small, body, message):
    detail = _problem(small.post("/v1/suggest", json=body), 422)
    assert message in detail and "x" * 20 not in detail  # values are not echoed


def test_a_body_that_is_not_a_json_object_is_422(small):
    json_type = {"Content-Type": "application/json"}
    detail = _problem(small.post("/v1/complete", content=b"{nope", headers=json_type), 422)
    assert detail.startswith("the body is not valid JSON: Expecting property name")
    for sent in [{"content": b'{"messages": []}'}, {}]:  # no Content-Type, or no body
        detail = _problem(small.post("/v1/complete", **sent), 422)
        assert detail == "send a JSON object, with Content-Type: application/json"


def test_an_unknown_speaker_is_422_naming_the_known_ones(client):
    for path in ("/v1/suggest", "/v1/complete"):
        detail = _problem(client.post(path, json={"messages": MESSAGES, "as": "Zed"}), 422)
        assert "'Zed'" in detail and "known speakers: Sam, Ana" in detail


def test_only_loopback_host_names_when_asked(suggester):
    client = TestClient(create_app(suggester, allowed_hosts=LOOPBACK_NAMES))
    assert client.get("/health").status_code == 400  # "testserver", as a rebound DNS name would be
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


# --- one model call at a time ----------------------------------------------------------------


def test_concurrent_requests_are_served_one_model_call_at_a_time(suggester):
    """Eight at once over one event loop: every answer is the one a lone call gets."""
    context = [Turn(m["sender"], m["text"]) for m in MESSAGES]
    typed = ["", "p", "perfect, se"]
    expected = {t: suggester.complete(context, "Sam", t) for t in typed}
    watched = Watched(suggester)

    def ask(i: int) -> tuple[str, str]:
        if i % 4 == 3:
            body = {"messages": MESSAGES, "as": "Sam", "n": 1, "greedy": True}
            response = client.post("/v1/suggest", json=body)
            return REPLY, response.json()["candidates"][0]["text"]
        body = {"messages": MESSAGES, "as": "Sam", "typed": typed[i % 4]}
        return expected[typed[i % 4]], client.post("/v1/complete", json=body).json()["completion"]

    with TestClient(create_app(watched)) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert all(want == got for want, got in answers), answers
    assert sum(watched.calls.values()) == 8
    assert watched.most == 1


def test_the_server_answers_while_the_model_works(suggester):
    watched = Watched(suggester, delay=1.0)
    body = {"messages": MESSAGES, "as": "Sam", "typed": "perfect, se"}
    with TestClient(create_app(watched)) as client, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(client.post, "/v1/complete", json=body)
        while not watched.active:
            time.sleep(0.01)
        start = time.perf_counter()
        assert client.get("/health").status_code == 200
        assert time.perf_counter() - start < 0.5
        assert slow.result().json()["completion"] == "e you there"


def test_a_request_whose_client_left_while_queued_costs_no_model_time():
    class Gone:
        def __init__(self) -> None:
            self.scope = {GONE: threading.Event()}
            self.scope[GONE].set()

    called = []
    with pytest.raises(HTTPException) as raised:
        anyio.run(ModelWorker(None).run, Gone(), "complete", [], lambda: called.append(1))
    assert raised.value.status_code == 499
    assert not called


# --- the page, in a real browser ---------------------------------------------------------------


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's Chromium: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,800",
    ]:  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


@pytest.fixture
def server(suggester):
    """The app served as `twinchat serve --token` serves it, its model calls watched."""
    watched = Watched(suggester)
    with serving(create_app(watched, token=TOKEN, allowed_hosts=LOOPBACK_NAMES)) as url:
        yield url, watched


def test_the_page_completes_a_reply_as_it_is_typed(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    url, watched = server
    browser.get(f"{url}/#token={TOKEN}")
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: "Sam" in [o.text for o in Select(b.find_element(By.ID, "as")).options])
    assert "token" not in browser.current_url  # taken out of the address bar
    assert browser.find_element(By.ID, "token-form").is_displayed() is False

    chat = "\n".join(f"{m['sender']}: {m['text']}" for m in MESSAGES)
    browser.find_element(By.ID, "conversation").send_keys(chat)
    assert browser.find_element(By.ID, "parsed").text == "3 messages"
    Select(browser.find_element(By.ID, "as")).select_by_value("Sam")

    reply = browser.find_element(By.ID, "reply")
    ghost = browser.find_element(By.ID, "ghost-text")
    for key in "perfect, se":
        reply.send_keys(key)
    wait.until(lambda _: ghost.text == "e you there")
    asked = watched.calls["complete"]
    assert asked < len("perfect, se")  # debounced: not a request a keystroke

    reply.send_keys("e")  # still what the suggestion says: it shrinks, nothing is asked
    assert ghost.get_attribute("textContent") == " you there"
    time.sleep(0.4)
    assert watched.calls["complete"] == asked

    reply.send_keys(Keys.TAB)
    assert reply.get_attribute("value") == REPLY
    assert browser.switch_to.active_element == reply  # Tab accepted, it did not move the focus
    wait.until(lambda _: watched.calls["complete"] > asked)  # asks what comes after
    assert ghost.get_attribute("textContent") == ""

    mirror = browser.find_element(By.ID, "mirror")
    assert mirror.value_of_css_property("position") == "absolute"  # the inline style applied
    refused = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not refused, refused
