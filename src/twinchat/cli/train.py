"""`twinchat train`: a dataset folder in, a run folder out; flags over a YAML file over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinchat.cli.console import err, out
from twinchat.cli.options import OutputOpt, SeedOpt, examples, given
from twinchat.training.train import TrainConfig

app = typer.Typer()

EXAMPLES = examples(
    "twinchat train data -o runs/me",
    "twinchat train data -o runs/t5 --model google/flan-t5-base --full --epochs 2",
    "twinchat train data -o runs/me --config train.yaml --lora --merge --max-steps 500",
    "twinchat train data -o runs/me --resume",
    "accelerate launch -m twinchat train data -o runs/big --model Qwen/Qwen2.5-1.5B --lora",
)


@app.command(epilog=EXAMPLES)
def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="A dataset folder written by twinchat prepare.")],
    output: OutputOpt,
    model: Annotated[
        str, typer.Option(help="Hub id, local folder, or bundled:NAME.")
    ] = TrainConfig.model,
    lora: Annotated[
        bool, typer.Option("--lora/--full", help="LoRA adapters or all weights.")
    ] = TrainConfig.lora,
    merge: Annotated[
        bool, typer.Option(help="With LoRA, also write merged weights.")
    ] = TrainConfig.merge,
    epochs: Annotated[float, typer.Option(help="Passes over the data.")] = TrainConfig.epochs,
    max_steps: Annotated[
        int, typer.Option(help="Stop after N optimizer steps; -1 runs the epochs.")
    ] = TrainConfig.max_steps,
    lr: Annotated[
        float | None, typer.Option(help="Peak learning rate.", show_default="by model")
    ] = TrainConfig.lr,
    batch_size: Annotated[
        int, typer.Option(help="Examples per device and step.")
    ] = TrainConfig.batch_size,
    grad_accum: Annotated[int, typer.Option(help="Steps to accumulate.")] = TrainConfig.grad_accum,
    max_source_tokens: Annotated[
        int, typer.Option(help="Context tokens kept, newest first.")
    ] = TrainConfig.max_source_tokens,
    read_source_tokens: Annotated[
        int | None,
        typer.Option(
            help="Conversation tokens the run's suggestions read.",
            show_default="the larger of --max-source-tokens and 512",
        ),
    ] = TrainConfig.read_source_tokens,
    max_target_tokens: Annotated[
        int, typer.Option(help="Reply tokens.")
    ] = TrainConfig.max_target_tokens,
    eval_every: Annotated[
        int, typer.Option(help="Steps between evaluations.")
    ] = TrainConfig.eval_every,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of settings; flags override it.")
    ] = None,
    voice_lines: Annotated[
        int,
        typer.Option(
            help="Training replies saved per person, read before a reply written as them "
            "(0: none).",
        ),
    ] = TrainConfig.voice_lines,
    resume: Annotated[bool, typer.Option(help="Carry on from the run's last checkpoint.")] = False,
    seed: SeedOpt = TrainConfig.seed,
    allow_lossy: Annotated[
        bool,
        typer.Option(
            "--allow-lossy",
            help=f"Train even when the model's tokenizer loses more than "
            f"{TrainConfig.max_lost:.1%} of the reply characters (or speaker names, or message "
            "boundaries).",
        ),
    ] = TrainConfig.allow_lossy,
) -> None:
    """Fine-tune a model on a prepared dataset: FLAN-T5 or a causal LM, full or LoRA.

    Writes the run to OUTPUT. Runs on one CPU or GPU as is, and on several GPUs under
    `accelerate launch -m twinchat train`.
    """
    from twinchat.training.train import load_config
    from twinchat.training.train import train as run_train

    flags = {
        "model": model, "lora": lora, "merge": merge, "epochs": epochs, "max_steps": max_steps,
        "lr": lr, "batch_size": batch_size, "grad_accum": grad_accum,
        "max_source_tokens": max_source_tokens, "read_source_tokens": read_source_tokens,
        "max_target_tokens": max_target_tokens,
        "eval_every": eval_every, "seed": seed, "allow_lossy": allow_lossy,
        "voice_lines": voice_lines,
    }  # fmt: skip
    # Only the flags given override the YAML file: one left at its default must not undo it.
    settings = load_config(config, given(ctx, flags))
    description = run_train(data, output, settings, resume=resume, console=err)
    if description:
        best = description.get("best_eval_loss")
        loss = f" · best validation loss {best:.4f}" if best is not None else ""
        out.print(f"Trained {description['steps']} steps{loss}. Run: {output}", highlight=False)
