"""Benchmark reply suggestions and typeahead: a run's transformers model (`hf`), its
CTranslate2 int8 export (`ct2`) and, for a causal model, its onnxruntime-genai int8 export
(`ort`), and the run's weights quantized to int8 as they load (`hf-int8`), each against its own
floor measured in the same run, on the bundled example's held-out conversations.

Run it by hand from the repository root (needs `pip install 'twinchat[fast]'`)::

    python benchmarks/suggest.py --smollm2-run twinchat-demo/run   # the demo's trained run
    python benchmarks/suggest.py                 # trains SmolLM2 for 3 minutes first
    python benchmarks/suggest.py --contexts 8 --models t5          # quicker
    python benchmarks/suggest.py --workdir /tmp/twinchat-bench-suggest   # keep the runs

Models, no download: a **flan-t5-small shape** (benchmarks/subjects.py: FLAN-T5-small's layers,
widths and 32,128-token vocabulary, random weights; a run by one training step) and
**SmolLM2-135M-Instruct**, the bundled model, LoRA-trained on the example (a one-step run writes
48 tokens of noise every time, so the run is trained for `--minutes`, or given). Each run is
exported with `twinchat export --to ct2 --quantization int8`, SmolLM2's also `--to ort`. Every
backend runs on every core.

**Suggestions**: for each held-out conversation, `suggest(context, as_=the real replier, n=5,
seed=i)` as a user calls it: candidates drawn, curated, drawn again only for what is missing.
**Typeahead**: a user types a 30-character reply to a ~150-token held-out conversation, one
keystroke at a time; a keystroke still matching the suggestion on show is served from it, as
the page does; any other asks for the greedy completion of up to 8 tokens (`complete`).

**Floors**, measured on the same model and engine before the calls (the fastest of several
repetitions): reading a 150-token prompt (per token), one decoding step at batch 1 and at
batch 7. Each call's own floor is what its
work costs at those rates: the prompt tokens not read by an earlier call (the longest common
prefix with the previous prompt is free; not for CTranslate2's Translator, which keeps nothing
between calls and must encode the conversation again each time), and as many steps as its
longest row took, at its batch size. `× floor` is the latency over that floor: 1.0 is an
engine doing nothing it need not.
onnxruntime-genai cannot copy a read prompt to other rows: its floor for n rows is the cheaper
of reading the prompt once and drawing the rows one after the other, or reading it n times and
drawing them as a batch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from subjects import flan_t5_shaped, prepared

TYPED = 30
"""Characters of the reply typed in the typeahead case."""
CONTEXT_TOKENS = 150
ROWS = 7
"""The batch a 5-candidate suggestion draws: 5 and the share curation may drop."""
GOALS = {
    "suggest": {"hf": 4.0, "hf-int8": 4.0, "ct2": 1.5, "ort": 1.5},
    "typing": {"hf": 0.1, "hf-int8": 0.1, "ct2": 0.1, "ort": 0.1},
}
"""p90 goals in seconds (issue: suggestions at the speed of typing)."""


@dataclass
class Subject:
    name: str
    run: Path
    exports: dict[str, Path]


@dataclass
class Floor:
    """An engine's cost of reading prompt tokens and of decoding steps, in seconds."""

    per_token: float
    step_1: float
    step_n: float
    shared_prompt: bool = True
    """Whether the engine reads a prompt once for all the rows of a batch."""
    kept_prompt: bool = True
    """Whether the engine can keep a read prompt between calls. CTranslate2's Translator
    cannot: each call encodes the whole conversation again, and its floor is charged for it."""

    def of(self, new_tokens: int, prompt_tokens: int, steps: int, rows: int) -> float:
        if not self.kept_prompt:
            new_tokens = prompt_tokens
        step = self.step_1 + (self.step_n - self.step_1) * (rows - 1) / (ROWS - 1)
        batched = new_tokens * self.per_token + steps * step
        if self.shared_prompt or rows == 1:
            return batched
        one_by_one = new_tokens * self.per_token + rows * steps * self.step_1
        return min(one_by_one, batched + (rows - 1) * new_tokens * self.per_token)


