"""`twinchat serve`: reply suggestions over HTTP, and a typeahead page that uses them.

    from twinchat.apps.server import serve
    serve("runs/me", port=8000, token="s3cret")  # then open http://127.0.0.1:8000/#token=s3cret

Routes: `POST /v1/suggest` (ranked candidates), `POST /v1/complete` (the greedy rest of a reply
being typed, for typeahead), `GET /v1/speakers`, `GET /health`, the OpenAPI schema at
`/openapi.json`, and the page at `/`. For OpenAI clients (`twinchat.apps.openai_api`):
`GET /v1/models` (a model a speaker, `twinchat/<name>`), `GET /v1/models/{id}` and
`POST /v1/chat/completions` (streamed or not), refusing in OpenAI's error shape.

The model is one PyTorch module, not thread-safe: every call runs on the model's one thread,
so the event loop keeps answering while a call runs, and a burst's memory goes back to the
system once the queue drains (benchmarks/server_memory.py). A request whose client has gone
by its turn (the page cancels stale typeahead requests) is dropped before it costs model time:
the guard watches every connection for its disconnect while the request waits.

Safe by default: loopback only unless told otherwise; with a token, every /v1 call needs
`Authorization: Bearer TOKEN` (compared in constant time) before its body is read, and the open
routes read at most 1 KiB; a body must arrive within a time limit; at most `max_queue` model
requests are in the server at once, more get 503 with `Retry-After`; bodies, messages and texts
are capped; every refusal and failure is JSON in the route's shape; no CORS; no chat text in the
logs, only sizes and latencies. The page is one file with inline CSS and JS, allowed by a content
security policy that names their hashes, so it loads nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinchat import __version__
from twinchat.apps import openai_api
from twinchat.data.example import Turn
from twinchat.errors import TwinchatError

if TYPE_CHECKING:
    from twinchat.inference.suggester import Suggester

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_N = 10
"""Most candidates one /v1/suggest call may ask for (greedy search keeps 3n beams)."""
MAX_NEW_TOKENS = 128
MAX_COMPLETE_TOKENS = 32
MAX_SENDER_CHARS = 100
MIN_TEMPERATURE = 0.01
"""Below this, sampling divides the logits into infinities; ask for `greedy` instead."""
OPEN_BODY_BYTES = 1024
"""The most body an unauthenticated route reads: they are all GETs."""
MAX_DETAIL_CHARS = 500
GONE = "twinchat.gone"
"""The scope key of a request's `threading.Event`, set when its client disconnects."""
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


# --- request and response bodies -------------------------------------------------------------


class ChatMessage(BaseModel):
    """One message of the conversation, oldest first."""

    model_config = ConfigDict(extra="forbid")
    sender: str = Field(min_length=1, max_length=MAX_SENDER_CHARS, examples=["Ana"])
    text: str = Field(examples=["great, I'll bring snacks"])


class SuggestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    messages: list[ChatMessage]
    as_: str | None = Field(
        None, alias="as", min_length=1, max_length=MAX_SENDER_CHARS,
        description="Reply as this person; null: whoever is next.",
    )  # fmt: skip
    prefix: str = Field("", description="Text already typed: every candidate goes on from it.")
    # strict: `"n": true` or `"greedy": "no"` is a mistake, not 1 or True
    n: int = Field(5, ge=1, le=MAX_N, strict=True, description="Number of candidates.")
    greedy: bool = Field(False, strict=True, description="Beam search: the same output every time.")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, strict=True, description="For repeatable sampling."
    )
    temperature: float | None = Field(
        None, ge=MIN_TEMPERATURE, le=10, strict=True, description="Default: the run's."
    )
    top_p: float | None = Field(None, gt=0, le=1, strict=True, description="Default: the run's.")
    max_new_tokens: int | None = Field(
        None, ge=1, le=MAX_NEW_TOKENS, strict=True,
        description="Longest candidate; default: the run's.",
    )  # fmt: skip


