"""Benchmark `twinchat train`'s settings against the reference notebooks' settings.

Run it by hand from the repository root::

    python benchmarks/train.py                    # flan-t5-small shape, 128 examples, on the CPU
    python benchmarks/train.py --examples 64      # quicker
    python benchmarks/train.py --shape base --examples 2000   # on a GPU: flan-t5-base, bf16

Both sides train the same randomly initialised FLAN-T5-shaped model (`--shape`: the real
model's layers, widths and 32,128-token vocabulary; no weights are downloaded) on the bundled
example, prepared by `twinchat prepare`: one epoch over the same `--examples` training examples,
tokenized once. They are whole batches drawn at random (seeded) from the length-grouped order
of a full epoch, so twinchat's padding in the sample is what it is over the whole dataset (a
plain random sample is sparser in length, so padded more):

* **twinchat**: the settings `twinchat train` picks with `configs/flan-t5-<shape>.yaml`: its
  batch size, each batch padded to its own longest example, batches grouped by length, bf16 on
  GPUs that have it; built by twinchat's own training functions.
* **reference**: what the reference notebooks did: fp32, batch 4, every input padded to 512
  tokens and every reply to 100, batches in random order.

The tokenizer is a SentencePiece unigram model trained here on the chat (FLAN-T5's own cannot
be downloaded here), so absolute token counts differ a little from FLAN-T5's; both sides see
the same ones. Timing runs from the first step's start to the last step's end. A token counts
as real when it is not padding, in the input or in the labels; the table shows real tokens and
examples per second, the share of computed positions that were padding, and the ratio
twinchat / reference. Both sides do the same work (the reference cuts replies at 100 tokens,
twinchat at 128: the real token counts show the difference). Goal on a CPU: at least 3× real
tokens per second.

On a GPU it also prints model FLOPs utilisation (6 × parameters × real tokens per second over
`--peak-tflops`) and the projected time of the reference job, 30,500 examples × 5 epochs, at
each side's examples per second.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from subjects import SHAPES, flan_t5_shaped, prepared

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {"batch_size": 4, "source": 512, "target": 100}
REFERENCE_JOB = 30_500 * 5  # examples × epochs of the reference FLAN-T5-Large run
IGNORE = -100


@dataclass
class Result:
    name: str
    steps: int
    seconds: float
    examples: int
    real: int
    computed: int

    @property
    def tokens_per_second(self) -> float:
        return self.real / self.seconds

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds

    @property
    def padding(self) -> float:
        return 1 - self.real / self.computed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--examples", type=int, default=128, help="examples each side trains on")
    parser.add_argument("--batch-size", type=int, help="twinchat's batch (default: the preset's)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU peak (H100 bf16)")
    parser.add_argument("--workdir", type=Path, help="keep the data and model here")
    options = parser.parse_args()

    warnings.filterwarnings("ignore")
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="twinchat-bench-train-"))
    try:
        data = prepared(work)
        model = flan_t5_shaped(work / f"flan-t5-{options.shape}", options.shape, data)
        results = [
            _run_twinchat(work, data, model, options),
            _run_reference(work, data, model, options),
        ]
        _report(results, model, options)
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


class Counter:
    """Wraps a collator: real and computed tokens of every batch, in order."""

    def __init__(self, collate: Any):
        self.collate = collate
        self.batches: list[tuple[int, int, int]] = []

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collate(features)
        real = int(batch["attention_mask"].sum()) + int((batch["labels"] != IGNORE).sum())
        computed = batch["input_ids"].numel() + batch["labels"].numel()
        self.batches.append((len(features), real, computed))
        return batch


def _clock() -> Any:
    """A callback that times the steps, from the first one's start to the last one's end."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None
            self.end = 0.0
            self.steps = 0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.start is None:
                self.start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end, self.steps = time.perf_counter(), state.global_step

    return Clock()


def _train(name: str, trainer: Any, counter: Counter, clock: Any) -> Result:
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(clock)
    trainer.train()
    timed = counter.batches
    return Result(
        name=name,
        steps=clock.steps,
        seconds=clock.end - (clock.start or clock.end),
        examples=sum(b[0] for b in timed),
        real=sum(b[1] for b in timed),
        computed=sum(b[2] for b in timed),
    )


