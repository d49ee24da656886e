"""`train`: fine-tune a seq2seq or causal LM on a prepared dataset, fully or with LoRA.

The transformers Trainer runs the loop (checkpoints, resume, evaluation, early stopping, mixed
precision, DDP / DeepSpeed / FSDP under `accelerate launch`); this module decides its settings
and turns examples into tokens with the format of `formats.py`.

    twinchat train data/ -o runs/me --model bundled:smollm2-135m --lora
    accelerate launch -m twinchat train data/ -o runs/me --model google/flan-t5-large
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console

from twinchat.data.example import Turn
from twinchat.data.formats import ChatFormat, format_for
from twinchat.data.textcheck import TextCheck, check_text
from twinchat.data.voices import LINES, pick_voices
from twinchat.description import MAX_SOURCE_TOKENS, ContextWindow, RunDescription, Sampling
from twinchat.errors import TwinchatError
from twinchat.models import SEQ2SEQ

IGNORE = -100  # label id the loss skips
REPLY_START = "reply_start"  # held-out features: where the reply's text starts in the labels
_USER_TENSORBOARD = os.environ.get("TENSORBOARD_LOGGING_DIR")


@dataclass
class TrainConfig:
    """Everything `twinchat train` can be told; a YAML file sets these, flags override it."""

    model: str = "bundled:smollm2-135m"
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    merge: bool = False
    """With LoRA, also write the merged weights, ready for serving."""
    epochs: float = 3.0
    max_steps: int = -1
    """Stop after this many optimizer steps; -1 means run the epochs."""
    lr: float | None = None
    """Default: 2e-4 with LoRA, 3e-4 for full T5, 5e-5 for a full causal LM."""
    batch_size: int = 8
    grad_accum: int = 1
    max_source_tokens: int = MAX_SOURCE_TOKENS
    read_source_tokens: int | None = None
    """Conversation tokens the run's suggestions read; default the larger of max_source_tokens
    and 512. Training on short contexts is cheap, and the trained model still gains from reading
    more (docs/evaluation.md: the sweep's run, 96 tokens trained, 4.17 nats read at 96, 3.92 at
    512)."""
    max_target_tokens: int = 128
    eval_every: int = 200
    patience: int = 3
    """Stop after this many evaluations without a better validation loss."""
    keep_checkpoints: int = 2
    seed: int = 42
    warmup: float = 0.03
    """Share of the steps spent warming the learning rate up."""
    eval_samples: int | None = None
    """Evaluate on this many validation examples, spread evenly; default all."""
    eval_at_start: bool = False
    """Also measure the validation loss before the first step."""
    minutes: float | None = None
    """Stop (with a checkpoint) after this much training time."""
    allow_lossy: bool = False
    """Train even when the tokenizer loses more than `max_lost` of the reply characters."""
    max_lost: float = 0.005
    """Share of reply characters the tokenizer may lose (see `twinchat.data.textcheck`)."""
    voice_lines: int = LINES
    """Training replies saved per person, read before a reply written as them
    (`twinchat.data.voices`); 0 saves none."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise one line naming every bad setting."""
        problems = []
        for name in ("batch_size", "grad_accum", "max_source_tokens", "max_target_tokens"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1")
        if self.read_source_tokens is not None and self.read_source_tokens < 1:
            problems.append("--read-source-tokens must be at least 1")
        if self.voice_lines < 0:
            problems.append(f"--voice-lines must be 0 or more, not {self.voice_lines}")
        if self.eval_every < 1:
            problems.append("--eval-every must be at least 1")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("give --epochs above 0 or --max-steps")
        if self.lr is not None and not 0 < self.lr < 1:
            problems.append(f"--lr must be between 0 and 1, not {self.lr}")
        if self.merge and not self.lora:
            problems.append("--merge only applies to --lora runs")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup must be at least 0 and below 1, not {self.warmup}")
        if self.minutes is not None and not self.minutes > 0:
            problems.append(f"minutes must be above 0, not {self.minutes}")
        if problems:
            raise TwinchatError("; ".join(problems))


def load_config(path: str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Defaults, then the YAML file, then the flags that were given."""
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise TwinchatError(
                f"cannot read config {path}: {str(error).splitlines()[0]}"
            ) from None
        if not isinstance(loaded, dict):
            raise TwinchatError(f"{path} must be a YAML mapping of option: value")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TwinchatError(
            f"unknown settings in {path}: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return TrainConfig(**values)  # which validates itself


def train(
    data: str | Path,
    run: str | Path,
    config: TrainConfig,
    resume: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Fine-tune `config.model` on the dataset folder `data`, writing the run folder `run`;
    returns the run's `twinchat.json` as written (`RunDescription.to_dict`), {} off rank 0.

    Raises:
        TwinchatError: bad data, options or model; a run folder in the way without --resume.
    """
    from twinchat.models import family_of, load_tokenizer
    from twinchat.models import load_config as model_config

    console = console or Console(stderr=True)
    data, run = Path(data), Path(run)
    files = _data_files(data)
    window = ContextWindow.of_dataset(data)  # before any work: a broken stats.json fails now
    _check_run_folder(run, resume)
    family = family_of(model_config(config.model))
    tokenizer = load_tokenizer(config.model, family)
    chat_format = format_for(family, tokenizer)
    text = check_text(
        tokenizer,
        chat_format,
        files["train"],
        config.model,
        max_lost=config.max_lost,
        allow_lossy=config.allow_lossy,
    )
    splits = _tokenized(files, run, chat_format, tokenizer, config)
    prepared = _Prepared(family, tokenizer, chat_format, splits, files, text, window)
    return _fit(run, config, prepared, resume, console)


def _data_files(data: Path) -> dict[str, str]:
    train = data / "train.jsonl"
    if not train.is_file():
        raise TwinchatError(
            f"{data} has no train.jsonl; make one with: twinchat prepare EXPORT -o {data}"
        )
    files = {"train": str(train)}
    validation = data / "validation.jsonl"
    if validation.is_file() and validation.stat().st_size:
        files["validation"] = str(validation)
    if not train.stat().st_size:
        raise TwinchatError(f"{train} is empty; prepare the dataset again with more messages")
    return files


def _check_run_folder(run: Path, resume: bool) -> None:
    if resume:
        if not any((run / "checkpoints").glob("checkpoint-*")):
            raise TwinchatError(f"{run} has no checkpoint to resume from; start without --resume")
        return
    if run.exists() and any(run.iterdir()):
        raise TwinchatError(f"{run} already holds a run; choose another folder or add --resume")
    # The run holds chat text (token cache, speakers): the owner alone may enter it.
    run.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(run, 0o700)


def _tokenized(
    files: dict[str, str], run: Path, chat_format: ChatFormat, tokenizer: Any, config: TrainConfig
) -> Any:
    """Tokenize once; datasets caches the result in the run folder for --resume."""
    import datasets

    datasets.disable_progress_bars()
    cache = run / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    raw = datasets.load_dataset("json", data_files=files, cache_dir=str(cache / "datasets"))
    causal = chat_format.family != SEQ2SEQ

    def encode(batch: dict[str, list[Any]], held_out: bool) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            "input_ids": [],
            "attention_mask": [],
            "labels": [],
            "length": [],
        }
        if held_out:
            out[REPLY_START] = []
        for context, speaker, text in zip(
            batch["context"], batch["speaker"], batch["text"], strict=True
        ):
            turns = [Turn(t["sender"], t["text"]) for t in context]
            source = tokenizer(chat_format.source(turns), add_special_tokens=causal)["input_ids"]
            target = tokenizer(chat_format.target(speaker, text), add_special_tokens=False)[
                "input_ids"
            ]
            source = source[-config.max_source_tokens :]  # the oldest messages go first
            target = target[: config.max_target_tokens]
            if causal:
                ids, labels = source + target, [IGNORE] * len(source) + target
            else:
                ids, labels = source, target
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            out["labels"].append(labels)
            out["length"].append(len(ids) + (0 if causal else len(labels)))
            if held_out:
                named = chat_format.name_tokens(tokenizer, speaker, target)
                out[REPLY_START].append(len(ids) - len(target) + named if causal else named)
        return out

    columns = raw["train"].column_names
    tokenized = datasets.DatasetDict(
        {
            split: part.map(
                encode,
                batched=True,
                remove_columns=columns,
                fn_kwargs={"held_out": split == "validation"},
                desc="tokenizing",
            )
            for split, part in raw.items()
        }
    )
    held = tokenized.get("validation")
    if held is not None and config.eval_samples and config.eval_samples < len(held):
        step = len(held) / config.eval_samples
        tokenized["validation"] = held.select([int(i * step) for i in range(config.eval_samples)])
    return tokenized


class _ReplyTextLoss:
    """Collates batches; in held-out ones, the speaker's name leaves the labels after the
    decoder inputs are made from them, so the validation loss is that of the reply text.

    A time split holds out the latest sessions, where many speakers may be new (most are, in
    IRC): the loss of their names would grow as the model learns the known ones, and stop
    training while the replies still improve. `twinchat eval` measures reply loss alike.
    """

    def __init__(self, collate: Any):
        self.collate = collate

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        starts = [feature.pop(REPLY_START, None) for feature in features]
        batch = self.collate(features)
        for row, start in enumerate(starts):
            if start:
                batch["labels"][row, :start] = IGNORE
        return batch


@dataclass(frozen=True)
class _Prepared:
    """What training decided and built before loading the model."""

    family: str
    tokenizer: Any
    chat_format: ChatFormat
    splits: Any
    files: dict[str, str]
    text: TextCheck
    window: ContextWindow
    """The context window prepare cut the examples with: serving repeats it."""


def _fit(
    run: Path, config: TrainConfig, prepared: _Prepared, resume: bool, console: Console
) -> dict[str, Any]:
    import torch
    from transformers import DataCollatorForSeq2Seq, EarlyStoppingCallback, set_seed
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices

    from twinchat.models import load_model
    from twinchat.training.callbacks import MetricsLog, RichProgress, StopAfter, StopOnInterrupt

    family, tokenizer, splits = prepared.family, prepared.tokenizer, prepared.splits
    set_seed(config.seed)
    precision = _precision(family)
    model = load_model(config.model, family, tokenizer)
    if config.lora:
        model = _with_lora(model, family, config)
    has_eval = "validation" in splits
    args = _arguments(run, config, family, precision, has_eval, len(splits["train"]))
    interrupt = StopOnInterrupt()
    callbacks = [MetricsLog(run / "metrics.jsonl"), RichProgress(console), interrupt]
    if config.minutes:
        callbacks.append(StopAfter(config.minutes * 60))
    if has_eval and config.patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    trainer_class = _trainer_class(family)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"] if has_eval else None,
        data_collator=_ReplyTextLoss(
            DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=IGNORE)
        ),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # our progress bar and metrics.jsonl replace it
    _opening(console, trainer, config, prepared, precision, torch)
    trainer.train(resume_from_checkpoint=True if resume else None)
    if interrupt.interrupted:
        raise TwinchatError(
            f"interrupted at step {trainer.state.global_step}; a checkpoint was saved: "
            f"carry on with the same command and --resume"
        )
    return _finish(run, config, prepared, trainer)