class Candidate(BaseModel):
    text: str
    score: float = Field(description="Mean log-probability per token; higher is likelier.")
    speaker: str | None


class SuggestResponse(BaseModel):
    candidates: list[Candidate] = Field(
        description="Best first; fewer than n when curation drops some."
    )
    latency_ms: float = Field(description="Time the server spent, queueing for the model included.")


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    messages: list[ChatMessage]
    as_: str | None = Field(
        None, alias="as", min_length=1, max_length=MAX_SENDER_CHARS, description="Who is typing."
    )
    typed: str = Field("", description="The reply typed so far, maybe ending mid-word.")
    max_new_tokens: int = Field(8, ge=1, le=MAX_COMPLETE_TOKENS, strict=True)


class CompleteResponse(BaseModel):
    completion: str = Field(description='What follows the typed text; "" when nothing does.')
    latency_ms: float


class Speakers(BaseModel):
    speakers: list[str] = Field(description="The people the model learnt to reply as.")


class Health(BaseModel):
    """Liveness only: who and how many the run knows stays behind the token."""

    status: Literal["ok"] = "ok"
    token_required: bool


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, in one line that names the fix.")


# --- the app ---------------------------------------------------------------------------------


def create_app(
    suggester: Suggester,
    *,
    token: str | None = None,
    max_messages: int = 200,
    max_body_bytes: int = 1_000_000,
    max_text_chars: int = 4_000,
    allowed_hosts: Collection[str] | None = None,
    max_queue: int = 8,
    read_timeout: float = 30.0,
) -> FastAPI:
    """The API and page over a loaded suggester.

    Args:
        token: When set, every /v1 call needs `Authorization: Bearer <token>`.
        max_messages: Most messages one request may send (the model sees the newest anyway).
        max_body_bytes: Larger request bodies get 413 before they are parsed.
        max_text_chars: Longest message text, prefix or typed text.
        allowed_hosts: Host header names accepted (None: any); a server on loopback should
            accept only loopback names, so a web page cannot reach it by DNS rebinding.
        max_queue: Most model requests in the server at once, the running one included; more
            get 503 with Retry-After before their body is read (memory stays bounded).
        read_timeout: Seconds a client has to send its whole body; then 408.

    Raises:
        TwinchatError: the token is shorter than 8 characters or not printable ASCII.
    """
    check_token(token)
    model = _Model(suggester, max_queue)
    limits = _Limits(max_messages, max_text_chars)
    # the context prepare gave every training example: the model sees what it learnt from, and a
    # request's hundreds of messages are not tokenized for nothing
    window = suggester.description.window
    page, policy = _page()
    app = FastAPI(
        title="twinchat",
        version=__version__,
        summary="Reply suggestions from a fine-tuned chat model.",
        # Swagger UI and ReDoc load their scripts from a CDN, and nothing here may fetch from
        # the internet; the schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        _Guard,
        token=token,
        max_body_bytes=max_body_bytes,
        allowed_hosts=allowed_hosts,
        model=model,
        read_timeout=read_timeout,
    )
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(openai_api.APIError, _api_error)
    app.add_exception_handler(Exception, _crash)

    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": text}
        for code, text in [
            (401, "Missing or wrong bearer token."),
            (413, f"Body above {max_body_bytes} bytes."),
            (422, "Invalid request, too many messages, too long a text, or an unknown speaker."),
            (503, "The model's queue is full; try again after Retry-After seconds."),
        ]
    }
    # Enforced by _Guard before the body is read; declared here so the schema shows it.
    bearer = [Security(HTTPBearer(auto_error=False))] if token is not None else []
    v1 = APIRouter(prefix="/v1", responses=problems, dependencies=bearer)

    @v1.post("/suggest", response_model=SuggestResponse)
    async def suggest(body: SuggestRequest, request: Request) -> SuggestResponse:
        """Up to n distinct reply candidates for the next message, best first."""
        turns = window.fit(limits.turns(body.messages, prefix=body.prefix))
        sampling = body.model_dump(
            include={"temperature", "top_p", "max_new_tokens"}, exclude_none=True
        )

        def call() -> list[Any]:
            return suggester.suggest(
                turns, as_=body.as_, prefix=body.prefix, n=body.n, greedy=body.greedy,
                seed=body.seed, **sampling,
            )  # fmt: skip

        candidates, ms = await model.run(request, "suggest", turns, call)
        return SuggestResponse(
            candidates=[Candidate(text=c.text, score=round(c.score, 4), speaker=c.speaker)
                        for c in candidates],
            latency_ms=ms,
        )  # fmt: skip

    @v1.post("/complete", response_model=CompleteResponse)
    async def complete(body: CompleteRequest, request: Request) -> CompleteResponse:
        """Typeahead: the greedy continuation of the typed reply, maybe mid-word."""
        turns = window.fit(limits.turns(body.messages, typed=body.typed))

        def call() -> str:
            return suggester.complete(turns, body.as_, body.typed, body.max_new_tokens)

        completion, ms = await model.run(request, "complete", turns, call)
        return CompleteResponse(completion=completion, latency_ms=ms)

    @v1.get("/speakers", response_model=Speakers)
    async def speakers() -> Speakers:
        """The names `as` accepts."""
        return Speakers(speakers=list(suggester.speakers))

    app.include_router(v1)
    app.include_router(_openai_routes(suggester, model, limits, bearer, max_body_bytes))

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        """Liveness; names stay behind the token, at /v1/speakers."""
        return Health(token_required=token is not None)

    @app.api_route(
        "/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
    )
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    return app


