"""`twinchat prepare` end to end: the command line, its outputs, and bad input."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from conftest import TELEGRAM, conversation

from twinchat import PrepareOptions, TwinchatError, prepare
from twinchat.cli import main
from twinchat.data.builder import BuildOptions


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["twinchat", *args])
    monkeypatch.setenv("COLUMNS", "200")
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "example"
    prepare(["bundled:ubuntu-irc"], out)
    return out


def test_bundled_example_end_to_end(bundled):
    names = sorted(p.name for p in bundled.iterdir())
    assert names == [
        ".twinchat",
        "messages.jsonl",
        "report.html",
        "stats.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    stats = json.loads((bundled / "stats.json").read_text())
    train, validation = lines(bundled / "train.jsonl"), lines(bundled / "validation.jsonl")
    assert stats["messages"]["read"] == 4040 and stats["messages"]["dropped"] == {"service": 40}
    assert stats["examples"] == {"train": len(train), "validation": len(validation)}
    assert len(train) > 2000 and validation
    example = train[0]
    assert set(example) >= {"id", "chat", "session", "timestamp", "speaker", "context", "text"}
    assert all(set(turn) == {"sender", "text"} for turn in example["context"])
    assert len(lines(bundled / "messages.jsonl")) == stats["messages"]["kept"] == 4000


def test_outputs_are_private(bundled):
    assert stat.S_IMODE(bundled.stat().st_mode) == 0o700
    for path in bundled.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_time_split_holds_out_whole_latest_sessions(bundled):
    train, validation = lines(bundled / "train.jsonl"), lines(bundled / "validation.jsonl")
    train_sessions = {e["session"] for e in train}
    held_sessions = {e["session"] for e in validation}
    assert not train_sessions & held_sessions
    assert max(e["timestamp"] for e in train) < min(e["timestamp"] for e in validation)


def test_loadable_with_datasets(bundled):
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(
        "json",
        data_files={
            "train": str(bundled / "train.jsonl"),
            "validation": str(bundled / "validation.jsonl"),
        },
        cache_dir=str(bundled.parent / "hf-cache"),
    )
    assert loaded["train"][0]["context"][0].keys() == {"sender", "text"}
    assert loaded["train"].num_rows + loaded["validation"].num_rows > 2000


def test_cli_summary_and_report(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ds"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "prepare", str(TELEGRAM / "single_chat.json"), "-o", str(out)
    )
    assert code == 0, stderr
    assert "messages read" in stdout and "dropped: service" in stdout
    assert "examples: train" in stdout and str(out / "report.html") in stdout
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "hiking" not in html  # figures and names, never message text


def test_random_split_keeps_sessions_whole(write_export, tmp_path):
    turns = []
    for session in range(40):
        turns += [("A", f"s{session} hello", 3 * 3600), ("B", "hi", 30), ("A", "bye", 30)]
    out = tmp_path / "ds"
    stats = prepare([write_export(conversation(turns))], out, PrepareOptions(split="random"))
    train, held = lines(out / "train.jsonl"), lines(out / "validation.jsonl")
    assert {e["session"] for e in train}.isdisjoint(e["session"] for e in held)
    assert 0 < len(held) < len(train) and stats["examples"]["validation"] == len(held)


def test_as_limit_and_dates(write_export, tmp_path):
    turns = [("A" if i % 2 else "B", f"m{i}", 60) for i in range(30)]
    path = write_export(conversation(turns))
    options = PrepareOptions(limit=10, build=BuildOptions(speakers=("a",)), holdout=0)
    stats = prepare([path], tmp_path / "ds", options)
    kept = lines(tmp_path / "ds" / "messages.jsonl")
    assert [m["text"] for m in kept] == [f"m{i}" for i in range(20, 30)]
    assert stats["messages"]["dropped"] == {"limit": 20}
    assert {e["speaker"] for e in lines(tmp_path / "ds" / "train.jsonl")} == {"A"}


def test_pseudonymize_and_scrub(write_export, tmp_path):
    messages = conversation(
        [
            ("Jamie Lee", "hi Sam, call me on +44 20 7946 0958", 0),
            ("Sam Park", "Jamie! mail sam@example.com or see https://sam.example.org", 30),
            ("Jamie Lee", "ok Sam", 30),
        ]
    )
    out = tmp_path / "ds"
    prepare(
        [write_export(messages, name="Jamie Lee")],
        out,
        PrepareOptions(
            pseudonymize=True,
            scrub=True,
            holdout=0,
            build=BuildOptions(speakers=("Sam Park",)),
            aliases=("Jamie=Jamie Lee",),
            me="Jamie Lee",
        ),
    )
    everything = "".join(p.read_text() for p in out.iterdir())
    for secret in ("Jamie", "Sam", "7946", "sam@example.com", "sam.example.org"):
        assert secret not in everything, secret
    assert "[phone]" in everything and "[email]" in everything and "[url]" in everything
    key = json.loads((tmp_path / "ds.pseudonyms.json").read_text())
    assert set(key) == {"Jamie Lee", "Sam Park"}
    assert stat.S_IMODE((tmp_path / "ds.pseudonyms.json").stat().st_mode) == 0o600
    first = lines(out / "train.jsonl")[0]
    assert first["context"][0]["sender"] == key["Jamie Lee"]
    assert first["context"][0]["text"].startswith(f"hi {key['Sam Park'].split()[0]}")


def test_tokenizer_lengths(write_export, tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    texts = ["hello there", "how are you", "fine thanks", "see you"]
    model = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    model.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    model.train_from_iterator(texts, tokenizers.trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    folder = tmp_path / "tok"
    transformers.PreTrainedTokenizerFast(tokenizer_object=model, unk_token="[UNK]").save_pretrained(
        folder
    )
    path = write_export(conversation([("A", "hello there", 0), ("B", "how are you", 30)]))
    stats = prepare([path], tmp_path / "ds", PrepareOptions(tokenizer=str(folder), holdout=0))
    tokens = stats["tokens"]
    assert tokens["reply_tokens"]["max"] == 3
    assert tokens["context_tokens"]["max"] == 4  # "A", ":", "hello", "there"
    assert "tokens" in json.loads((tmp_path / "ds" / "stats.json").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prepare", "missing.json", "-o", "{out}"], "no such file"),
        (["prepare", str(TELEGRAM / "html_export"), "-o", "{out}"], "Machine-readable JSON"),
        (
            ["prepare", str(TELEGRAM / "single_chat.json"), "-o", "{out}", "--as", "Zed"],
            "most frequent are",
        ),
        (
            ["prepare", str(TELEGRAM / "single_chat.json"), "-o", "{out}", "--holdout", "2"],
            "--holdout",
        ),
        (
            ["prepare", str(TELEGRAM / "single_chat.json"), "-o", "{out}", "--bogus"],
            "No such option",
        ),
        (
            ["prepare", str(TELEGRAM / "single_chat.json"), "-o", "{out}", "--since", "May"],
            "YYYY-MM-DD",
        ),
        (["prepare", "bundled:nope", "-o", "{out}"], "bundled:ubuntu-irc"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, message):
    out = tmp_path / "ds"
    args = [a.replace("{out}", str(out)) for a in args]
    code, stdout, stderr = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr and "Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_truncated_and_empty_exports(write_export, tmp_path):
    broken = tmp_path / "broken.json"
    data = (TELEGRAM / "single_chat.json").read_bytes()
    broken.write_bytes(data[:2000])
    with pytest.raises(TwinchatError, match="near byte"):
        prepare([broken], tmp_path / "a")
    with pytest.raises(TwinchatError, match="no messages found"):
        prepare([write_export([])], tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_existing_output_is_kept_unless_forced(tmp_path):
    out = tmp_path / "ds"
    prepare([TELEGRAM / "single_chat.json"], out)
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(TwinchatError, match="--force"):
        prepare([TELEGRAM / "single_chat.json"], out)
    assert (out / "mine.txt").read_text() == "keep me"
    with pytest.raises(TwinchatError):  # a failure with --force leaves it as it was too
        prepare([tmp_path / "missing.json"], out, PrepareOptions(force=True))
    assert (out / "mine.txt").exists()
    prepare([TELEGRAM / "single_chat.json"], out, PrepareOptions(force=True))
    assert not (out / "mine.txt").exists() and (out / "train.jsonl").exists()


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["twinchat", "--debug", "prepare", "nope.json", "-o", "x"])
    with pytest.raises(TwinchatError):
        main()


def test_help_is_fast_to_import():
    import subprocess

    heavy = "{'torch', 'transformers', 'ijson', 'datasets'}"
    code = (
        "import sys, twinchat.cli; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_reading_in_a_second_process_gives_the_same_dataset(bundled, tmp_path):
    out = tmp_path / "parallel"
    stats = prepare(["bundled:ubuntu-irc"], out, PrepareOptions(parallel=True))
    for name in ("messages.jsonl", "train.jsonl", "validation.jsonl"):
        assert (out / name).read_bytes() == (bundled / name).read_bytes(), name
    assert stats == json.loads((bundled / "stats.json").read_text())


def test_errors_of_the_reading_process_reach_the_user(tmp_path):
    broken = tmp_path / "result.json"
    broken.write_bytes((TELEGRAM / "single_chat.json").read_bytes()[:3000])
    with pytest.raises(TwinchatError, match="near byte"):
        prepare([broken], tmp_path / "out", PrepareOptions(parallel=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_each_input_says_what_was_read_kept_and_dropped(
    write_export, monkeypatch, capsys, tmp_path
):
    from conftest import HIKE

    plain = write_export(conversation(HIKE * 3), chat_id=1)
    pinned = conversation(HIKE * 3)
    for i in (1, 2):  # service messages: pinned ones, dropped from the second input only
        pinned.append(
            {"id": 100 + i, "type": "service", "date": "2023-11-14T22:20:00",
             "date_unixtime": str(1_700_000_400 + i), "actor": "Ana", "actor_id": "user1",
             "action": "pin_message", "message_id": 1, "text": ""}
        )  # fmt: skip
    second = write_export(pinned, chat_id=2)
    out = tmp_path / "ds"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "prepare", str(plain), str(second), "-o", str(out)
    )
    assert code == 0, stderr
    stats = json.loads((out / "stats.json").read_text())
    first, other = stats["exports"]
    assert (first["messages"], first["dropped"]) == (12, {})
    assert (other["messages"], other["dropped"]) == (14, {"service": 2})
    assert stats["messages"]["dropped"] == {"service": 2}
    assert "14 read, 12 kept" in stdout and "12 read, 12 kept" in stdout
