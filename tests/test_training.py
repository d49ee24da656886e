"""`twinchat train` on tiny models built from a config, through the same loading code as real
models: a few steps each, loss down, weights changed, artefacts, LoRA and merge, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HIKE, prepare_sessions

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch
from tiny_models import make_tiny_llama, make_tiny_t5
from transformers import TrainerCallback

from twinchat import TwinchatError
from twinchat.description import RunDescription
from twinchat.training.train import TrainConfig, load_config, train


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A small prepared dataset: the same little chat, many sessions."""
    return prepare_sessions(tmp_path_factory.mktemp("data"), HIKE, 12, holdout=0.2)


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "llama")


@pytest.fixture(scope="module")
def t5(tmp_path_factory) -> Path:
    return make_tiny_t5(tmp_path_factory.mktemp("models") / "t5")


def quick(model: Path, **settings) -> TrainConfig:
    values = dict(model=str(model), max_steps=12, batch_size=4, lr=3e-3, eval_every=6, seed=1)
    values.update(settings)
    return TrainConfig(**values)


def losses(run: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (run / "metrics.jsonl").open()) if "loss" in r]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_causal_full_training(data, llama, tmp_path):
    run = tmp_path / "run"
    description = train(data, run, quick(llama))
    assert losses(run)[-1] < losses(run)[0]
    before, after = weights(llama), weights(run)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    for name in ("twinchat.json", "metrics.jsonl", "loss.svg", "config.json", "tokenizer.json"):
        assert (run / name).exists(), name
    assert any((run / "tensorboard").rglob("events.*"))
    assert description["family"] == "causal" and set(description["speakers"]) == {"Ana", "Sam"}
    assert description["format"]["end"] and description["data"]["train"].startswith("sha256:")
    # prepare's window (its defaults here), which serving repeats
    window = {"max_context": 10, "max_context_chars": 2000, "session_gap": 120.0}
    assert description["window"] == window
    assert RunDescription.read(run).to_dict() == description