def _openai_routes(
    suggester: Suggester, model: _Model, limits: _Limits, bearer: list[Any], max_body_bytes: int
) -> APIRouter:
    """`/v1/models` and `/v1/chat/completions`, for OpenAI clients (`twinchat.apps.openai_api`)."""
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": openai_api.ErrorResponse, "description": text}
        for code, text in [
            (400, "Invalid request, too many messages or too long a text."),
            (401, "Missing or wrong API key (the bearer token)."),
            (404, "No such model: GET /v1/models lists them."),
            (413, f"Body above {max_body_bytes} bytes."),
            (503, "The model's queue is full; try again after Retry-After seconds."),
        ]
    }
    router = APIRouter(prefix="/v1", tags=["OpenAI"], responses=problems, dependencies=bearer)
    listed = openai_api.model_list(suggester.speakers, created=int(time.time()))

    @router.get("/models", response_model=openai_api.ModelList)
    async def models() -> openai_api.ModelList:
        """A model for each speaker the run learnt: `twinchat/<name>`."""
        return listed

    @router.get("/models/{model_id:path}", response_model=openai_api.ModelCard)
    async def one_model(model_id: str) -> openai_api.ModelCard:
        speaker = openai_api.speaker_of(model_id, suggester.speakers)
        return listed.data[suggester.speakers.index(speaker)]

    @router.post(
        "/chat/completions",
        response_model=openai_api.ChatCompletion,
        responses={200: {"content": {"text/event-stream": {}},
                         "description": "JSON, or with stream: chunks as server-sent events."}},
    )  # fmt: skip
    async def chat_completions(
        body: openai_api.ChatCompletionRequest, request: Request
    ) -> openai_api.ChatCompletion | Response:
        """The next message of the chat, written as the model's speaker."""
        speaker = openai_api.speaker_of(body.model, suggester.speakers)
        if body.n > MAX_N:
            raise openai_api.APIError(400, f"n is {body.n}; at most {MAX_N} are allowed", "n")
        indexed = openai_api.conversation(
            body.messages, speaker, suggester.speakers, MAX_SENDER_CHARS
        )
        limits.check(
            len(body.messages), {f"messages.{i}.content": t.text for i, t in indexed.items()}
        )
        turns = suggester.description.window.fit(list(indexed.values()))
        limit = min(body.token_limit or suggester.sampling.max_new_tokens, MAX_NEW_TOKENS)

        def call() -> tuple[list[openai_api.Reply], int]:
            generate = limit + openai_api.LOOKAHEAD_TOKENS
            candidates = suggester.suggest(
                turns, as_=speaker, n=body.n, max_new_tokens=generate, **body.sampling()
            )
            texts = [c.text for c in candidates]
            replies = openai_api.replies(suggester.tokenizer, texts, limit, body.stop or [])
            return replies, openai_api.prompt_tokens(suggester, turns, speaker)

        (replies, prompt), _ = await model.run(request, "chat/completions", turns, call)
        done = openai_api.completion(body.model, replies, prompt)
        if not body.stream:
            return done
        usage = body.stream_options is not None and body.stream_options.include_usage
        events = openai_api.events(done, replies, include_usage=usage)
        return StreamingResponse(events, media_type="text/event-stream")

    return router


