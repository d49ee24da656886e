"""The app over a loaded suggester (`create_app`), and `twinchat serve`, which runs it with
uvicorn (`serve`)."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Security
from fastapi.security import HTTPBearer

from twinchat import __version__
from twinchat.apps.server import openai_routes, problems, routes
from twinchat.apps.server.schemas import Limits
from twinchat.apps.server.security import Guard
from twinchat.apps.server.worker import ModelWorker, one_heap
from twinchat.errors import TwinchatError

if TYPE_CHECKING:
    from twinchat.inference.suggester import Suggester

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


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
    model = ModelWorker(suggester, max_queue)
    limits = Limits(max_messages, max_text_chars)
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
        Guard,
        token=token,
        max_body_bytes=max_body_bytes,
        allowed_hosts=allowed_hosts,
        model=model,
        read_timeout=read_timeout,
    )
    problems.handle(app)
    # Enforced by the Guard before the body is read; declared here so the schema shows it.
    bearer = [Security(HTTPBearer(auto_error=False))] if token is not None else []
    app.include_router(routes.v1_router(suggester, model, limits, bearer, max_body_bytes))
    app.include_router(openai_routes.router(suggester, model, limits, bearer, max_body_bytes))
    app.include_router(routes.page_router(token))
    return app


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
