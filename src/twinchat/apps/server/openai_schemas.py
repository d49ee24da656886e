"""OpenAI's chat-completions wire format: its requests, responses and error shape, as far as a
chat twin speaks it (`openai_routes` says how they map onto a `Suggester`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twinchat.apps.server.schemas import MIN_TEMPERATURE

OPENAI_PATHS = ("/v1/models", "/v1/chat/")

# Platform bookkeeping (billing, storage, abuse tracking): nothing here keeps or bills anything.
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


# --- responses -------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str = Field(examples=["twinchat/Sam"])
    object: Literal["model"] = "model"
    created: int = Field(description="When the server started, in Unix seconds.")
    owned_by: Literal["twinchat"] = "twinchat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


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
