"""`twinchat serve`: reply suggestions over HTTP, and a typeahead page that uses them.

    from twinchat.apps.server import serve
    serve("runs/me", port=8000, token="s3cret")  # then open http://127.0.0.1:8000/#token=s3cret

Routes (`routes`): `POST /v1/suggest` (ranked candidates), `POST /v1/complete` (the greedy rest
of a reply being typed, for typeahead), `GET /v1/speakers`, `GET /health`, the OpenAPI schema at
`/openapi.json`, and the page at `/`. For OpenAI clients (`openai_routes`): `GET /v1/models` (a
model a speaker, `twinchat/<name>`), `GET /v1/models/{id}` and `POST /v1/chat/completions`
(streamed or not), refusing in OpenAI's error shape. Their bodies are in `schemas` and
`openai_schemas`; `launcher` builds the app and runs it.

The model is one PyTorch module, not thread-safe: every call runs on the model's one thread
(`worker`), so the event loop keeps answering while a call runs, and a burst's memory goes back
to the system once the queue drains (benchmarks/server_memory.py). A request whose client has
gone by its turn (the page cancels stale typeahead requests) is dropped before it costs model
time: the guard watches every connection for its disconnect while the request waits.

Safe by default (`security`, `problems`): loopback only unless told otherwise; with a token,
every /v1 call needs `Authorization: Bearer TOKEN` (compared in constant time) before its body is
read, and the open routes read at most 1 KiB; a body must arrive within a time limit; at most
`max_queue` model requests are in the server at once, more get 503 with `Retry-After`; bodies,
messages and texts are capped; every refusal and failure is JSON in the route's shape; no CORS;
no chat text in the logs, only sizes and latencies. The page is one file with inline CSS and JS,
allowed by a content security policy that names their hashes, so it loads nothing else.
"""

from twinchat.apps.server.launcher import (
    LOOPBACK_NAMES,
    check_token,
    create_app,
    is_loopback,
    serve,
)
from twinchat.apps.server.worker import GONE

__all__ = ["GONE", "LOOPBACK_NAMES", "check_token", "create_app", "is_loopback", "serve"]