def _twinchat_parts(work: Path, data: Path, model: Path, options: Any) -> tuple[Any, ...]:
    """What `twinchat train --config configs/flan-t5-SHAPE.yaml` builds, from its own functions."""
    from twinchat.data.formats import format_for
    from twinchat.models import family_of, load_config, load_model, load_tokenizer
    from twinchat.training import train as training

    config = training.load_config(ROOT / "configs" / f"flan-t5-{options.shape}.yaml", {})
    config = replace(config, model=str(model), eval_every=1_000_000, epochs=1)
    if options.batch_size:
        config = replace(config, batch_size=options.batch_size)
    family = family_of(load_config(config.model))
    tokenizer = load_tokenizer(config.model, family)
    files = {"train": str(data / "train.jsonl")}
    run = work / "run-twinchat"
    shutil.rmtree(run, ignore_errors=True)
    splits = training._tokenized(files, run, format_for(family, tokenizer), tokenizer, config)
    splits["train"] = splits["train"].select(_whole_batches(splits["train"], config, options))
    precision = training._precision(family)
    args = training._arguments(run, config, family, precision, False, len(splits["train"]))
    args.save_strategy = "no"
    weights = load_model(config.model, family, tokenizer)
    return config, family, tokenizer, splits, args, weights, training


def _whole_batches(dataset: Any, config: Any, options: Any) -> list[int]:
    """`--examples` examples as whole batches drawn at random from twinchat's epoch order: a
    random subset alone would be sparser in length than the full set, so padded more."""
    import random

    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    size = config.batch_size
    sampler = LengthGroupedSampler(
        size, lengths=list(dataset["length"]), generator=torch.Generator().manual_seed(0)
    )
    order = list(sampler)
    batches = [order[i : i + size] for i in range(0, len(order) - size + 1, size)]
    chosen = random.Random(0).sample(batches, min(len(batches), max(1, options.examples // size)))
    return [index for batch in chosen for index in batch]


def _run_twinchat(work: Path, data: Path, model: Path, options: Any) -> Result:
    from transformers import DataCollatorForSeq2Seq

    config, family, tokenizer, splits, args, weights, training = _twinchat_parts(
        work, data, model, options
    )
    counter = Counter(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE))
    trainer = training._trainer_class(family)(
        model=weights, args=args, train_dataset=splits["train"], data_collator=counter
    )
    print(f"twinchat: batch {config.batch_size}, padded per batch, grouped by length, "
          f"{'bf16' if args.bf16 else 'fp32'}", flush=True)  # fmt: skip
    return _train("twinchat", trainer, counter, _clock())


def _run_reference(work: Path, data: Path, model: Path, options: Any) -> Result:
    import torch
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    _, _, tokenizer, splits, _, weights, _ = _twinchat_parts(work, data, model, options)
    pad = tokenizer.pad_token_id

    def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
        source, target = REFERENCE["source"], REFERENCE["target"]
        ids = [f["input_ids"][:source] + [pad] * (source - len(f["input_ids"])) for f in features]
        labels = [f["labels"][:target] + [IGNORE] * (target - len(f["labels"])) for f in features]
        ids_tensor = torch.tensor(ids)
        return {
            "input_ids": ids_tensor,
            "attention_mask": (ids_tensor != pad).long(),
            "labels": torch.tensor(labels),
        }

    counter = Counter(collate)
    args = Seq2SeqTrainingArguments(
        output_dir=str(work / "run-reference"),
        per_device_train_batch_size=REFERENCE["batch_size"],
        learning_rate=3e-4,
        num_train_epochs=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        disable_tqdm=True,
        logging_strategy="no",
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        seed=42,
    )
    trainer = Seq2SeqTrainer(
        model=weights, args=args, train_dataset=splits["train"], data_collator=counter
    )
    print("reference: batch 4, padded to 512 / 100, random order, fp32", flush=True)
    return _train("reference", trainer, counter, _clock())


def _report(results: list[Result], model: Path, options: Any) -> None:
    import torch

    ours, reference = results
    print()
    print(f"flan-t5-{options.shape} shape, random init, bundled example; "
          f"{'GPU ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    header = (
        f"{'':10} {'steps':>6} {'seconds':>8} {'examples/s':>11} {'real tok/s':>11} {'padding':>8}"
    )
    print(header)
    for r in results:
        print(f"{r.name:10} {r.steps:>6} {r.seconds:>8.1f} {r.examples_per_second:>11.2f} "
              f"{r.tokens_per_second:>11.1f} {r.padding:>8.1%}")  # fmt: skip
    print(f"{'ratio':10} {'':>6} {'':>8} "
          f"{ours.examples_per_second / reference.examples_per_second:>10.2f}× "
          f"{ours.tokens_per_second / reference.tokens_per_second:>10.2f}×")  # fmt: skip
    if not torch.cuda.is_available():
        return
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    from transformers import T5ForConditionalGeneration

    params = sum(p.numel() for p in T5ForConditionalGeneration(config).parameters())
    for r in results:
        mfu = 6 * params * r.tokens_per_second / (options.peak_tflops * 1e12)
        hours = REFERENCE_JOB / r.examples_per_second / 3600
        print(f"{r.name}: MFU {mfu:.1%} of {options.peak_tflops:g} TFLOPS; "
              f"the reference job (30,500 × 5 epochs) at this rate: {hours:.1f} h "
              f"with flan-t5-{options.shape}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
