"""Reply candidates from a trained run (or an untuned model), as anyone in the chat.

    from twinchat.suggest import Suggester
    suggester = Suggester.load("runs/me")
    for candidate in suggester.suggest(turns, as_="Jamie", n=5):
        print(candidate.score, candidate.text)

The conversation is rendered with the format saved in the run, so inference cannot drift from
training; a speaker name (and any text already typed) is forced as the start of the reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinchat.errors import TwinchatError
from twinchat.example import Turn
from twinchat.formats import SEQ2SEQ, ChatFormat, format_for


@dataclass(frozen=True)
class Candidate:
    """One suggested reply; `score` is the mean log-probability of its tokens."""

    text: str
    speaker: str | None
    score: float


class Suggester:
    """A model, its tokenizer and its chat format, ready to suggest replies."""

    def __init__(
        self, model: Any, tokenizer: Any, chat_format: ChatFormat, speakers: Sequence[str] = ()
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.format = chat_format
        self.speakers = list(speakers)

    @classmethod
    def load(cls, run: str | Path) -> Suggester:
        """A trained run: merged weights when there are some, else the adapter on its base."""
        run = Path(run)
        described = run / "twinchat.json"
        if not described.is_file():
            raise TwinchatError(f"{run} is not a finished twinchat run (no twinchat.json)")
        description = json.loads(described.read_text(encoding="utf-8"))
        chat_format = ChatFormat.from_dict(description["format"])
        folder = run / description["merged"] if description.get("merged") else run
        model = _load_weights(
            folder,
            chat_format.family,
            adapter=not description.get("merged") and description.get("adapter"),
        )
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        return cls(model, tokenizer, chat_format, list(description.get("speakers", {})))

    @classmethod
    def from_model(cls, spec: str) -> Suggester:
        """An untuned model, rendered with the format its family would be trained with."""
        from twinchat.models import family_of, load_config, load_model, load_tokenizer

        family = family_of(load_config(spec))
        tokenizer = load_tokenizer(spec, family)
        return cls(load_model(spec, family, tokenizer), tokenizer, format_for(family, tokenizer))

    def suggest(
        self,
        messages: Sequence[Turn],
        as_: str | None = None,
        prefix: str = "",
        n: int = 5,
        greedy: bool = False,
        max_new_tokens: int = 48,
        seed: int | None = None,
    ) -> list[Candidate]:
        """`n` candidates for the next message, best first."""
        import torch

        if seed is not None:
            torch.manual_seed(seed)
        forced = self.format.reply_prefix(as_, prefix)
        inputs = self._inputs(messages, forced)
        settings: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "num_return_sequences": n,
            "eos_token_id": self.tokenizer.convert_tokens_to_ids(self.format.end),
            "pad_token_id": self.tokenizer.pad_token_id,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        if greedy:
            settings.update(do_sample=False, num_beams=max(n, 1))
        else:
            settings.update(do_sample=True, top_p=0.9, temperature=0.8)
        with torch.no_grad():
            output = self.model.generate(**inputs, **settings)
        return self._candidates(output, inputs, forced, as_)

    def _inputs(self, messages: Sequence[Turn], forced: str) -> dict[str, Any]:
        source = self.format.source(messages)
        if self.format.family == SEQ2SEQ:
            encoded = self.tokenizer(source, add_special_tokens=False, return_tensors="pt")
            start = self.model.config.decoder_start_token_id
            typed = self.tokenizer(forced, add_special_tokens=False)["input_ids"] if forced else []
            import torch

            encoded["decoder_input_ids"] = torch.tensor([[start, *typed]])
            return dict(encoded)
        return dict(self.tokenizer(source + forced, return_tensors="pt"))

    def _candidates(
        self, output: Any, inputs: dict[str, Any], forced: str, as_: str | None
    ) -> list[Candidate]:
        prompt = inputs.get("decoder_input_ids", inputs["input_ids"]).shape[1]
        scores = self.model.compute_transition_scores(
            output.sequences,
            output.scores,
            beam_indices=getattr(output, "beam_indices", None),
            normalize_logits=True,
        )
        results = []
        for sequence, token_scores in zip(output.sequences, scores, strict=True):
            new = sequence[prompt:]
            text = self.tokenizer.decode(new, skip_special_tokens=False)
            speaker, reply = self.format.parse_reply(forced + text)
            real = token_scores[token_scores > float("-inf")]
            score = float(real.mean()) if len(real) else 0.0
            results.append(Candidate(reply.strip(), as_ or speaker, score))
        return sorted(results, key=lambda c: -c.score)


def _load_weights(folder: Path, family: str, adapter: bool) -> Any:
    if adapter:
        from peft import AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM

        loader = AutoPeftModelForSeq2SeqLM if family == SEQ2SEQ else AutoPeftModelForCausalLM
    else:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        loader = AutoModelForSeq2SeqLM if family == SEQ2SEQ else AutoModelForCausalLM
    return loader.from_pretrained(str(folder))