def serve(
    run: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    backend: str | None = None,
) -> None:
    """Load a run (on `backend`, default the folder's own) and serve it with uvicorn until
    interrupted.

    Raises:
        TwinchatError: `run` is not a finished run, or the token is unusable.
    """
    one_heap()  # before torch and the tokenizers start their threads
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from twinchat.inference.suggester import Suggester

    check_token(token)  # before the model loads, which takes a while
    local = is_loopback(host)
    suggester = Suggester.load(run, backend=backend)
    app = create_app(suggester, token=token, allowed_hosts=LOOPBACK_NAMES if local else None)
    # Connections beyond this get 503 from uvicorn itself, whatever they send or do not send.
    logging_config = json.loads(json.dumps(LOGGING_CONFIG))  # a deep copy: it is uvicorn's own
    logging_config["loggers"]["twinchat"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    # Our own lines give each call's sizes and latency; the access log would add a line a keystroke.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=logging_config, access_log=False,
        limit_concurrency=100, timeout_keep_alive=5,
    )  # fmt: skip  # configures logging, so the lines below show
    if not local and token is None:
        log.warning("listening on %s without a token: anyone who can reach it may use it", host)
    shown = f"[{host}]" if ":" in host else host
    log.info("serving %s at http://%s:%d/ (%d speakers)", run, shown, port, len(suggester.speakers))
    uvicorn.Server(config).run()


def check_token(token: str | None) -> None:
    """Refuse a token a browser could not send, or one too short to be worth having.

    Raises:
        TwinchatError: the token is shorter than 8 characters or not printable ASCII.
    """
    # It travels in an HTTP header, where browsers accept only these characters.
    if token is not None and not re.fullmatch(r"[!-~]{8,}", token):
        raise TwinchatError(
            "the token must be at least 8 characters, letters, digits and punctuation only "
            "(no spaces); python -c 'import secrets; print(secrets.token_urlsafe())' makes one"
        )


def is_loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Limits:
    """The per-app caps that pydantic's static field constraints cannot hold."""

    def __init__(self, max_messages: int, max_text_chars: int):
        self.max_messages = max_messages
        self.max_text_chars = max_text_chars

    def turns(self, messages: Sequence[ChatMessage], **texts: str) -> list[Turn]:
        """The messages as turns, once they and the other `texts` are within the limits.

        Raises:
            HTTPException: 422 naming the first message or text over a limit.
        """
        named = {f"messages.{i}.text": m.text for i, m in enumerate(messages)} | texts
        self.check(len(messages), named)
        return [Turn(m.sender, m.text) for m in messages]

    def check(self, count: int, named: dict[str, str]) -> None:
        """Refuse more than `max_messages` messages, or a text above `max_text_chars`.

        Raises:
            HTTPException: 422 naming the first message or text over a limit.
        """
        if count > self.max_messages:
            raise HTTPException(
                422, f"{count} messages is too many: send at most {self.max_messages}, the newest"
            )
        for name, text in named.items():
            if len(text) > self.max_text_chars:
                raise HTTPException(
                    422, f"{name} has {len(text)} characters; at most {self.max_text_chars} "
                    "are allowed",
                )  # fmt: skip


