"""`export`: a finished run for a faster engine: CTranslate2 (`ct2`, every model, CPU or GPU)
or onnxruntime-genai (`ort`, causal models, the fastest typeahead on a CPU).

    twinchat export runs/me --to ort -o runs/me-ort                # int8: the CPU choice
    twinchat export runs/me --to ct2 -o runs/me-ct2
    twinchat export runs/me --to ct2 -o runs/me-gpu --quantization int8_bfloat16
    twinchat suggest runs/me-ort --as Sam < chat.txt

A LoRA adapter is merged into its base first (both engines run plain weights). The output
folder holds the converted model, the run's tokenizer and a `twinchat.json` (the run's own,
plus `backend`, `quantization` and `source_run`), so `Suggester.load` and `twinchat serve`
take it as they take a run. It is written beside OUT and renamed into place, owner-only.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from twinchat.atomic import staged_folder
from twinchat.description import RunDescription
from twinchat.errors import TwinchatError, reason
from twinchat.models import SEQ2SEQ

TARGETS = ("ct2", "ort")
ORT_QUANTIZATIONS = {
    "int8": "8-bit weights; on a CPU the fastest for typeahead (benchmarks/engines.py)",
    "int4": "4-bit weights: smaller, a step faster, further from the trained model",
    "float32": "exact: the same outputs as the transformers model",
}
QUANTIZATIONS = {
    "int8": "8-bit weights; on a CPU the fastest and smallest (4x smaller than float32)",
    "int8_float32": "the same as int8",
    "int8_bfloat16": "8-bit weights, bfloat16 compute: a GPU's choice (float32 on a CPU)",
    "bfloat16": "16-bit weights for a GPU (run as float32 on a CPU)",
    "float32": "exact: the same outputs as the transformers model",
    "float16": "causal models only, for a GPU (run as float32 on a CPU)",
    "int8_float16": "causal models only, for a GPU (run as int8 on a CPU)",
}
# T5 overflows in float16: its feed-forward outputs pass 65504 and turn to NaN (CTranslate2
# #1074; transformers keeps T5's `wo` in float32 for it, CTranslate2 does not).
_OVERFLOWS_T5 = ("float16", "int8_float16")
_ENGINE_KEYS = {"ct2": "ctranslate2", "ort": "onnxruntime_genai"}
"""The key under which an export's twinchat.json records the engine's version."""


def export_run(
    run: str | Path,
    out: str | Path,
    to: str = "ct2",
    quantization: str = "int8",
    force: bool = False,
) -> Path:
    """Convert the finished run `run` into the folder `out` and return it.

    Raises:
        TwinchatError: an unknown target or quantization, float16 for a T5 model, a missing or
            unfinished run, `out` not empty without `force`, CTranslate2 not installed or
            unable to convert the architecture.
    """
    run, out = Path(run), Path(out)
    if to not in TARGETS:
        raise TwinchatError(f"cannot export to '{to}'; the target is {' or '.join(TARGETS)}")
    description = RunDescription.read(run)
    if description.is_export:
        source = description.source_run or description.source_model or "the run it came from"
        raise TwinchatError(f"{run} is already a {description.backend} export; export {source}")
    if description.format is None:
        raise TwinchatError(f"{run}/twinchat.json names no chat format; train the run again")
    family = description.format.family
    _check_quantization(to, quantization, family)
    if out.resolve() == run.resolve():
        raise TwinchatError(f"the export would replace the run {run}; choose another -o folder")
    engine = _engine_version(to)
    with (
        staged_folder(out, force) as staging,
        tempfile.TemporaryDirectory(
            prefix=f".{out.name}.", suffix=".merge", dir=out.parent
        ) as work,
    ):
        source = _plain_weights(run, description, family, Path(work) / "merged")
        _build(source, staging, to, quantization, Path(work))
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(staging))
        # the run's own description, of plain weights (merged) run by the engine
        exported = description.exported(
            to,
            quantization,
            source_run=str(run.resolve()),
            generation=_unasked(source),
            extra={**description.extra, _ENGINE_KEYS[to]: engine},
        )
        for path in staging.iterdir():
            os.chmod(path, 0o600)  # the weights learnt the chats: the owner's alone
        # twinchat.json comes last: its presence means the export is complete
        exported.write(staging)
    return out


def export_model(spec: str, out: str | Path, to: str, quantization: str = "int8") -> Path:
    """An untuned model (`bundled:…` or a local folder) converted for `to` into `out`, a new
    folder: the base a run's export is compared with, on the same engine (`twinchat eval`).

    Raises:
        TwinchatError: a hub id (convert a local copy), or what `export_run` refuses.
    """
    from twinchat.models import family_of, load_config, locate

    out, source = Path(out), Path(locate(spec))
    if not source.is_dir():
        raise TwinchatError(f"{spec} is not a local model folder: download it and give its path")
    _check_quantization(to, quantization, family_of(load_config(spec)))
    engine = _engine_version(to)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as work:
        _build(source, out, to, quantization, Path(work))
    RunDescription(
        backend=to,
        quantization=quantization,
        source_model=spec,
        generation=_unasked(source),
        extra={"engine": engine},
    ).write(out)
    return out


def _build(source: Path, out: Path, to: str, quantization: str, work: Path) -> None:
    """The engine's model of the plain weights in `source`, its files moved into `out`."""
    converted = work / to
    if to == "ct2":
        _convert(source, converted, quantization)
    else:
        _build_ort(source, converted, quantization, work / "cache")
    for item in converted.iterdir():
        item.rename(out / item.name)


