"""Before training: can the model's tokenizer carry the chat's text?

A model never learns what its tokenizer turns into `<unk>`: a FLAN-T5 fine-tuned on a chat in
Russian or emoji writes none of it, and nothing says so. `twinchat train` measures the loss on a
sample of the replies and contexts it is about to train on, before loading any weights, and
stops with one line when the replies lose more than `max_lost` of their characters, or a
speaker's name or the message boundary is lost, unless told `--allow-lossy`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinchat.data.coverage import LIMIT, Coverage, measure, shown
from twinchat.data.example import Example
from twinchat.data.formats import ChatFormat
from twinchat.errors import TwinchatError

MAX_LOST = 0.005
"""Share of reply characters a tokenizer may lose before training refuses it."""
ALTERNATIVES = (
    "bundled:smollm2-135m, a byte-level causal LM such as Qwen/Qwen2.5-0.5B-Instruct, "
    "or an mT5 model such as google/mt5-base"
)


@dataclass(frozen=True)
class TextCheck:
    """What the tokenizer loses of the replies, and of everything the model reads."""

    replies: Coverage
    everything: Coverage
    allowed: bool = False  # trained although too lossy (--allow-lossy)

    def too_lossy(self, max_lost: float = MAX_LOST) -> bool:
        replies = self.replies
        return bool(
            replies.total.character_share > max_lost
            or replies.lost_names
            or replies.boundary_problem
        )

    def line(self) -> str:
        """The figure for the training's opening block."""
        total = self.replies.total
        if not total.lost_characters:
            return f"no reply characters lost ({total.characters:,} measured)"
        top = ", ".join(f"{shown(c)} ×{n:,}" for c, n in total.top[:3])
        return (
            f"{total.character_share:.2%} of reply characters lost "
            f"({total.lost_characters:,} of {total.characters:,}; top: {top})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "replies": self.replies.to_dict(),
            "everything": self.everything.to_dict(),
            "allowed_lossy": self.allowed,
        }


def check_text(
    tokenizer: Any,
    chat_format: ChatFormat,
    train_file: str | Path,
    model: str,
    *,
    max_lost: float = MAX_LOST,
    allow_lossy: bool = False,
    limit: int = LIMIT,
) -> TextCheck:
    """Measure the tokenizer on a sample of `train_file`'s examples.

    Raises:
        TwinchatError: the tokenizer loses too much and `allow_lossy` is not set; the one line
            says how much, which characters, and which models would not lose them.
    """
    examples = sample_examples(train_file, limit)
    replies = measure(
        tokenizer, [(e.speaker, e.text) for e in examples], chat_format=chat_format, limit=limit
    )
    everything = measure(tokenizer, examples, limit=None)
    check = TextCheck(replies, everything, allowed=allow_lossy)
    if check.too_lossy(max_lost) and not allow_lossy:
        raise TwinchatError(_refusal(check, model, examples, limit))
    return check


def sample_examples(path: str | Path, limit: int) -> list[Example]:
    """Up to `limit` examples spread evenly over the file (early and late chats alike)."""
    with open(path, "rb") as handle:
        total = sum(1 for _ in handle)
    step = max(1, total // max(1, limit))
    examples = []
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i % step == 0 and len(examples) < limit:
                examples.append(Example.from_dict(json.loads(line)))
    return examples


def _refusal(check: TextCheck, model: str, examples: list[Example], limit: int) -> str:
    replies = check.replies
    total = replies.total
    parts = []
    if total.lost_characters:
        top = ", ".join(f"{shown(c)} ×{n:,}" for c, n in total.top[:5])
        parts.append(
            f"loses {total.character_share:.1%} of the reply characters "
            f"({total.lost_characters:,} of {total.characters:,}; top: {top})"
        )
    if replies.lost_names:
        parts.append(f"loses speaker names ({', '.join(replies.lost_names[:3])})")
    if replies.boundary_problem:
        parts.append(f"loses message boundaries ({replies.boundary_problem})")
    bundled = _bundled_loss(model, examples, limit)
    return (
        f"the tokenizer of {model} {'; '.join(parts)}; train a model that reads this chat: "
        f"{ALTERNATIVES}{bundled}; or pass --allow-lossy to train anyway"
    )


def _bundled_loss(model: str, examples: list[Example], limit: int) -> str:
    """The bundled model's own loss on the same replies, when it is already converted."""
    from twinchat import bundled

    if model.startswith(bundled.PREFIX):
        return ""
    folder = bundled.cache_root() / "models" / "smollm2-135m"
    if not (folder / "tokenizer.json").exists():
        return ""
    from transformers import AutoTokenizer

    from twinchat.data.formats import format_for
    from twinchat.models import CAUSAL

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    pairs = [(e.speaker, e.text) for e in examples]
    replies = measure(tokenizer, pairs, chat_format=format_for(CAUSAL, tokenizer), limit=limit)
    return f" (bundled:smollm2-135m loses {replies.total.character_share:.1%} here)"