@dataclass
class Recorder:
    """Wraps a backend's `generate` to note each call's work: new prompt tokens, steps, rows."""

    backend: Any
    calls: list[tuple[int, int, int, int]] = field(default_factory=list)
    previous: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.generate = self.backend.generate
        self.backend.generate = self._generate

    def _generate(self, prompt: Any, count: int, greedy: bool, *args: Any, **kwargs: Any) -> Any:
        draws = self.generate(prompt, count, greedy, *args, **kwargs)
        head = prompt.context + prompt.forced
        new = len(head) - _common(self.previous, head)
        self.previous = head
        steps = max((len(d.ids) for d in draws), default=0)
        self.calls.append((max(new, 1), len(head), steps, count))
        return draws

    def floor(self, floor: Floor, since: int) -> float:
        return sum(floor.of(*call) for call in self.calls[since:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contexts", type=int, default=20, help="held-out conversations")
    parser.add_argument("--models", nargs="+", default=["t5", "smollm2"], choices=["t5", "smollm2"])
    parser.add_argument("--smollm2-run", type=Path, help="a trained SmolLM2 run (the demo's)")
    parser.add_argument("--minutes", type=float, default=3, help="SmolLM2 training otherwise")
    parser.add_argument("--workdir", type=Path, help="keep the data, runs and exports here")
    options = parser.parse_args()

    warnings.filterwarnings("ignore")
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="twinchat-bench-suggest-"))
    try:
        data = prepared(work)
        examples = _held_out(data, options.contexts)
        rows = []
        for key in options.models:
            subject = _subject(key, work, data, options)
            rows += _measure(subject, data, examples)
        _report(rows)
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _subject(key: str, work: Path, data: Path, options: argparse.Namespace) -> Subject:
    """A run of the model (trained here unless given) and its int8 export (made once)."""
    from twinchat.inference.export import export_run
    from twinchat.training.train import TrainConfig, train

    if key == "t5":
        name, model, lora = "flan-t5-small shape", flan_t5_shaped(work / "t5", "small", data), False
        limits: dict[str, Any] = {"max_steps": 1}
    else:
        name, model, lora = "SmolLM2-135M", "bundled:smollm2-135m", True
        limits = {"minutes": options.minutes, "lr": 1e-3, "batch_size": 8}
        limits.update(max_source_tokens=96, max_target_tokens=32)  # the demo's recipe
    run = options.smollm2_run if key == "smollm2" and options.smollm2_run else work / f"{key}-run"
    if run == options.smollm2_run and not (run / "twinchat.json").is_file():
        sys.exit(f"{run} is not a finished twinchat run: give a folder twinchat train wrote")
    exports = {"ct2": work / f"{key}-ct2"}
    if key == "smollm2":
        exports["ort"] = work / f"{key}-ort"
    if not (run / "twinchat.json").exists():
        print(f"{name}: training a run", flush=True)
        config = TrainConfig(
            model=str(model), lora=lora, batch_size=2, eval_every=1_000_000, eval_samples=8,
            patience=0, seed=0, **limits,
        )  # fmt: skip
        train(data, run, config)
    for to, export in exports.items():
        if not (export / "twinchat.json").exists():
            export_run(run, export, to=to, quantization="int8", force=True)
    return Subject(name, run, exports)


