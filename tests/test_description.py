"""`twinchat.json` as a `RunDescription`: a round trip, runs written before a field existed,
keys a newer twinchat wrote, and the context window prepare records for serving."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import HIKE, conversation

from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.data.builder import BuildOptions
from twinchat.data.example import Turn
from twinchat.data.formats import ChatFormat
from twinchat.description import ContextWindow, RunDescription, Sampling

# A run's twinchat.json as `train` wrote it before the context window was recorded.
OLD_RUN = {
    "twinchat": 1,
    "family": "causal",
    "base_model": "bundled:smollm2-135m",
    "format": {"family": "causal", "end": "</s>", "speaker_separator": ": ", "version": 1},
    "speakers": {"Sam": 40, "Ana": 38},
    "settings": {"model": "bundled:smollm2-135m", "lora": True, "max_source_tokens": 256},
    "data": {"train": "sha256:ab", "validation": "sha256:cd"},
    "examples": {"train": 78, "validation": 4},
    "steps": 30,
    "best_eval_loss": None,
    "sampling": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 48, "overdraw": 0.4},
    "adapter": True,
    "merged": None,
    "tokenizer_coverage": {"lost": 0.0},
}


def test_a_description_survives_a_round_trip(tmp_path):
    described = RunDescription(
        family="seq2seq",
        base_model="bundled:flan-t5-small",
        format=ChatFormat("seq2seq", "</s>"),
        speakers={"Ana": 3, "Sam": 2},
        settings={"max_source_tokens": 128, "lora": False},
        data={"train": "sha256:00"},
        examples={"train": 5},
        steps=12,
        best_eval_loss=1.5,
        sampling=Sampling(temperature=0.5, rounds=2),
        adapter=False,
        merged=None,
        tokenizer_coverage={"lost": 0.01},
        window=ContextWindow(max_context=4, max_context_chars=300, session_gap=30.0),
        backend="ct2",
        quantization="int8",
        source_run="/runs/me",
        generation={"top_k": 50, "repetition_penalty": 1.0},
        extra={"ctranslate2": "4.6.0"},
    )
    described.write(tmp_path)
    assert RunDescription.read(tmp_path) == described
    written = json.loads((tmp_path / "twinchat.json").read_text(encoding="utf-8"))
    assert written["twinchat"] == 1 and written["ctranslate2"] == "4.6.0"
    assert written["window"] == {"max_context": 4, "max_context_chars": 300, "session_gap": 30.0}
    assert (tmp_path / "twinchat.json").stat().st_mode & 0o077 == 0


def test_a_run_written_before_the_window_loads_with_prepares_defaults(tmp_path):
    (tmp_path / "twinchat.json").write_text(json.dumps(OLD_RUN), encoding="utf-8")
    described = RunDescription.read(tmp_path)
    defaults = BuildOptions()
    assert described.window.max_context == defaults.max_context == 10
    assert described.window.max_context_chars == defaults.max_context_chars
    assert described.window.session_gap == defaults.session_gap
    assert described.format == ChatFormat("causal", "</s>")
    assert described.sampling.temperature == 0.7 and described.sampling.rounds == 3
    assert described.max_source_tokens == 256 and described.adapter and described.backend == "hf"
    assert list(described.speakers) == ["Sam", "Ana"]
    assert described.voices == {}  # nothing read before a reply: suggestions as they were
    # written back, it is the same file plus the window it now knows and no voice lines
    assert described.to_dict() == {
        **OLD_RUN,
        "sampling": {**OLD_RUN["sampling"], "rounds": 3},
        "window": ContextWindow().to_dict(),
        "backend": "hf",
        "voices": {},
    }


def test_keys_a_newer_twinchat_wrote_are_kept(tmp_path):
    newer = {**OLD_RUN, "twinchat": 2, "lineage": {"parent": "runs/a"}, "notes": ["x"]}
    (tmp_path / "twinchat.json").write_text(json.dumps(newer), encoding="utf-8")
    described = RunDescription.read(tmp_path)
    assert described.version == 2
    assert described.extra == {"lineage": {"parent": "runs/a"}, "notes": ["x"]}
    exported = described.exported("ort", "int8", source_run=str(tmp_path))
    assert exported.to_dict()["lineage"] == {"parent": "runs/a"}
    assert not exported.adapter and exported.merged is None and exported.is_export


def test_an_untuned_models_export_has_no_format():
    described = RunDescription.from_dict(
        {"backend": "ct2", "quantization": "int8", "source_model": "bundled:x", "engine": "4"}
    )
    assert described.format is None and described.source_model == "bundled:x"
    assert described.extra == {"engine": "4"}
    assert described.max_source_tokens == 512


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a finished twinchat run"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"format": {"family": "causal"}}', "holds a field twinchat cannot read"),
    ],
)
def test_an_unreadable_description_is_a_one_line_error(tmp_path, content, message):
    if content is not None:
        (tmp_path / "twinchat.json").write_text(content, encoding="utf-8")
    with pytest.raises(TwinchatError, match=message):
        RunDescription.read(tmp_path)
    with pytest.raises(TwinchatError, match="does not exist"):
        RunDescription.read(tmp_path / "missing")
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    with pytest.raises(TwinchatError, match="a-file is a file, not a folder; give a run folder"):
        RunDescription.read(tmp_path / "a-file")


def test_the_window_is_read_from_the_prepared_dataset(tmp_path):
    export = tmp_path / "result.json"
    chat = {"name": "Hike", "type": "personal_chat", "id": 7, "messages": conversation(HIKE * 3)}
    export.write_text(json.dumps(chat), encoding="utf-8")
    build = BuildOptions(max_context=4, max_context_chars=300, session_gap=30.0)
    prepare([export], tmp_path / "ds", PrepareOptions(build=build, holdout=0.0))
    window = ContextWindow.of_dataset(tmp_path / "ds")
    assert window == ContextWindow(max_context=4, max_context_chars=300, session_gap=30.0)
    assert ContextWindow.of_dataset(tmp_path) == ContextWindow()  # no stats.json: defaults
    (tmp_path / "stats.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(TwinchatError, match="prepare the dataset again"):
        ContextWindow.of_dataset(tmp_path)


def test_the_window_cuts_a_conversation_as_prepare_does():
    window = ContextWindow(max_context=3, max_context_chars=12, session_gap=30.0)
    turns = [Turn("Ana", "aaaa"), Turn("Sam", "bbbb"), Turn("Ana", "cccc"), Turn("Sam", "dddd")]
    assert window.fit(turns) == turns[1:]  # three messages
    assert window.fit([*turns, Turn("Ana", "e")]) == [*turns[2:], Turn("Ana", "e")]  # 12 chars
    assert window.fit([Turn("Ana", "x" * 20)]) == [Turn("Ana", "x" * 12)]  # a long one: its end
    now = datetime(2024, 1, 1, 12, tzinfo=UTC)
    timed = [
        (now - timedelta(minutes=90), Turn("Ana", "old")),
        (now - timedelta(minutes=31), Turn("Sam", "hi")),
        (now - timedelta(minutes=2), Turn("Ana", "yo")),
        (now, Turn("Sam", "ok")),
    ]
    # 29 minutes between "hi" and "yo" keep them together; 59 minutes before "hi" do not
    assert window.session(timed, now) == [Turn("Sam", "hi"), Turn("Ana", "yo"), Turn("Sam", "ok")]
    assert window.session(timed, now + timedelta(minutes=31)) == []


def test_sampling_in_an_old_description_ignores_keys_it_does_not_know():
    assert Sampling.from_dict({"temperature": 0.5, "typical_p": 0.2}) == Sampling(temperature=0.5)


@pytest.mark.parametrize(
    ("settings", "read"),
    [
        ({"max_source_tokens": 96}, 96),  # a run trained before read_source_tokens existed
        ({"max_source_tokens": 96, "read_source_tokens": None}, 512),
        ({"max_source_tokens": 1024, "read_source_tokens": None}, 1024),
        ({"max_source_tokens": 96, "read_source_tokens": 200}, 200),
    ],
)
def test_suggestions_read_more_of_the_conversation_than_training_did(settings, read):
    """Training on short contexts is cheap and the trained model gains from reading more."""
    assert RunDescription(settings=settings).max_source_tokens == read
