"""What the benchmarks run on: the bundled example, prepared, and FLAN-T5-shaped models.

No weights are downloaded: a FLAN-T5 shape is the published config of google/flan-t5-* (its
layers, widths and 32,128-token vocabulary), randomly initialised, with a SentencePiece-style
unigram tokenizer trained on the chat (FLAN-T5's own cannot be downloaded here), its vocabulary
filled up to the model's with `<extra_id_N>` tokens as FLAN-T5's is, so every id the model can
produce has a token.
"""

from __future__ import annotations

import json
from pathlib import Path

SHAPES = {  # the published configs of google/flan-t5-*
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12),
    "large": dict(d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16),
}
VOCABULARY = 32_128


def prepared(work: Path) -> Path:
    """The bundled example, prepared by twinchat into `work/data` (once)."""
    from twinchat.data.options import PrepareOptions
    from twinchat.data.prepare import prepare

    data = work / "data"
    if not (data / "train.jsonl").exists():
        prepare(["bundled:ubuntu-irc"], data, PrepareOptions(force=True))
    return data


def flan_t5_shaped(folder: Path, shape: str, data: Path) -> Path:
    """A randomly initialised FLAN-T5-shaped model and a unigram tokenizer trained on the chat."""
    if (folder / "config.json").exists():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import UnigramTrainer
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    texts = []
    for line in (data / "messages.jsonl").open(encoding="utf-8"):
        message = json.loads(line)
        texts.append(f"{message['sender']}: {message['text']}")
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence(  # like FLAN-T5: no newline in the vocabulary
        [normalizers.NFKC(), normalizers.Replace("\n", " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(
        vocab_size=8000, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    fast = T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        extra_ids=VOCABULARY - tokenizer.get_vocab_size(), model_max_length=512,
    )  # fmt: skip
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=VOCABULARY, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **SHAPES[shape],
    )  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