def _held_out(data: Path, count: int) -> list[Any]:
    """`count` held-out examples with some context, spread over the validation set."""
    from twinchat.data.example import Example

    lines = (data / "validation.jsonl").open(encoding="utf-8")
    examples = [Example.from_dict(json.loads(line)) for line in lines]
    fitting = [e for e in examples if len(e.context) >= 4]
    return fitting[:: max(1, len(fitting) // count)][:count]


def _load(folder: Path, backend: str | None = None) -> Any:
    from twinchat.inference.suggester import Suggester

    suggester = Suggester.load(folder, backend=backend)
    suggester.open_speakers = True  # held-out days bring people the run never saw
    return suggester


def _measure(subject: Subject, data: Path, examples: list[Any]) -> list[dict[str, Any]]:
    rows = []
    conversation, reply = _typing_case(_load(subject.run), data)
    for backend, folder in (
        ("hf", subject.run),
        ("hf-int8", subject.run),
        *subject.exports.items(),
    ):
        suggester = _load(folder, backend)
        print(f"{subject.name}, {backend}: floors", flush=True)
        floor = _floor(suggester, conversation)
        recorder = Recorder(suggester.backend)
        print(f"{subject.name}, {backend}: suggestions", flush=True)
        suggest, suggest_floors = _suggest_latencies(suggester, examples, recorder, floor)
        print(f"{subject.name}, {backend}: typeahead", flush=True)
        typing, typing_floors, served = _typing_latencies(
            suggester, conversation, reply, recorder, floor
        )
        rows.append(
            {"model": subject.name, "backend": backend, "floor": floor, "suggest": suggest,
             "suggest_floor": suggest_floors, "typing": typing, "typing_floor": typing_floors,
             "served": served}
        )  # fmt: skip
    return rows


def _floor(suggester: Any, example: Any) -> Floor:
    """The engine's own costs on this model: a prompt read once, a step at batch 1 and ROWS."""
    source = suggester.format.source(example.context)
    ids = suggester.tokenizer(source)["input_ids"][-CONTEXT_TOKENS:]
    measure = {"ct2": _ct2_floor, "ort": _ort_floor}.get(suggester.backend.name, _hf_floor)
    return measure(suggester, ids)


def _best(run: Any, repeats: int = 5) -> float:
    """The fastest of `repeats` runs: a floor is what the engine can do, and a run slowed by
    another process on the 2 cores says nothing about that."""
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _hf_floor(suggester: Any, ids: list[int]) -> Floor:
    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache
    from transformers.modeling_outputs import BaseModelOutput

    model = suggester.model
    seq2seq = suggester.backend.seq2seq
    prompt = torch.tensor([ids])
    start = torch.tensor([[model.config.decoder_start_token_id if seq2seq else 0]])

    def read() -> Any:
        if seq2seq:
            hidden = model.get_encoder()(input_ids=prompt).last_hidden_state
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            encoded = BaseModelOutput(last_hidden_state=hidden)
            model(encoder_outputs=encoded, decoder_input_ids=start, cache=cache)
            return cache, hidden
        cache = DynamicCache(config=model.config)
        model(input_ids=prompt, cache=cache, logits_to_keep=1)
        return cache, None

    def step(rows: int) -> float:
        cache, hidden = read()
        cache.batch_repeat_interleave(rows)
        token = torch.zeros(rows, 1, dtype=torch.long)
        lengths = cache.get_seq_length()

        def once() -> None:
            if seq2seq:
                encoded = BaseModelOutput(last_hidden_state=hidden.expand(rows, -1, -1))
                model(encoder_outputs=encoded, decoder_input_ids=token, cache=cache)
            else:
                model(input_ids=token, cache=cache)
            cache.crop(lengths - cache.get_seq_length())  # back to the prompt

        return _best(once, 10)

    with torch.inference_mode():
        return Floor(_best(read) / len(ids), step(1), step(ROWS))


def _ct2_floor(suggester: Any, ids: list[int]) -> Floor:
    model, tokens = suggester.model, suggester.tokenizer.convert_ids_to_tokens(ids)
    seq2seq = suggester.backend.seq2seq

    def run(steps: int, rows: int) -> Any:
        # greedy for one row, sampled rows sharing one reading of the prompt otherwise
        search = {"beam_size": 1, "num_hypotheses": rows, "sampling_topk": 10 if rows > 1 else 1}
        if seq2seq:
            return lambda: model.translate_batch(
                [tokens], max_decoding_length=steps, min_decoding_length=steps, **search
            )
        return lambda: model.generate_batch(
            [tokens], max_length=steps, min_length=steps, include_prompt_in_result=False,
            **search,
        )  # fmt: skip

    first = _best(run(1, 1))
    per_step = {rows: (_best(run(17, rows)) - _best(run(1, rows))) / 16 for rows in (1, ROWS)}
    return Floor(
        max(first - per_step[1], 0.0) / len(ids), per_step[1], per_step[ROWS],
        kept_prompt=not seq2seq,  # a Generator keeps its static prompt; a Translator nothing
    )  # fmt: skip


def _ort_floor(suggester: Any, ids: list[int]) -> Floor:
    import numpy as np
    import onnxruntime_genai as og

    model = suggester.model
    prompt = np.asarray([ids], dtype=np.int32)

    def generator(rows: int) -> Any:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + 64, batch_size=rows)
        return og.Generator(model, params)

    def read() -> None:
        generator(1).append_tokens(prompt)

    kept = generator(1)
    kept.append_tokens(prompt)

    def step() -> None:
        kept.append_tokens(np.asarray([[ids[-1]]], dtype=np.int32))
        kept.get_logits()
        kept.rewind_to(len(ids))

    rows = generator(ROWS)
    rows.append_tokens(np.repeat(prompt, ROWS, axis=0))
    rows.generate_next_token()  # from the prompt's logits: no forward pass
    fresh = _best(lambda: generator(1))  # setting a generator up is not reading
    return Floor(
        max(_best(read) - fresh, 0.0) / len(ids),
        _best(step, 10),
        _best(rows.generate_next_token, 10),
        shared_prompt=False,
    )


def _suggest_latencies(
    suggester: Any, examples: list[Any], recorder: Recorder, floor: Floor
) -> tuple[list[float], list[float]]:
    for example in examples[:2]:  # warm-up: first calls allocate and build caches
        suggester.suggest(example.context, as_=example.speaker, n=5, seed=0)
    latencies, floors = [], []
    for i, example in enumerate(examples):
        since = len(recorder.calls)
        recorder.previous = []  # a conversation no earlier call read
        for kept in ("cache", "sessions"):
            if hasattr(suggester.backend, kept):
                getattr(suggester.backend, kept).clear()
        start = time.perf_counter()
        suggester.suggest(example.context, as_=example.speaker, n=5, seed=i)
        latencies.append(time.perf_counter() - start)
        floors.append(recorder.floor(floor, since))
    return latencies, floors


def _typing_case(suggester: Any, data: Path) -> tuple[Any, str]:
    """The held-out example with a reply of at least 30 characters whose conversation is
    nearest to 150 tokens, and the 30 characters typed."""
    from twinchat.data.example import Example

    lines = (data / "validation.jsonl").open(encoding="utf-8")
    examples = [Example.from_dict(json.loads(line)) for line in lines]

    def distance(example: Example) -> int:
        source = suggester.format.source(example.context)
        return abs(len(suggester.tokenizer(source)["input_ids"]) - CONTEXT_TOKENS)

    best = min((e for e in examples if len(e.text) >= TYPED), key=distance)
    return best, best.text[:TYPED]


def _typing_latencies(
    suggester: Any, example: Any, reply: str, recorder: Recorder, floor: Floor
) -> tuple[list[float], list[float], int]:
    """Each keystroke's latency and floor; and how many were served from the suggestion shown."""
    # Warm up on another conversation: the first keystroke pays for reading this one.
    suggester.complete([], example.speaker, reply[:1])
    recorder.previous = []
    shown, latencies, floors, served = "", [], [], 0
    for end in range(1, len(reply) + 1):
        typed = reply[:end]
        since = len(recorder.calls)
        start = time.perf_counter()
        if shown.startswith(typed) and len(shown) > len(typed):
            served += 1  # the page shrinks the ghost text and asks nothing
        else:
            completion = suggester.complete(example.context, example.speaker, typed)
            if completion:
                shown = typed + completion
        latencies.append(time.perf_counter() - start)
        floors.append(recorder.floor(floor, since))
    return latencies, floors, served


def _common(a: list[int], b: list[int]) -> int:
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return length


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _times_floor(latencies: list[float], floors: list[float]) -> float:
    """Latency over floor, both summed over the calls that did work."""
    worked = [(t, f) for t, f in zip(latencies, floors, strict=True) if f > 0]
    return sum(t for t, _ in worked) / max(sum(f for _, f in worked), 1e-9)


def _report(rows: list[dict[str, Any]]) -> None:
    import torch

    print(f"\nCPU, {torch.get_num_threads()} threads; latency in ms")
    print("\nfloors: reading a prompt (per token), one decoding step at batch 1 and 7")
    print(f"{'model':22} {'backend':8} {'per token':>10} {'step b1':>9} {'step b7':>9}")
    for row in rows:
        f = row["floor"]
        print(f"{row['model']:22} {row['backend']:8} {f.per_token * 1e3:>10.2f} "
              f"{f.step_1 * 1e3:>9.1f} {f.step_n * 1e3:>9.1f}")  # fmt: skip
    print(f"\n{'model':22} {'backend':8} {'suggest 5 p50':>14} {'p90':>8} {'× floor':>8} "
          f"{'keystroke p50':>14} {'p90':>8} {'× floor':>8} {'served':>7}")  # fmt: skip
    for row in rows:
        s, t = row["suggest"], row["typing"]
        print(f"{row['model']:22} {row['backend']:8} {_percentile(s, .5) * 1e3:>14.0f} "
              f"{_percentile(s, .9) * 1e3:>8.0f} "
              f"{_times_floor(s, row['suggest_floor']):>7.2f}× "
              f"{_percentile(t, .5) * 1e3:>14.1f} {_percentile(t, .9) * 1e3:>8.1f} "
              f"{_times_floor(t, row['typing_floor']):>7.2f}× "
              f"{row['served']:>4}/{len(t)}")  # fmt: skip
    print()
    for row in rows:
        for kind, label in (("suggest", "suggest(n=5)"), ("typing", "keystroke")):
            p90, goal = _percentile(row[kind], 0.9), GOALS[kind][row["backend"]]
            verdict = "met" if p90 <= goal else "missed"
            print(f"{row['model']}, {row['backend']}: {label} p90 {p90 * 1e3:,.0f} ms, "
                  f"goal ≤ {goal * 1e3:,.0f} ms: {verdict}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
