"""What a tokenizer loses of a chat: shown by `prepare --tokenizer`, and `train` refuses a
tokenizer that would lose the chat's text unless told to go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import prepare_sessions

pytest.importorskip("transformers")

from tiny_models import chat_texts, make_tiny_llama, make_tiny_t5

from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.training.train import TrainConfig, train

LINES = [
    ("Дима", "привет, как дела?", 0),
    ("Sara", "خوبم، ممنون", 40),
    ("Ana", "明天见 👍🏽", 30),
    ("Sam", "see you\nat 8", 50),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A chat in four scripts, many sessions."""
    root = tmp_path_factory.mktemp("data")
    return prepare_sessions(root, LINES, 6, holdout=0.2, name="Mix", type="private_group", id=9)


@pytest.fixture(scope="module")
def latin_t5(tmp_path_factory) -> Path:
    """How FLAN-T5 behaves: a vocabulary learnt on Latin text only."""
    return make_tiny_t5(tmp_path_factory.mktemp("models") / "t5", chat_texts())


@pytest.fixture(scope="module")
def own_t5(tmp_path_factory, data) -> Path:
    """How mT5 behaves on covered scripts: a vocabulary learnt on the chat itself."""
    texts = [json.loads(line)["text"] for line in (data / "messages.jsonl").open()]
    names = [name for name, _, _ in LINES]
    return make_tiny_t5(
        tmp_path_factory.mktemp("models") / "own", texts * 20 + names + chat_texts()
    )


def export(folder: Path) -> Path:
    return folder.parent / "result.json"


def test_prepare_shows_what_the_tokenizer_loses(data, latin_t5, tmp_path):
    stats = prepare([export(data)], tmp_path / "ds", PrepareOptions(tokenizer=str(latin_t5)))
    coverage = stats["coverage"]
    assert coverage["family"] == "seq2seq" and coverage["lost_character_share"] > 0.3
    assert coverage["senders"]["Sam"]["lost_characters"] == 0  # "see you\nat 8": newline added
    assert coverage["senders"]["Дима"]["lost_character_share"] > 0.8
    assert coverage["format"]["lost_names"] == ["Дима"]
    assert "of characters lost" in coverage["summary"]
    html = (tmp_path / "ds" / "report.html").read_text()
    assert "What the tokenizer loses" in html and "Дима" in html


def test_prepare_coverage_keeps_pseudonyms(data, latin_t5, tmp_path):
    options = PrepareOptions(tokenizer=str(latin_t5), pseudonymize=True)
    stats = prepare([export(data)], tmp_path / "ds", options)
    everything = json.dumps(stats, ensure_ascii=False)
    assert "Дима" not in everything and "Sara" not in everything
    assert len(stats["coverage"]["senders"]) == 4


def quick(model: Path, **settings) -> TrainConfig:
    values = dict(model=str(model), max_steps=2, batch_size=4, lr=1e-3, eval_every=2, seed=1)
    values.update(settings)
    return TrainConfig(**values)


def test_latin_only_tokenizer_is_refused_before_the_weights_load(
    data, latin_t5, tmp_path, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("twinchat.models.load_model", never)
    with pytest.raises(TwinchatError) as error:
        train(data, tmp_path / "run", quick(latin_t5))
    message = str(error.value)
    assert "\n" not in message
    assert "of the reply characters" in message and "top: " in message
    assert "names (Дима" in message
    assert "bundled:smollm2-135m" in message and "--allow-lossy" in message
    assert not (tmp_path / "run" / "twinchat.json").exists()


def test_allow_lossy_trains_and_records_the_loss(data, latin_t5, tmp_path):
    run = tmp_path / "run"
    description = train(data, run, quick(latin_t5, allow_lossy=True))
    coverage = json.loads((run / "twinchat.json").read_text())["tokenizer_coverage"]
    assert coverage == description["tokenizer_coverage"]
    assert coverage["allowed_lossy"] is True
    assert coverage["replies"]["lost_character_share"] > 0.3
    assert "Дима" in coverage["replies"]["format"]["lost_names"]


@pytest.mark.parametrize("tokenizer", ["byte-level", "own vocabulary"])
def test_tokenizers_that_keep_the_text_train(data, own_t5, tmp_path, tokenizer):
    model = make_tiny_llama(tmp_path / "llama") if tokenizer == "byte-level" else own_t5
    run = tmp_path / "run"
    train(data, run, quick(model))
    coverage = json.loads((run / "twinchat.json").read_text())["tokenizer_coverage"]
    assert coverage["allowed_lossy"] is False
    assert coverage["replies"]["lost_characters"] == 0
    assert coverage["replies"]["format"]["lost_names"] == []


WRITTEN = (
    "👍🏽 سلام\nсм. 明天 cafe\u0301 👨\u200d👩\u200d👧"  # skin tone, RTL, line break, CJK, ZWJ
)


def test_prepare_train_suggest_keeps_every_character(tmp_path, monkeypatch, capsys):
    """A tiny byte-level model that learnt one reply by heart writes it back exactly, in
    Python (hf and ct2 backends) and in `twinchat suggest --json`."""
    from twinchat.cli import main
    from twinchat.data.example import Turn
    from twinchat.inference.suggester import Suggester

    lines = [("Ana", "what's the plan?", 0), ("Sam", WRITTEN, 40), ("Ana", "ok", 30)]
    prepare_sessions(tmp_path, lines, 16, holdout=0.1, name="Plan", id=3)
    model = make_tiny_llama(tmp_path / "llama")
    config = quick(
        model, max_steps=60, batch_size=8, lr=1e-2, eval_every=1000, patience=0, voice_lines=0
    )
    train(tmp_path / "ds", tmp_path / "run", config)
    best = Suggester.load(tmp_path / "run").suggest(
        [Turn("Ana", "what's the plan?")], as_="Sam", n=1, greedy=True, max_new_tokens=96
    )
    assert best[0].text == WRITTEN
    from twinchat.inference.export import export_run

    fast = export_run(tmp_path / "run", tmp_path / "ct2", quantization="float32")
    again = Suggester.load(fast).suggest(
        [Turn("Ana", "what's the plan?")], as_="Sam", n=1, greedy=True, max_new_tokens=96
    )
    assert again[0].text == WRITTEN  # the ct2 backend's decoding keeps every character too
    conversation_file = tmp_path / "chat.txt"
    conversation_file.write_text("Ana: what's the plan?\n", encoding="utf-8")
    args = ["suggest", str(tmp_path / "run"), "--as", "Sam", "-n", "1", "--greedy", "--json"]
    args += ["--max-new-tokens", "96"]
    monkeypatch.setattr("sys.argv", ["twinchat", *args, "--input", str(conversation_file)])
    try:
        main()
    except SystemExit as exit_:
        assert not exit_.code
    printed = json.loads(capsys.readouterr().out)
    assert printed["candidates"][0]["text"] == WRITTEN
