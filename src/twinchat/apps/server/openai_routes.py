"""The OpenAI chat-completions routes over a `Suggester`, so OpenAI clients can talk to a twin.

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="s3cret")  # serve's --token
    reply = client.chat.completions.create(
        model="twinchat/Sam", messages=[{"role": "user", "content": "are we still on?"}]
    )

Models: one per speaker the run learnt, `twinchat/<name>`. Roles: `assistant` messages are the
chosen speaker's own, `user` messages the person talking to them; a message's `name` says who
else in a group chat wrote it. A `user` message without a name is from the other person when the
run knows exactly two (a twin of a one-to-one chat is talked to by its other half), else from
"User". `system` and `developer` messages are accepted and ignored: the model was fine-tuned on
chats, not on instructions, and would read one as a chat message. Text parts of one message are
joined by line breaks; image, audio and file parts are refused.

Parameters: `temperature` 0 is beam search (the same reply every time), omitted is the run's
own setting; `n` replies are curated (echoes, repetition and duplicates dropped) so fewer may
come back, and when none is left one empty choice says `content_filter`. `max_tokens` counts
tokens of the reply by the run's tokenizer (the server caps it, a chat message is short): the
model writes a little past it, so that a reply cut there is known and says `length`; `stop`
strings cut the reply before them and say `stop`. Usage counts the chat as the model read it
and the tokens of every choice.

Streaming is honest about being a replay: a candidate is known good only once whole (curation
cuts a reply at the next speaker's line and drops echoes), so the reply is generated first, then
sent a token at a time; the pieces join to the reply exactly.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from twinchat.apps.server.openai_schemas import (
    APIError,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ErrorResponse,
    Message,
    ModelCard,
    ModelList,
    Usage,
)
from twinchat.apps.server.schemas import MAX_N, MAX_NEW_TOKENS, MAX_SENDER_CHARS, Limits
from twinchat.apps.server.worker import ModelWorker
from twinchat.data.example import Turn
from twinchat.inference.suggester import Suggester, listed

PREFIX = "twinchat/"
HUMAN = "User"
"""Who sends an unnamed `user` message when the run knows other than two people."""
LOOKAHEAD_TOKENS = 16
"""Tokens generated past `max_tokens`: the suggester trims a reply that hits its own cap to
whole words, so only a reply it did not cap shows whether `max_tokens` cut it."""


def router(
    suggester: Suggester, model: ModelWorker, limits: Limits, bearer: list[Any], max_body_bytes: int
) -> APIRouter:
    """`/v1/models` and `/v1/chat/completions`, for OpenAI clients."""
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": text}
        for code, text in [
            (400, "Invalid request, too many messages or too long a text."),
            (401, "Missing or wrong API key (the bearer token)."),
            (404, "No such model: GET /v1/models lists them."),
            (413, f"Body above {max_body_bytes} bytes."),
            (503, "The model's queue is full; try again after Retry-After seconds."),
        ]
    }
    routes = APIRouter(prefix="/v1", tags=["OpenAI"], responses=problems, dependencies=bearer)
    cards = model_list(suggester.speakers, created=int(time.time()))

    @routes.get("/models", response_model=ModelList)
    async def models() -> ModelList:
        """A model for each speaker the run learnt: `twinchat/<name>`."""
        return cards

    @routes.get("/models/{model_id:path}", response_model=ModelCard)
    async def one_model(model_id: str) -> ModelCard:
        speaker = speaker_of(model_id, suggester.speakers)
        return cards.data[suggester.speakers.index(speaker)]

    @routes.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={200: {"content": {"text/event-stream": {}},
                         "description": "JSON, or with stream: chunks as server-sent events."}},
    )  # fmt: skip
    async def chat_completions(
        body: ChatCompletionRequest, request: Request
    ) -> ChatCompletion | Response:
        """The next message of the chat, written as the model's speaker."""
        speaker = speaker_of(body.model, suggester.speakers)
        if body.n > MAX_N:
            raise APIError(400, f"n is {body.n}; at most {MAX_N} are allowed", "n")
        indexed = conversation(body.messages, speaker, suggester.speakers, MAX_SENDER_CHARS)
        limits.check(
            len(body.messages), {f"messages.{i}.content": t.text for i, t in indexed.items()}
        )
        turns = suggester.description.window.fit(list(indexed.values()))
        limit = min(body.token_limit or suggester.sampling.max_new_tokens, MAX_NEW_TOKENS)

        def call() -> tuple[list[Reply], int]:
            generate = limit + LOOKAHEAD_TOKENS
            candidates = suggester.suggest(
                turns, as_=speaker, n=body.n, max_new_tokens=generate, **body.sampling()
            )
            texts = [c.text for c in candidates]
            chosen = replies(suggester.tokenizer, texts, limit, body.stop or [])
            return chosen, prompt_tokens(suggester, turns, speaker)

        (chosen, prompt), _ = await model.run(request, "chat/completions", turns, call)
        done = completion(body.model, chosen, prompt)
        if not body.stream:
            return done
        usage = body.stream_options is not None and body.stream_options.include_usage
        stream = events(done, chosen, include_usage=usage)
        return StreamingResponse(stream, media_type="text/event-stream")

    return routes


# --- requests --------------------------------------------------------------------------------