# --- the model behind one lock ---------------------------------------------------------------


class _Gone(Exception):
    """The client left while its request waited for the model."""


class _Model:
    """The suggester on one thread of its own: a PyTorch module is not thread-safe, and on a CPU
    that one call already keeps busy, one call at a time is also the fastest order.

    One thread, not a pool's next free one behind a lock: glibc gives each thread a heap (an
    arena) of its own, and one maximum-size request takes ~150 MB there for a moment (the whole
    conversation tokenized before the newest tokens are kept). Spread over a pool's threads, a
    burst left each thread's heap at that high-water mark: 8 queued requests took a tiny
    model's server from 0.4 to 1.3 GB, and the memory stayed. On one thread each call reuses
    what the last one freed.

    It also keeps the queue's length (the guard refuses requests beyond `max_queue`) and how
    long a call takes, to tell a refused client when to come back.
    """

    def __init__(self, suggester: Suggester, max_queue: int = 8):
        self.suggester = suggester
        # Its thread starts with the first call, and ends when the app is collected.
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="twinchat-model")
        self.max_queue = max_queue
        self.queued = 0  # changed on the event loop only
        self.seconds = 1.0  # a moving average of one call

    def enter(self) -> int | None:
        """Take a place in the queue; None when it is full, with the seconds to wait."""
        if self.queued >= self.max_queue:
            return max(1, math.ceil(self.seconds * self.queued))
        self.queued += 1
        return None

    def leave(self) -> None:
        self.queued -= 1
        if not self.queued:
            trim()  # a burst's bodies and tokens are freed: hand the pages back to the system

    async def run(
        self, request: Request, what: str, turns: Sequence[Turn], call: Callable[[], T]
    ) -> tuple[T, float]:
        """The call's result and the milliseconds the request spent, queueing included.

        Raises:
            HTTPException: 422 for a TwinchatError (an unknown speaker, a bad setting); 499 when
                the client left before its turn.
        """
        arrived = time.perf_counter()
        chars = sum(len(t.text) for t in turns)
        gone = request.scope.get(GONE) or threading.Event()
        try:
            future = self.thread.submit(self._turn, gone, arrived, call)
            result, waited = await asyncio.wrap_future(future)
        except _Gone:
            log.info("%s: client gone while queued, skipped", what)
            # 499, as nginx logs it: the client closed the request; nobody reads this answer.
            raise HTTPException(499, "the client closed the request") from None
        except TwinchatError as error:
            log.info("%s: rejected: %d messages, %d chars", what, len(turns), chars)
            raise HTTPException(422, str(error)) from None
        total = (time.perf_counter() - arrived) * 1000
        log.info(
            "%s: %d messages, %d chars, %.0f ms queued, %.0f ms in all",
            what, len(turns), chars, waited, total,
        )  # fmt: skip
        return result, round(total, 1)

    def _turn(
        self, gone: threading.Event, arrived: float, call: Callable[[], T]
    ) -> tuple[T, float]:
        """The call, on the model's thread, unless its client left while it waited."""
        waited = (time.perf_counter() - arrived) * 1000
        if gone.is_set():
            raise _Gone
        started = time.perf_counter()
        try:
            return call(), waited
        finally:
            self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - started)


def trim() -> bool:
    """Hand the heap's free pages back to the system: glibc keeps what a process frees for
    reuse, so after a burst the server would stay at its peak. Whether it could (glibc only).
    """
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def one_heap() -> bool:
    """Have every thread that starts from now on allocate from glibc's main heap, none from
    one of its own; whether it could (glibc only).

    The model's thread alone still left a burst's server 12 % above its idle memory: the
    tokenizer's and torch's threads kept heaps of their own, which a trim shrinks less well.
    With one heap it was 4 %. Its lock is shared, but the threads seldom allocate at once: the
    model runs one call at a time, and the event loop only parses the bodies.
    """
    return _LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, 1) == 1


