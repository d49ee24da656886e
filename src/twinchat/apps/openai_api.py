"""The OpenAI chat-completions wire format over a `Suggester`, so OpenAI clients can talk to a twin.

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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twinchat.data.example import Turn
from twinchat.inference.suggester import Suggester, listed

PREFIX = "twinchat/"
HUMAN = "User"
"""Who sends an unnamed `user` message when the run knows other than two people."""
LOOKAHEAD_TOKENS = 16
"""Tokens generated past `max_tokens`: the suggester trims a reply that hits its own cap to
whole words, so only a reply it did not cap shows whether `max_tokens` cut it."""
OPENAI_PATHS = ("/v1/models", "/v1/chat/")

# Platform bookkeeping (billing, storage, abuse tracking): nothing here keeps or bills anything.
MIN_TEMPERATURE = 0.01
_IGNORED = {"user", "metadata", "store", "service_tier", "safety_identifier", "prompt_cache_key"}
# Features a chat twin has no use for, accepted only at the values that turn them off.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (0,),
    "presence_penalty": (0,),
    "logprobs": (False,),
    "tools": ([],),
    "tool_choice": ("none",),
    "parallel_tool_calls": (True, False),
    "response_format": ({"type": "text"},),
}
# Fields of an assistant message that a client echoes back from a response, empty.
_ECHOED = {"refusal", "tool_calls", "function_call", "audio", "annotations"}


class APIError(Exception):
    """A refusal in OpenAI's error shape."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """`{"error": {...}}` as OpenAI answers; its clients pick their exception by the status."""
    kind = (
        "authentication_error" if status == 401
        else "server_error" if status >= 500
        else "invalid_request_error"
    )  # fmt: skip
    default = {401: "invalid_api_key", 413: "request_too_large"}.get(status)
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default}}


def is_openai_path(path: str) -> bool:
    """Whether refusals on this path take OpenAI's error shape."""
    return path.startswith(OPENAI_PATHS)


# --- requests --------------------------------------------------------------------------------


class Message(BaseModel):
    """One chat message; content as a string or as text parts."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant"]
    content: str
    name: str | None = Field(None, min_length=1, description="Who wrote it, in a group chat.")

    @model_validator(mode="before")
    @classmethod
    def _drop_echoed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k in _ECHOED and not v)}
        return data

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, content: Any) -> Any:
        if not isinstance(content, list):
            return content
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            if kind != "text" or not isinstance(part.get("text"), str):
                raise ValueError(
                    f"only text parts are accepted, not {kind!r}: the model reads chat text; "
                    'send {"type": "text", "text": ...} or a string'
                )
            texts.append(part["text"])
        return "\n".join(texts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = Field(False, description="A last chunk with the usage, no choices.")


class ChatCompletionRequest(BaseModel):
    """OpenAI's request, less what a chat twin cannot do (tools, logprobs, penalties)."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(max_length=200, examples=["twinchat/Sam"], description="GET /v1/models.")
    messages: list[Message] = Field(min_length=1)
    # strict: `"n": true` is a mistake, not 1
    n: int = Field(
        1, ge=1, strict=True, description="Replies wanted; fewer come when curation drops some."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, strict=True, description="0 (or below 0.01): beam search."
    )
    top_p: float | None = Field(None, gt=0, le=1, strict=True)
    max_tokens: int | None = Field(
        None, ge=1, strict=True, description="Longest reply; default: the run's."
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, strict=True, description="max_tokens, renamed."
    )
    stop: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, max_length=4
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, strict=True)
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_features(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, neutral in _NEUTRAL.items():
            if data.get(key) is not None and data[key] not in neutral:
                raise ValueError(
                    f"{key} is not supported: a chat twin writes messages; leave it out"
                )
        return {k: v for k, v in data.items() if k not in _IGNORED and k not in _NEUTRAL}

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop(cls, stop: Any) -> Any:
        return [stop] if isinstance(stop, str) else stop

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with stream: true")
        given = {self.max_tokens, self.max_completion_tokens} - {None}
        if len(given) > 1:
            raise ValueError("max_tokens and max_completion_tokens differ: send one of them")
        return self

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def sampling(self) -> dict[str, Any]:
        """`Suggester.suggest` arguments: temperature 0 is beam search, None the run's own."""
        # a temperature this close to 0 divides the logits into infinities: it means greedy
        greedy = self.temperature is not None and self.temperature < MIN_TEMPERATURE
        options: dict[str, Any] = {"greedy": greedy, "seed": self.seed}
        if self.temperature is not None and not greedy:
            options["temperature"] = self.temperature
        if self.top_p is not None:
            options["top_p"] = self.top_p
        return options


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


class ModelCard(BaseModel):
    id: str = Field(examples=["twinchat/Sam"])
    object: Literal["model"] = "model"
    created: int = Field(description="When the server started, in Unix seconds.")
    owned_by: Literal["twinchat"] = "twinchat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def model_list(speakers: Sequence[str], created: int) -> ModelList:
    return ModelList(data=[ModelCard(id=PREFIX + s, created=created) for s in speakers])


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "content_filter"]


class Usage(BaseModel):
    prompt_tokens: int = Field(description="The chat as the model read it, and the speaker name.")
    completion_tokens: int = Field(description="Tokens of every choice's text.")
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ErrorDetail(BaseModel):
    message: str = Field(description="What is wrong, in one line that names the fix.")
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail


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