def _engine_version(to: str) -> str:
    """The installed engine's version; a one-line error naming the install when it is not."""
    module, package = ("ctranslate2", "ctranslate2") if to == "ct2" else _ORT
    if importlib.util.find_spec(module) is None:
        raise TwinchatError(f"exporting to {to} needs {package}: pip install 'twinchat[fast]'")
    return importlib.metadata.version(package)


_ORT = ("onnxruntime_genai", "onnxruntime-genai")


def _check_quantization(to: str, quantization: str, family: str) -> None:
    if to == "ort":
        if family == SEQ2SEQ:
            raise TwinchatError(
                "onnxruntime-genai runs causal models only; export a T5 run with --to ct2"
            )
        if quantization not in ORT_QUANTIZATIONS:
            raise TwinchatError(
                f"unknown quantization '{quantization}' for ort; choose "
                f"{', '.join(ORT_QUANTIZATIONS)}"
            )
        return
    if quantization not in QUANTIZATIONS:
        raise TwinchatError(
            f"unknown quantization '{quantization}'; choose {', '.join(QUANTIZATIONS)}"
        )
    if family == SEQ2SEQ and quantization in _OVERFLOWS_T5:
        raise TwinchatError(
            f"{quantization} is refused for T5 (seq2seq) models: T5 overflows in float16 and "
            f"writes NaN; use bfloat16 or int8_bfloat16 on a GPU, int8 on a CPU"
        )


def _unasked(source: Path) -> dict[str, Any]:
    """What transformers' `generate` applies to this model without being told: its generation
    config's top-k (the library's default, 50, when it has none) and repetition penalty. The
    ct2 backend applies them too, so both backends draw from the same distribution."""
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(str(source))
    except OSError:  # no generation_config.json
        config = GenerationConfig()
    top_k = config.top_k if config.top_k is not None else 50
    return {"top_k": top_k, "repetition_penalty": config.repetition_penalty or 1.0}


def _plain_weights(run: Path, description: RunDescription, family: str, scratch: Path) -> Path:
    """A folder of plain transformers weights and tokenizer: the run's merged folder, the run
    itself, or its LoRA adapter merged into the base and saved to `scratch`."""
    if description.merged:
        return run / description.merged
    if not description.adapter:
        return run
    from transformers import AutoTokenizer

    from twinchat.inference.backends.hf import load_weights

    merged = load_weights(run, family, adapter=True)
    merged.save_pretrained(str(scratch))
    AutoTokenizer.from_pretrained(str(run)).save_pretrained(str(scratch))
    return scratch


def _convert(source: Path, out: Path, quantization: str) -> None:
    from ctranslate2.converters import TransformersConverter
    from ctranslate2.specs import model_spec
    from transformers import AutoConfig

    class Converter(TransformersConverter):
        """The transformers converter, with T5's output scale read as transformers 5 keeps it.

        transformers 5 always sets T5's `tie_word_embeddings` and moved the old meaning of
        `False` (T5 v1.1, FLAN-T5: no scaling of the decoder output) to `scale_decoder_outputs`
        (transformers PR #42815); CTranslate2 4.8 still reads the first, and so scales the
        logits of every FLAN-T5 by d_model^-0.5.
        """

        def _load(self) -> Any:
            spec = super()._load()
            config = AutoConfig.from_pretrained(str(source))
            scaled = getattr(config, "scale_decoder_outputs", None)
            if config.is_encoder_decoder and scaled is not None:
                spec.decoder.scale_outputs = config.d_model**-0.5 if scaled else model_spec.OPTIONAL
            return spec

    try:
        Converter(str(source)).convert(str(out), quantization=quantization)
    except (ValueError, NotImplementedError) as error:
        raise TwinchatError(f"CTranslate2 cannot convert {source}: {reason(error)[:300]}") from None


def _build_ort(source: Path, out: Path, quantization: str, cache: Path) -> None:
    """onnxruntime-genai's model builder, in a process of its own (it prints as it goes, and
    holds a second copy of the weights while it works)."""
    precision = {"float32": "fp32"}.get(quantization, quantization)
    command = [
        sys.executable, "-m", "onnxruntime_genai.models.builder",
        "-i", str(source), "-o", str(out), "-p", precision, "-e", "cpu", "-c", str(cache),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    if built.returncode != 0 or not (out / "genai_config.json").is_file():
        lines = [line for line in built.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {built.returncode}"
        raise TwinchatError(f"onnxruntime-genai cannot build {source}: {last[:300]}")