M_ARENA_MAX = -8
"""mallopt's parameter for the most heaps (arenas) glibc keeps, from <malloc.h>."""
_LIBC = None
if (_found := ctypes.util.find_library("c")) and "libc.so" in _found:
    try:
        _LIBC = ctypes.CDLL(_found)
        _LIBC.malloc_trim  # noqa: B018 - musl has no malloc_trim
        _LIBC.mallopt  # noqa: B018
    except (OSError, AttributeError):
        _LIBC = None


# --- the guard: host, token, queue, body size and time -----------------------------------------

_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
"""A JSON escape of half a UTF-16 pair: Python decodes it to a string no encoder takes."""


class _Guard:
    """Pure ASGI, so that a wrong host or token, or a full queue, is refused before the body is
    read, and a body is counted as it streams in (Content-Length can be absent or lie)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        max_body_bytes: int,
        allowed_hosts: Collection[str] | None,
        model: _Model | None = None,
        read_timeout: float = 30.0,
    ):
        self.app = app
        self.token = token.encode() if token is not None else None
        self.max_body_bytes = max_body_bytes
        self.hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None else None
        self.model = model
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path = scope["path"]
        if self.hosts is not None and _hostname(headers.get(b"host", b"")) not in self.hosts:
            await _refuse(send, 400, "this server answers only to its loopback names", path)
            return
        guarded = path.startswith("/v1")
        if guarded and not self._authorized(headers.get(b"authorization")):
            await _refuse(
                send, 401, "a bearer token is needed: send 'Authorization: Bearer TOKEN' (an "
                "OpenAI client's api_key) with the token given to twinchat serve", path,
                {"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
            return
        model = self.model if guarded and scope["method"] == "POST" else None
        if model is not None and (retry := model.enter()) is not None:
            detail = f"the model is busy with {model.queued} requests; try again in {retry} s"
            await _refuse(send, 503, detail, path, {"Retry-After": str(retry)})
            return
        try:
            await self._serve(scope, receive, send, headers, guarded)
        finally:
            if model is not None:
                model.leave()

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], full: bool
    ) -> None:
        path = scope["path"]
        limit = self.max_body_bytes if full else OPEN_BODY_BYTES
        with anyio.move_on_after(self.read_timeout) as timer:
            body = await self._body(headers.get(b"content-length"), receive, limit)
        if timer.cancelled_caught:
            await _refuse(
                send, 408, f"the body did not arrive within {self.read_timeout:g} s", path
            )
            return
        if isinstance(body, str):
            code = 400 if body.startswith("Content-Length") else 413
            await _refuse(send, code, body, path)
            return
        if _LONE_SURROGATE.search(body):
            await _refuse(
                send, 422, "the body holds half a UTF-16 surrogate pair (such as \\ud800); "
                "send text as UTF-8, or escape characters outside the BMP as whole pairs", path,
            )  # fmt: skip
            return
        watch = _Watch(receive)
        scope[GONE] = watch.gone
        async with anyio.create_task_group() as group:
            group.start_soon(watch.run)
            try:
                await self.app(scope, watch.replay(body), _secured(send))
            finally:
                group.cancel_scope.cancel()

    def _authorized(self, given: bytes | None) -> bool:
        if self.token is None:
            return True
        if given is None:
            return False
        scheme, _, credentials = given.strip().partition(b" ")
        # The scheme is case-insensitive (RFC 7235); the token is compared in constant time,
        # so the answer's timing tells nothing about how much of a guess was right.
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)

    @staticmethod
    async def _body(length: bytes | None, receive: Receive, limit: int) -> bytes | str:
        """The whole body, or why it is refused."""
        too_large = f"the request body is larger than {limit} bytes: send fewer or shorter messages"
        if length is not None:
            if not length.isdigit():
                return "Content-Length is not a number"
            if int(length) > limit:
                return too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


class _Watch:
    """After the body, the only reader of the connection: it waits for the client's disconnect,
    sets `gone` (which the queued request checks before it reaches the model), and hands the
    disconnect to the app when it asks (a streaming response stops then)."""

    def __init__(self, receive: Receive):
        self.receive = receive
        self.gone = threading.Event()
        self._left = anyio.Event()

    async def run(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.gone.set()
        self._left.set()

    def replay(self, body: bytes) -> Receive:
        """A receive that gives the body read already, then the disconnect when it comes."""
        pending = True

        async def replayed() -> Message:
            nonlocal pending
            if pending:
                pending = False
                return {"type": "http.request", "body": body, "more_body": False}
            await self._left.wait()
            return {"type": "http.disconnect"}

        return replayed


def _secured(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            # Answers hold chat text: no cache may keep them.
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("X-Content-Type-Options", "nosniff")
            headers.setdefault("Referrer-Policy", "no-referrer")
        await send(message)

    return secured


async def _refuse(
    send: Send, code: int, detail: str, path: str, headers: dict[str, str] | None = None
) -> None:
    log.info("%s: refused with %d", path, code)
    response = _problem(path, code, detail, headers=headers)

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response({"type": "http"}, nothing, _secured(send))


def _hostname(host: bytes) -> str:
    """The name of a Host header, without its port; IPv6 keeps no brackets."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    """Validation errors as one line (`n: Input should be ...`), like every other refusal here;
    the offending values are not echoed, they may be chat text."""
    assert isinstance(error, RequestValidationError)
    lines, places = [], []
    for problem in error.errors()[:5]:
        where = ".".join(str(part) for part in problem["loc"][1:])
        message = problem["msg"].removeprefix("Value error, ")  # our validators' own lines
        places.append(where or None)
        if problem["type"] == "json_invalid":
            lines.append(f"the body is not valid JSON: {problem.get('ctx', {}).get('error', '')}")
        elif problem["loc"] == ("body",) and problem["type"] != "value_error":
            # No body, or one sent without `Content-Type: application/json` (read as bytes).
            lines.append("send a JSON object, with Content-Type: application/json")
        else:
            lines.append(f"{where}: {message}" if where else message)
    return _problem(request.url.path, 422, "; ".join(lines), param=places[0] if places else None)


async def _http_error(request: Request, error: Exception) -> Response:
    """Refusals raised in the routes, in the route's shape."""
    assert isinstance(error, StarletteHTTPException)
    return _problem(request.url.path, error.status_code, str(error.detail), headers=error.headers)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, openai_api.APIError)
    body = openai_api.error_body(error.status, _safe(error.message), error.param, error.code)
    return JSONResponse(body, status_code=error.status)