def speaker_of(model: str, speakers: Sequence[str]) -> str:
    """The speaker a model id names.

    Raises:
        APIError: 404, the id names no speaker of the run.
    """
    name = model.removeprefix(PREFIX)
    if model.startswith(PREFIX) and name in speakers:
        return name
    shown = listed([PREFIX + s for s in speakers])
    raise APIError(
        404, f"the model '{model}' does not exist: choose one of {shown} (GET /v1/models lists "
        "them)", param="model", code="model_not_found",
    )  # fmt: skip


def conversation(
    messages: Sequence[Message], speaker: str, speakers: Sequence[str], max_name: int
) -> dict[int, Turn]:
    """The chat messages as turns, keyed by their index in the request; system messages left out.

    Raises:
        APIError: 400, a name longer than `max_name` characters.
    """
    others = [s for s in speakers if s != speaker]
    human = others[0] if len(others) == 1 else HUMAN
    turns = {}
    for i, message in enumerate(messages):
        if message.role in ("system", "developer"):
            continue
        if message.name is not None and len(message.name) > max_name:
            raise APIError(
                400, f"messages.{i}.name has {len(message.name)} characters; at most {max_name} "
                "are allowed", param=f"messages.{i}.name",
            )  # fmt: skip
        default = speaker if message.role == "assistant" else human
        turns[i] = Turn(message.name or default, message.content)
    return turns


def prompt_tokens(suggester: Suggester, turns: Sequence[Turn], speaker: str) -> int:
    """Tokens the model reads: the chat as the suggester renders it for the model (its newest
    `max_source_tokens`) and the forced `Name:` that starts the reply."""
    prompt = suggester._prompt(turns, suggester.format.reply_prefix(speaker), "")
    return len(prompt.context) + len(prompt.forced)


# --- replies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One choice: its text, one piece of it a token (joined, the text), and why it ended."""

    text: str
    pieces: list[str]
    finish_reason: Literal["stop", "length", "content_filter"]

    @property
    def tokens(self) -> int:
        return len(self.pieces)


def replies(
    tokenizer: Any, texts: Sequence[str], max_tokens: int, stops: Sequence[str]
) -> list[Reply]:
    """The candidates as choices, each cut at `max_tokens` tokens or before a stop string; equal
    ones once cut are one choice. No candidate at all is one empty choice."""
    if not texts:
        return [Reply("", [], "content_filter")]
    kept: dict[str, Reply] = {}
    for text in texts:
        reply = _cut(token_pieces(tokenizer, text), max_tokens, stops)
        kept.setdefault(reply.text, reply)
    return list(kept.values())


def token_pieces(tokenizer: Any, text: str) -> list[str]:
    """The text in one piece a token, decoded incrementally; a token that ends inside a
    character, or that the decoder does not spell back as the text has it, gives "" and its text
    comes with a later piece. The pieces always join to `text`."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces, shown = [], ""
    for end in range(1, len(ids) + 1):
        now = tokenizer.decode(ids[:end], skip_special_tokens=True).lstrip()
        if end == len(ids):
            now = text
        elif not text.startswith(now) or len(now) < len(shown):
            pieces.append("")
            continue
        pieces.append(now[len(shown) :])
        shown = now
    return pieces


def _cut(pieces: list[str], max_tokens: int, stops: Sequence[str]) -> Reply:
    finish: Literal["stop", "length"] = "stop"
    if len(pieces) > max_tokens:
        pieces, finish = pieces[:max_tokens], "length"
    text = "".join(pieces)
    found = [i for i in (text.find(stop) for stop in stops) if i >= 0]
    if found:
        pieces, finish = _first_chars(pieces, min(found)), "stop"
    return Reply("".join(pieces), pieces, finish)


def _first_chars(pieces: list[str], count: int) -> list[str]:
    """The pieces that spell the first `count` characters, the last one shortened."""
    kept, size = [], 0
    for piece in pieces:
        if size >= count:
            break
        kept.append(piece[: count - size])
        size += len(kept[-1])
    return kept


# --- responses -------------------------------------------------------------------------------


def model_list(speakers: Sequence[str], created: int) -> ModelList:
    return ModelList(data=[ModelCard(id=PREFIX + s, created=created) for s in speakers])


def completion(model: str, choices: Sequence[Reply], prompt: int) -> ChatCompletion:
    written = sum(reply.tokens for reply in choices)
    return ChatCompletion(
        id=f"chatcmpl-{secrets.token_hex(12)}",
        created=int(time.time()),
        model=model,
        choices=[
            Choice(index=i, message=AssistantMessage(content=r.text), finish_reason=r.finish_reason)
            for i, r in enumerate(choices)
        ],
        usage=Usage(prompt_tokens=prompt, completion_tokens=written, total_tokens=prompt + written),
    )


def events(done: ChatCompletion, choices: Sequence[Reply], include_usage: bool) -> Iterator[str]:
    """The completion as server-sent chunks, a token a chunk, then `data: [DONE]`."""
    head = {"id": done.id, "object": "chat.completion.chunk", "created": done.created,
            "model": done.model}  # fmt: skip
    tail: Mapping[str, Any] = {"usage": None} if include_usage else {}

    def chunk(index: int, delta: dict[str, str], finish: str | None = None) -> str:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        return _event({**head, "choices": [choice], **tail})

    for i, reply in enumerate(choices):
        yield chunk(i, {"role": "assistant", "content": ""})
        for piece in reply.pieces:
            if piece:
                yield chunk(i, {"content": piece})
        yield chunk(i, {}, reply.finish_reason)
    if include_usage:
        yield _event({**head, "choices": [], "usage": done.usage.model_dump()})
    yield "data: [DONE]\n\n"


def _event(data: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