def test_loss_curve_is_drawn_from_metrics_jsonl(tmp_path):
    """`loss.svg` is the eval report's chart, drawn from the run's `metrics.jsonl`."""
    import xml.etree.ElementTree as ET

    from twinchat.pages.charts import SVG_NS
    from twinchat.training.train import _plot

    records = [{"step": 2, "loss": 3.0}, {"step": 4, "loss": 2.5}, {"step": 4, "eval_loss": 2.8}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _plot(tmp_path)
    lines = ET.parse(tmp_path / "loss.svg").getroot().iter(f"{{{SVG_NS}}}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 1]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.jsonl").write_text('{"step": 1, "learning_rate": 0.1}\n')
    _plot(empty)
    assert not (empty / "loss.svg").exists()  # nothing to draw


def test_causal_loss_counts_only_reply_tokens(data, llama, tmp_path):
    from twinchat.data.formats import format_for
    from twinchat.models import load_tokenizer
    from twinchat.training.train import _tokenized

    tokenizer = load_tokenizer(str(llama), "causal")
    splits = _tokenized(
        {"train": str(data / "train.jsonl")},
        tmp_path,
        format_for("causal", tokenizer),
        tokenizer,
        quick(llama),
    )
    row = splits["train"][0]
    reply = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    first = json.loads((data / "train.jsonl").open().readline())
    assert tokenizer.decode(reply) == f"{first['speaker']}: {first['text']}{tokenizer.eos_token}"


@pytest.mark.parametrize("family", ["causal", "seq2seq"])
def test_validation_loss_is_of_the_reply_text_alone(data, llama, t5, tmp_path, family):
    """Held-out labels skip the speaker's name (new speakers of a time split would dominate
    the loss), while a seq2seq decoder still reads the name; training labels keep it."""
    from transformers import DataCollatorForSeq2Seq

    from twinchat.data.formats import format_for
    from twinchat.models import load_model, load_tokenizer
    from twinchat.training.train import _ReplyTextLoss, _tokenized

    folder = llama if family == "causal" else t5
    tokenizer = load_tokenizer(str(folder), family)
    files = {"train": str(data / "train.jsonl"), "validation": str(data / "validation.jsonl")}
    splits = _tokenized(files, tmp_path, format_for(family, tokenizer), tokenizer, quick(folder))
    assert "reply_start" not in splits["train"].column_names
    model = load_model(str(folder), family, tokenizer)
    collate = _ReplyTextLoss(
        DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    )
    held = [splits["validation"][i] for i in range(2)]
    batch = collate([dict(row) for row in held])
    first = json.loads((data / "validation.jsonl").open().readline())
    scored = [t for t in batch["labels"][0].tolist() if t != -100]
    assert tokenizer.decode(scored).strip() == f"{first['text']}{tokenizer.eos_token}"
    if family == "seq2seq":  # the decoder is fed the whole target, name included
        fed = tokenizer.decode(batch["decoder_input_ids"][0][1 : len(held[0]["labels"])])
        assert fed.startswith(f"{first['speaker']}:")
    trained = collate([dict(splits["train"][0])])["labels"][0].tolist()
    speaker = json.loads((data / "train.jsonl").open().readline())["speaker"]
    assert tokenizer.decode([t for t in trained if t != -100]).startswith(f"{speaker}:")


def test_seq2seq_lora_and_merge(data, t5, tmp_path):
    from peft import AutoPeftModelForSeq2SeqLM
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    run = tmp_path / "run"
    description = train(data, run, quick(t5, lora=True, merge=True, lr=1e-2))
    assert losses(run)[-1] < losses(run)[0]
    assert (run / "adapter_model.safetensors").exists() and description["adapter"]
    tokenizer = AutoTokenizer.from_pretrained(run)
    assert "\n" in tokenizer.decode(
        tokenizer("a\nb")["input_ids"]
    )  # added for FLAN-T5-like vocabularies
    adapter = AutoPeftModelForSeq2SeqLM.from_pretrained(run).eval()
    merged = AutoModelForSeq2SeqLM.from_pretrained(run / "merged").eval()
    batch = tokenizer(["Ana: hi</s>"], return_tensors="pt", add_special_tokens=False)
    labels = tokenizer(["Sam: yo</s>"], return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        a = adapter(**batch, labels=labels).logits
        b = merged(**batch, labels=labels).logits
    assert torch.allclose(a, b, atol=1e-4)
    # the adapter without merged weights: suggest merges it in memory, and scores alike
    from twinchat.data.example import Turn
    from twinchat.inference.suggester import Suggester

    (run / "twinchat.json").write_text(
        json.dumps({**description, "merged": None}), encoding="utf-8"
    )
    loaded = Suggester.load(run)
    assert not hasattr(loaded.model, "peft_config")
    with torch.no_grad():
        c = loaded.model(**batch, labels=labels).logits
    assert torch.allclose(a, c, atol=1e-4)
    assert loaded.reply_loss([Turn("Ana", "hi")], "Sam", "yo")[1] > 0


class _Interrupt(TrainerCallback):
    """Press Ctrl-C at a given step."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupt_then_resume_ends_like_an_uninterrupted_run(data, llama, tmp_path, monkeypatch):
    from transformers import Trainer

    config = quick(llama, max_steps=8, eval_every=4, lr=1e-3)
    train(data, tmp_path / "straight", config)
    init = Trainer.__init__

    def with_ctrl_c(self, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), _Interrupt(4)]
        init(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", with_ctrl_c)
    # pressed during step 5 (after step 4's end): the Trainer stops when step 5 ends
    with pytest.raises(TwinchatError, match="interrupted at step 5.*--resume"):
        train(data, tmp_path / "resumed", config)
    monkeypatch.setattr(Trainer, "__init__", init)
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-5").exists()
    train(data, tmp_path / "resumed", config, resume=True)
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], atol=1e-5), key


def test_config_file_and_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: some/model\nlora: true\nbatch_size: 2\n")
    config = load_config(path, {"batch_size": 16, "lr": None})
    assert (config.model, config.lora, config.batch_size) == ("some/model", True, 16)
    path.write_text("batchsize: 2\n")
    with pytest.raises(TwinchatError, match="unknown settings.*batchsize"):
        load_config(path, {})
    with pytest.raises(TwinchatError, match="--merge only applies"):
        load_config(None, {"merge": True})


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_config_loads(path):
    """The configs users copy hold only settings train knows, each valid."""
    config = load_config(path, {})
    assert config.model and config.batch_size >= 1


def test_errors_name_the_fix(data, llama, tmp_path, monkeypatch):
    with pytest.raises(TwinchatError, match="no train.jsonl.*twinchat prepare"):
        train(tmp_path, tmp_path / "run", quick(llama))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(TwinchatError, match="already holds a run.*--resume"):
        train(data, tmp_path / "busy", quick(llama))
    with pytest.raises(TwinchatError, match="no checkpoint to resume"):
        train(data, tmp_path / "new", quick(llama), resume=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TwinchatError, match="hub may be unreachable.*bundled:smollm2-135m"):
        train(data, tmp_path / "hub", quick(Path("nobody/no-such-model")))


def test_two_processes_with_gloo(data, llama, tmp_path):
    """DDP on two CPU processes: the run completes and is described once."""
    run = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
        "-m", "twinchat", "train", str(data), "-o", str(run), "--model", str(llama),
        "--max-steps", "4", "--batch-size", "2", "--eval-every", "2",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    description = json.loads((run / "twinchat.json").read_text())
    assert description["steps"] == 4
    assert "× 2" in result.stderr  # the opening block names the world size