async def _crash(request: Request, error: Exception) -> JSONResponse:
    """Whatever went wrong, the client gets JSON in the route's shape, never a plain 500."""
    log.error("%s: failed with %s", request.url.path, type(error).__name__)
    detail = "the server failed on this request; its log says why"
    return _problem(request.url.path, 500, detail)


def _safe(detail: str) -> str:
    """A detail that JSON can carry (no lone surrogates) and that does not echo a huge value."""
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    return detail


def _problem(
    path: str,
    code: int,
    detail: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """`{"detail": ...}`, or on the OpenAI routes OpenAI's error, where an invalid request is
    400 (its clients raise BadRequestError) rather than 422."""
    detail = _safe(detail)
    if not openai_api.is_openai_path(path):
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)
    code = 400 if code == 422 else code
    body = openai_api.error_body(code, detail, param)
    return JSONResponse(body, status_code=code, headers=headers)


# --- the page --------------------------------------------------------------------------------


def _page() -> tuple[str, str]:
    """The page and a content security policy that allows its inline style and script by hash,
    and nothing from anywhere else."""
    page = files("twinchat.apps").joinpath("web/index.html").read_text(encoding="utf-8")
    styles = _hashes(page, "style")
    scripts = _hashes(page, "script")
    policy = (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy


def _hashes(page: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    digests = [hashlib.sha256(block.encode()).digest() for block in blocks]
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests) or "'none'"
