"""twinchat's own routes: `/v1/suggest`, `/v1/complete`, `/v1/speakers`, `/health`, and the
typeahead page at `/` with the content security policy that lets only its own code run."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from twinchat.apps.server.schemas import (
    Candidate,
    CompleteRequest,
    CompleteResponse,
    Health,
    Limits,
    Problem,
    Speakers,
    SuggestRequest,
    SuggestResponse,
)
from twinchat.apps.server.worker import ModelWorker

if TYPE_CHECKING:
    from twinchat.inference.suggester import Suggester


def v1_router(
    suggester: Suggester, model: ModelWorker, limits: Limits, bearer: list[Any], max_body_bytes: int
) -> APIRouter:
    """`/v1/suggest`, `/v1/complete` and `/v1/speakers`, behind the token when there is one."""
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": text}
        for code, text in [
            (401, "Missing or wrong bearer token."),
            (413, f"Body above {max_body_bytes} bytes."),
            (422, "Invalid request, too many messages, too long a text, or an unknown speaker."),
            (503, "The model's queue is full; try again after Retry-After seconds."),
        ]
    }
    v1 = APIRouter(prefix="/v1", responses=problems, dependencies=bearer)
    # the context prepare gave every training example: the model sees what it learnt from, and a
    # request's hundreds of messages are not tokenized for nothing
    window = suggester.description.window

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

    return v1


def page_router(token: str | None) -> APIRouter:
    """`/health` and the page, open to all: neither tells anything about the run."""
    page, policy = _page()
    routes = APIRouter()

    @routes.get("/health", response_model=Health)
    async def health() -> Health:
        """Liveness; names stay behind the token, at /v1/speakers."""
        return Health(token_required=token is not None)

    @routes.api_route(
        "/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
    )
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    return routes


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
