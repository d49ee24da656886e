"""Tiny models built from a config, with tokenizers built here from chat-like text, saved to a
folder: tests load them through the same `from_pretrained` code as real models.

`make_tiny_t5` behaves like FLAN-T5 (SentencePiece unigram, no newline in the vocabulary,
gated-GELU, untied embeddings); `make_tiny_llama` like SmolLM2 (byte-level BPE, tied embeddings).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from pathlib import Path

NAMES = ["Ana", "Sam", "Jo", "Kim", "Lee"]
WORDS = [
    "hi",
    "hello",
    "hey",
    "yes",
    "no",
    "maybe",
    "sure",
    "ok",
    "okay",
    "thanks",
    "see",
    "you",
    "there",
    "tomorrow",
    "today",
    "tonight",
    "at",
    "the",
    "park",
    "hike",
    "beach",
    "cafe",
    "snacks",
    "bring",
    "meet",
    "plan",
    "saturday",
    "sunday",
    "morning",
    "evening",
    "great",
    "perfect",
    "sounds",
    "good",
    "what",
    "when",
    "where",
    "who",
    "how",
    "are",
    "we",
    "still",
    "on",
    "for",
    "a",
    "I",
    "will",
    "can't",
    "wait",
    "bye",
    "later",
]


def chat_texts(count: int = 400, seed: int = 0) -> list[str]:
    """Deterministic chat-like lines, `Name: words`, with digits and punctuation."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
        tail = rng.choice(["", "?", "!", f" at {rng.randint(1, 12)}", ", ok?", " :)"])
        lines.append(f"{rng.choice(NAMES)}: {words}{tail}")
    return lines


def make_tiny_t5(folder: Path, texts: list[str] | None = None) -> Path:
    """A FLAN-T5-shaped model (d_model 32, 2+2 layers) and a unigram tokenizer without "\\n"
    (the same one on every run)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    tokenizer = Tokenizer(models.Unigram(_unigram_vocab(texts or chat_texts()), unk_id=2))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace("\n", " "), normalizers.Replace("  ", " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    fast = T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        extra_ids=0, model_max_length=512,
    )  # fmt: skip
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(fast), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, relative_attention_num_buckets=8, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return Path(folder)


def _unigram_vocab(texts: list[str]) -> list[tuple[str, float]]:
    """Pieces and log-frequency scores counted from `texts`: every word after "▁" and its
    prefixes (so a half-typed word has pieces of its own), punctuation, every character.

    Counted rather than trained: tokenizers' UnigramTrainer gives a different vocabulary on
    each run, and with it a different memorized model."""
    counts: Counter[str] = Counter()
    for line in texts:
        for word in line.split():
            first, *rest = re.findall(r"[\w']+|[^\w\s]+", word)
            piece = "\u2581" + first
            counts.update(piece[:end] for end in range(1, len(piece) + 1))
            counts.update(rest)
            counts.update(word)
    total = sum(counts.values())
    pieces = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    special = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    return special + [(piece, math.log(count / total)) for piece, count in pieces]


def make_tiny_llama(folder: Path, texts: list[str] | None = None, head_size: int = 8) -> Path:
    """A Llama-shaped causal LM (hidden 32, 2 layers, 4 heads sharing 2 key-value heads) and a
    byte-level BPE tokenizer. `head_size` 16 gives 2 heads sharing 1: onnxruntime's attention
    takes heads of 16 or more only."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts or chat_texts(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=512,
    )  # fmt: skip
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=32 // head_size, num_key_value_heads=16 // head_size,
        max_position_embeddings=512,
        tie_word_embeddings=True, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return Path(folder)
