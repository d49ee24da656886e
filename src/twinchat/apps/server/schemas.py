"""The bodies of twinchat's own routes (`/v1/suggest`, `/v1/complete`, ...), and their caps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from twinchat.data.example import Turn

MAX_N = 10
"""Most candidates one /v1/suggest call may ask for (greedy search keeps 3n beams)."""
MAX_NEW_TOKENS = 128
MAX_COMPLETE_TOKENS = 32
MAX_SENDER_CHARS = 100
MIN_TEMPERATURE = 0.01
"""Below this, sampling divides the logits into infinities; ask for `greedy` instead."""


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


class Limits:
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
