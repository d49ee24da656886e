"""Every refusal and failure as JSON in its route's shape: `{"detail": ...}` on twinchat's routes,
OpenAI's error on the OpenAI ones; never a plain 500, never a value that may be chat text."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinchat.apps.server.openai_schemas import APIError, error_body, is_openai_path

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 500


def handle(app: FastAPI) -> None:
    """Answer the app's validation errors, refusals and crashes with `problem`s."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(Exception, _crash)


def problem(
    path: str,
    code: int,
    detail: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """`{"detail": ...}`, or on the OpenAI routes OpenAI's error, where an invalid request is
    400 (its clients raise BadRequestError) rather than 422."""
    detail = _safe(detail)
    if not is_openai_path(path):
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)
    code = 400 if code == 422 else code
    body = error_body(code, detail, param)
    return JSONResponse(body, status_code=code, headers=headers)


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    """Validation errors as one line (`n: Input should be ...`), like every other refusal here;
    the offending values are not echoed, they may be chat text."""
    assert isinstance(error, RequestValidationError)
    lines, places = [], []
    for found in error.errors()[:5]:
        where = ".".join(str(part) for part in found["loc"][1:])
        message = found["msg"].removeprefix("Value error, ")  # our validators' own lines
        places.append(where or None)
        if found["type"] == "json_invalid":
            lines.append(f"the body is not valid JSON: {found.get('ctx', {}).get('error', '')}")
        elif found["loc"] == ("body",) and found["type"] != "value_error":
            # No body, or one sent without `Content-Type: application/json` (read as bytes).
            lines.append("send a JSON object, with Content-Type: application/json")
        else:
            lines.append(f"{where}: {message}" if where else message)
    return problem(request.url.path, 422, "; ".join(lines), param=places[0] if places else None)


async def _http_error(request: Request, error: Exception) -> Response:
    """Refusals raised in the routes, in the route's shape."""
    assert isinstance(error, StarletteHTTPException)
    return problem(request.url.path, error.status_code, str(error.detail), headers=error.headers)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, APIError)
    body = error_body(error.status, _safe(error.message), error.param, error.code)
    return JSONResponse(body, status_code=error.status)


async def _crash(request: Request, error: Exception) -> JSONResponse:
    """Whatever went wrong, the client gets JSON in the route's shape, never a plain 500."""
    log.error("%s: failed with %s", request.url.path, type(error).__name__)
    detail = "the server failed on this request; its log says why"
    return problem(request.url.path, 500, detail)


def _safe(detail: str) -> str:
    """A detail that JSON can carry (no lone surrogates) and that does not echo a huge value."""
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    return detail
