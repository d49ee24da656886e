"""The transformers backend: `generate` with a logits processor that heals the typed tail, and
one teacher-forced forward pass for scores.

A seq2seq model's encoding of the conversation is kept and reused while the conversation stays
the same: a user typing a reply asks for a completion at every keystroke, and a suggestion's
draws and scoring pass all read the same context (encoding 150 tokens costs more than decoding
a few)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinchat.backends import Prompt, Speller
from twinchat.formats import SEQ2SEQ, ChatFormat

if TYPE_CHECKING:
    from twinchat.suggest import Sampling


class HFBackend:
    """A transformers model (seq2seq or causal) in evaluation mode."""

    name = "hf"

    def __init__(self, model: Any, tokenizer: Any, chat_format: ChatFormat):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.format = chat_format
        self.end = tokenizer.convert_tokens_to_ids(chat_format.end)
        self._encoded: tuple[tuple[int, ...], Any] | None = None

    def seed(self, seed: int) -> None:
        import torch

        torch.manual_seed(seed)

    def generate(
        self,
        prompt: Prompt,
        count: int,
        greedy: bool,
        settings: Sampling,
        speller: Speller | None,
    ) -> list[list[int]]:
        import torch

        options: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "num_return_sequences": count,
            "eos_token_id": self.end,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if greedy:
            options.update(do_sample=False, num_beams=count)
        else:
            options.update(do_sample=True, top_p=settings.top_p, temperature=settings.temperature)
        if prompt.tail and speller is not None:
            from transformers import LogitsProcessorList

            spell = _Spell(speller, prompt.tail, self._start(prompt))
            options["logits_processor"] = LogitsProcessorList([spell])
        if self.format.family == SEQ2SEQ:
            start = self.model.config.decoder_start_token_id
            options["decoder_input_ids"] = torch.tensor([[start, *prompt.forced]])
            inputs = self._encoded_inputs(prompt, rows=1)
        else:
            ids = torch.tensor([prompt.context + prompt.forced])
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        with torch.no_grad():
            output = self.model.generate(**inputs, **options)
        new = output[:, self._start(prompt) :]
        return [_until(row.tolist(), self.end, self.tokenizer.pad_token_id) for row in new]

    def _encoded_inputs(self, prompt: Prompt, rows: int) -> dict[str, Any]:
        """The seq2seq model's inputs with the conversation already encoded, for `rows` rows;
        encoded again only when the conversation changed."""
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        context = tuple(prompt.context)
        if self._encoded is None or self._encoded[0] != context:
            ids = torch.tensor([context])
            with torch.no_grad():
                hidden = self.model.get_encoder()(input_ids=ids).last_hidden_state
            self._encoded = (context, hidden)
        hidden = self._encoded[1].expand(rows, -1, -1)
        # a new output object each call: generate expands its tensors for beams in place
        return {
            "encoder_outputs": BaseModelOutput(last_hidden_state=hidden),
            "attention_mask": torch.ones(hidden.shape[:2], dtype=torch.long),
        }

    def _start(self, prompt: Prompt) -> int:
        """Where generated tokens begin in the sequences `generate` returns."""
        if self.format.family == SEQ2SEQ:
            return 1 + len(prompt.forced)
        return len(prompt.context) + len(prompt.forced)

    def score(self, prompt: Prompt, sequences: list[list[int]]) -> list[float]:
        import torch

        if not sequences:
            return []
        width = max(len(s) for s in sequences) or 1
        pad = self.tokenizer.pad_token_id or 0
        generated = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
        rows = len(sequences)
        with torch.no_grad():
            if self.format.family == SEQ2SEQ:
                start = self.model.config.decoder_start_token_id
                head = torch.tensor([[start, *prompt.forced]]).repeat(rows, 1)
                decoder = torch.cat([head, generated[:, :-1]], dim=1)
                # the same encoding as `generate` read, so scores rank what it drew
                inputs = self._encoded_inputs(prompt, rows)
                logits = self.model(**inputs, decoder_input_ids=decoder).logits
            else:
                head = torch.tensor([prompt.context + prompt.forced]).repeat(rows, 1)
                ids = torch.cat([head, generated], dim=1)
                attention = torch.cat([torch.ones_like(head), mask], dim=1)
                logits = self.model(input_ids=ids, attention_mask=attention).logits[:, :-1]
        logits = logits[:, head.shape[1] - 1 :].float()
        chosen = logits.log_softmax(-1).gather(-1, generated.unsqueeze(-1)).squeeze(-1)
        totals = (chosen * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        return totals.tolist()


class _Spell:
    """A logits processor: while the generated text is shorter than `tail`, allow only tokens
    that keep it consistent with `tail`."""

    def __init__(self, speller: Speller, tail: str, start: int):
        self.speller = speller
        self.tail = tail
        self.start = start

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        for row in range(input_ids.shape[0]):
            spelled = self.speller.spelled(input_ids[row, self.start :].tolist())
            if len(spelled) >= len(self.tail):
                continue
            allowed = self.speller.allowed(self.tail[len(spelled) :])
            mask = torch.full_like(scores[row], float("-inf"))
            mask[allowed] = 0
            scores[row] = scores[row] + mask
        return scores


def _until(ids: list[int], end: int, pad: int | None) -> list[int]:
    """Generated ids up to and including the end token; padding after it dropped."""
    if end in ids:
        return ids[: ids.index(end) + 1]
    return [t for t in ids if t != pad] if pad is not None and pad != end else ids


def load_weights(folder: Path, family: str, adapter: bool) -> Any:
    """A run's model: the full weights, or its LoRA adapter on its base, merged."""
    if adapter:
        from peft import AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM

        loader = AutoPeftModelForSeq2SeqLM if family == SEQ2SEQ else AutoPeftModelForCausalLM
    else:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        loader = AutoModelForSeq2SeqLM if family == SEQ2SEQ else AutoModelForCausalLM
    from twinchat.models import quiet_loading

    with quiet_loading():
        model = loader.from_pretrained(str(folder))
        # The adapter's extra matrices cost every generated token; merged in memory, the model
        # gives the same outputs at the base model's speed.
        return model.merge_and_unload() if adapter else model
