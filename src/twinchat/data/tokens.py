"""Token counts of a dataset, to choose `--max-source-tokens` and `--max-target-tokens`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twinchat.data.example import Example
from twinchat.data.stats import Lengths
from twinchat.errors import TwinchatError, reason


def load_tokenizer(name: str) -> Any:
    """A Hugging Face tokenizer from a hub id or a local folder.

    Raises:
        TwinchatError: transformers is missing, or the tokenizer cannot be found or fetched.
    """
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TwinchatError(
            "--tokenizer needs transformers; install it with: pip install 'twinchat[ml]'"
        ) from None
    try:
        return AutoTokenizer.from_pretrained(name)
    except Exception as err:  # hub, network and file errors all mean the same to the user
        first = reason(err)
        raise TwinchatError(
            f"cannot load tokenizer '{name}' ({first[:160]}); give a local folder with "
            "tokenizer files, or check the name and your connection"
        ) from None


def token_lengths(tokenizer: Any, examples: Sequence[Example]) -> dict[str, Any]:
    """Token-length distributions of contexts (one `Sender: text` line a message) and replies."""
    context, reply = Lengths(), Lengths()
    for example in examples:
        lines = "\n".join(f"{t.sender}: {t.text}" for t in example.context)
        context.add(len(tokenizer(lines, add_special_tokens=False)["input_ids"]))
        reply.add(len(tokenizer(example.text, add_special_tokens=False)["input_ids"]))
    return {
        "tokenizer": getattr(tokenizer, "name_or_path", str(tokenizer)),
        "sampled_examples": len(examples),
        "context_tokens": context.summary(),
        "reply_tokens": reply.summary(),
    }


def tokenizer_coverage(
    name: str, tokenizer: Any, examples: Sequence[Example], rename: Any = None
) -> dict[str, Any]:
    """What the tokenizer, as training would set it up, loses of the sampled examples: the
    figures of `twinchat.data.coverage` with a one-line `summary`; `rename` maps sender names (for
    pseudonymized datasets)."""
    from dataclasses import replace

    from twinchat.data.coverage import measure, summary
    from twinchat.data.formats import format_for
    from twinchat.models import for_training, guess_family

    family = guess_family(name, tokenizer)
    tokenizer = for_training(tokenizer, family)
    try:
        chat_format = format_for(family, tokenizer)
    except ValueError:  # no end-of-sequence token: a tokenizer training would refuse anyway
        chat_format = None
    coverage = measure(tokenizer, examples, chat_format=chat_format, limit=None)
    if rename is not None:
        coverage = replace(
            coverage,
            senders={rename(k): v for k, v in coverage.senders.items()},
            lost_names=tuple(rename(k) for k in coverage.lost_names),
        )
    return {"tokenizer": name, "family": family, "summary": summary(coverage), **coverage.to_dict()}
