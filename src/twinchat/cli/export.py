"""`twinchat export`: a run converted for fast suggestions, in CTranslate2 or onnxruntime-genai."""

from __future__ import annotations

from typing import Annotated

import typer

from twinchat.cli.console import err
from twinchat.cli.options import ForceOpt, OutputOpt, RunArg, defaults_of, examples
from twinchat.inference.export import export_run

app = typer.Typer()
EXPORT = defaults_of(export_run)

EXAMPLES = examples(
    "twinchat export runs/me -o runs/me-ct2",
    "twinchat export runs/me -o runs/me-gpu --quantization int8_bfloat16",
    "twinchat export runs/me -o runs/me-ort --to ort --quantization int4 --force",
)


@app.command(epilog=EXAMPLES)
def export(
    run: RunArg,
    output: OutputOpt,
    to: Annotated[
        str,
        typer.Option(
            help="ct2 (CTranslate2, any run) or ort (onnxruntime-genai, causal runs: the fastest "
            "typeahead on a CPU)."
        ),
    ] = EXPORT["to"],
    quantization: Annotated[
        str,
        typer.Option(
            help="int8 (a CPU's choice), float32 (exact); ct2 also int8_bfloat16 or "
            "bfloat16 (a GPU's), int8_float32, float16 and int8_float16 (causal models only: T5 "
            "overflows in float16); ort also int4."
        ),
    ] = EXPORT["quantization"],
    force: ForceOpt = EXPORT["force"],
) -> None:
    """Convert a run for fast suggestions: a LoRA adapter merged, the model in CTranslate2 or
    onnxruntime-genai.

    Writes OUTPUT, which works wherever a run does: twinchat suggest OUTPUT, twinchat serve
    OUTPUT.
    """
    written = export_run(run, output, to=to, quantization=quantization, force=force)
    err.print(
        f"exported {run} to {written} ({to}, {quantization}); "
        f"try: twinchat suggest {written} --as NAME",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
