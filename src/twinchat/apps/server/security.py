"""The guard in front of every route: host, token, queue, body size and time, checked before
the app sees a request, and the headers that keep answers out of caches."""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections.abc import Collection

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinchat.apps.server.problems import problem
from twinchat.apps.server.worker import GONE, ModelWorker

log = logging.getLogger(__name__)

OPEN_BODY_BYTES = 1024
"""The most body an unauthenticated route reads: they are all GETs."""
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
"""A JSON escape of half a UTF-16 pair: Python decodes it to a string no encoder takes."""


class Guard:
    """Pure ASGI, so that a wrong host or token, or a full queue, is refused before the body is
    read, and a body is counted as it streams in (Content-Length can be absent or lie)."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        max_body_bytes: int,
        allowed_hosts: Collection[str] | None,
        model: ModelWorker | None = None,
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
    response = problem(path, code, detail, headers=headers)

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response({"type": "http"}, nothing, _secured(send))


def _hostname(host: bytes) -> str:
    """The name of a Host header, without its port; IPv6 keeps no brackets."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text