def _precision(family: str) -> tuple[str, str]:
    import torch

    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return "bf16", "the GPU supports bfloat16 (and TF32 for the rest)"
        reason = "T5 overflows in fp16" if family == SEQ2SEQ else "fp16 is less stable"
        return "fp32", f"the GPU has no bfloat16, and {reason}"
    return "fp32", "training on the CPU"


def _with_lora(model: Any, family: str, config: TrainConfig) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    task = TaskType.SEQ_2_SEQ_LM if family == SEQ2SEQ else TaskType.CAUSAL_LM
    lora = LoraConfig(
        task_type=task,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",  # attention and MLP of every block, in any family
    )
    return get_peft_model(model, lora)


def _learning_rate(config: TrainConfig, family: str) -> float:
    if config.lr is not None:
        return config.lr
    if config.lora:
        return 2e-4
    return 3e-4 if family == SEQ2SEQ else 5e-5


def _arguments(
    run: Path,
    config: TrainConfig,
    family: str,
    precision: tuple[str, str],
    has_eval: bool,
    examples: int,
) -> Any:
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    steps_per_epoch = math.ceil(examples / (config.batch_size * config.grad_accum))
    total = config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.epochs)
    arguments = Seq2SeqTrainingArguments if family == SEQ2SEQ else TrainingArguments
    # Each run logs into its own folder, unless the user named one before twinchat started.
    os.environ["TENSORBOARD_LOGGING_DIR"] = _USER_TENSORBOARD or str(run / "tensorboard")
    return arguments(
        output_dir=str(run / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=_learning_rate(config, family),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=int(total * config.warmup),
        lr_scheduler_type="linear",
        bf16=precision[0] == "bf16",
        tf32=True if precision[0] == "bf16" else None,
        train_sampling_strategy="group_by_length",  # pad each batch to its own longest
        eval_strategy="steps" if has_eval else "no",
        eval_on_start=has_eval and config.eval_at_start,
        eval_steps=config.eval_every,
        save_strategy="steps",
        save_steps=config.eval_every,
        save_total_limit=config.keep_checkpoints,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        logging_steps=max(1, min(50, config.eval_every // 4)),
        report_to=_reporting(),
        include_num_input_tokens_seen="non_padding",
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=True,
        remove_unused_columns=False,
        use_cpu=not _cuda(),
    )


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _reporting() -> list[str]:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return []
    return ["tensorboard"]


def _trainer_class(family: str) -> Any:
    from transformers import Seq2SeqTrainer, Trainer

    return Seq2SeqTrainer if family == SEQ2SEQ else Trainer


def _opening(
    console: Console,
    trainer: Any,
    config: TrainConfig,
    prepared: _Prepared,
    precision: tuple[str, str],
    torch: Any,
) -> None:
    """One short block: what was decided, and why."""
    if not trainer.is_world_process_zero():
        return
    family, splits = prepared.family, prepared.splits
    model = trainer.model
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    tokens = sum(splits["train"]["length"])
    args = trainer.args
    batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    steps = (
        args.max_steps
        if args.max_steps > 0
        else math.ceil(len(splits["train"]) / batch * args.num_train_epochs)
    )
    validation = len(splits["validation"]) if "validation" in splits else 0
    method = f"LoRA r={config.lora_r}" if config.lora else "all weights"
    lines = [
        f"model      {config.model} ({family}, {method})",
        f"device     {device} × {args.world_size} · precision {precision[0]}: {precision[1]}",
        f"parameters {trainable:,} trainable of {total:,} ({trainable / total:.2%})",
        f"examples   {len(splits['train']):,} train, {validation:,} validation · "
        f"{tokens:,} tokens, padded per batch, grouped by length",
        f"steps      {steps:,} of {batch} examples · lr {args.learning_rate:g} · "
        f"evaluation every {config.eval_every}"
        + (f" · stops after {config.minutes:g} minutes" if config.minutes else ""),
        f"tokenizer  {prepared.text.line()}"
        + (
            " · training anyway (--allow-lossy)" if prepared.text.too_lossy(config.max_lost) else ""
        ),
    ]
    console.print("\n".join(lines), highlight=False)


def _finish(run: Path, config: TrainConfig, prepared: _Prepared, trainer: Any) -> dict[str, Any]:
    """Write the final model, its description and the loss curve; `twinchat.json` comes last,
    so its presence means the run is complete."""
    tokenizer, files, splits = prepared.tokenizer, prepared.files, prepared.splits
    trainer.save_model(str(run))
    if not trainer.is_world_process_zero():
        return {}
    tokenizer.save_pretrained(str(run))
    if config.lora and config.merge:
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(str(run / "merged"))
        tokenizer.save_pretrained(str(run / "merged"))
    replies = list(_replies(files["train"]))  # one read gives the speakers and their voices
    speakers = _speakers(replies)
    lines = config.voice_lines
    voices = pick_voices(replies, lines) if lines else {}
    history = [r for r in trainer.state.log_history if "eval_loss" in r]
    description = RunDescription(
        family=prepared.family,
        base_model=config.model,
        format=prepared.chat_format,
        speakers=speakers,
        voices=voices,
        settings=asdict(config),
        data={name: _fingerprint(path) for name, path in files.items()},
        examples={name: len(split) for name, split in splits.items()},
        steps=trainer.state.global_step,
        best_eval_loss=min((r["eval_loss"] for r in history), default=None),
        sampling=Sampling(),
        adapter=bool(config.lora),
        merged="merged" if config.lora and config.merge else None,
        tokenizer_coverage=prepared.text.to_dict(),
        window=prepared.window,
    )
    _plot(run)
    description.write(run)
    return description.to_dict()


def _speakers(replies: Iterable[tuple[str, str]]) -> dict[str, int]:
    counts = Counter(speaker for speaker, _ in replies)
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _replies(path: str) -> Iterator[tuple[str, str]]:
    """(speaker, text) of each example in a split file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            yield record["speaker"], record["text"]


def _fingerprint(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _plot(run: Path) -> None:
    """`loss.svg` from `metrics.jsonl`: training and validation loss by step, the same chart as
    the eval report's; none without a loss to draw."""
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        return
    from twinchat.pages.charts import loss_curve, standalone

    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    if chart := loss_curve(records):
        (run / "loss.svg").write_text(standalone(chart), encoding="utf-8")
