"""onnxruntime-genai exports of the tiny trained Llama agree with the transformers model: the same
greedy ids and scores within 1e-3 in float32; every draw carries its teacher-forced score; a
keystroke reads only its new tokens from a kept session; sessions are bounded; `--as` and a
mid-word `--prefix` hold; T5 and unknown quantizations are refused in one line.

    pytest tests/test_ort.py -q
"""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime_genai")

from conftest import HIKE, memorize
from test_hf_backend import common, generate_reference, prompt_for, prompt_head, teacher_forced

from twinchat import TwinchatError
from twinchat.data.example import Turn
from twinchat.inference.backends import common_prefix
from twinchat.inference.backends.ort import Sessions
from twinchat.inference.export import export_run
from twinchat.inference.suggester import Sampling, Suggester

CONTEXT = [Turn(s, t) for s, t, _ in HIKE[:3]]


@pytest.fixture(scope="session")
def ort_run(hike_data, tmp_path_factory) -> Path:
    """The tiny Llama with heads of 16 (onnxruntime's smallest), knowing the chat by heart."""
    from tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("hike-llama-16")
    return memorize(hike_data, make_tiny_llama(root / "model", head_size=16), root / "run")


@pytest.fixture(scope="module")
def exports(ort_run, tmp_path_factory) -> dict[str, Suggester]:
    """The tiny Llama as transformers (`hf`) and as float32 and int8 ort exports."""
    root = tmp_path_factory.mktemp("ort-exports")
    found = {"hf": Suggester.load(ort_run)}
    for quantization in ("float32", "int8"):
        out = export_run(ort_run, root / quantization, to="ort", quantization=quantization)
        found[quantization] = Suggester.load(out)
    return found


@pytest.fixture
def ort(exports) -> Suggester:
    exports["float32"].backend.sessions.clear()
    return exports["float32"]


def test_the_export_is_an_ort_folder_of_the_run(exports, ort_run):
    ort, hf = exports["float32"], exports["hf"]
    assert ort.backend.name == "ort"
    assert ort.speakers == hf.speakers and ort.format == hf.format
    folder = Path(ort.backend.model_folder)
    description = json.loads((folder / "twinchat.json").read_text())
    assert description["backend"] == "ort" and description["quantization"] == "float32"
    assert description["source_run"] == str(Path(ort_run).resolve())
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("typed", ["", "perfect, se"])
def test_greedy_ids_and_scores_are_the_transformers_ones(exports, typed):
    hf, ort = exports["hf"], exports["float32"]
    prompt = prompt_for(hf, typed)
    assert prompt_for(ort, typed) == prompt
    settings = replace(hf.sampling, max_new_tokens=12)
    (draw,) = ort.backend.generate(prompt, 1, True, settings, ort.speller())
    if not typed:
        assert draw.ids == generate_reference(hf, prompt, 12)
    (expected,) = hf.backend.generate(prompt, 1, True, settings, hf.speller())
    assert draw.ids == expected.ids
    assert draw.score == pytest.approx(teacher_forced(hf, prompt, draw.ids), abs=1e-3)
    (mean,) = ort.backend.score(prompt, [draw.ids])
    assert mean == pytest.approx(draw.score, abs=1e-4)


@pytest.mark.parametrize("typed", ["", "perfect, se"])
def test_sampled_draws_carry_their_teacher_forced_scores(ort, typed):
    prompt = prompt_for(ort, typed)
    settings = Sampling(temperature=1.5, max_new_tokens=10)
    ort.backend.seed(3)
    draws = ort.backend.generate(prompt, 6, False, settings, ort.speller())
    assert len(draws) == 6 and len({tuple(d.ids) for d in draws}) > 1
    means = ort.backend.score(prompt, [d.ids for d in draws])
    assert [d.score for d in draws] == pytest.approx(means, abs=1e-3)
    ranked = sorted(range(6), key=lambda i: -draws[i].score)
    assert ranked == sorted(range(6), key=lambda i: -means[i])
    if typed:
        for draw in draws:
            assert ort.tokenizer.decode(draw.ids).startswith(prompt.tail)


def test_seeded_draws_repeat(ort):
    prompt = prompt_for(ort)
    settings = Sampling(temperature=1.5, max_new_tokens=8)
    found = []
    for _ in range(2):
        ort.backend.seed(7)
        found.append([d.ids for d in ort.backend.generate(prompt, 3, False, settings, None)])
    assert found[0] == found[1]


def test_suggestions_and_completions_match_transformers(exports):
    hf, ort = exports["hf"], exports["float32"]
    for typed in ["p", "perfect, s", "perfect, see you"]:
        expected = hf.complete(CONTEXT, "Sam", typed, max_new_tokens=8)
        assert ort.complete(CONTEXT, "Sam", typed, max_new_tokens=8) == expected
    found = ort.suggest(CONTEXT, as_="Sam", n=3, greedy=True)
    assert found[0].text == hf.suggest(CONTEXT, as_="Sam", n=3, greedy=True)[0].text
    assert len({s.text for s in found}) == len(found) >= 2


def test_int8_suggests_valid_replies_as_the_speaker(exports):
    int8 = exports["int8"]
    found = int8.suggest(CONTEXT, as_="Sam", n=3, seed=0, prefix="perfect, s")
    assert found and all(s.speaker == "Sam" for s in found)
    assert all(s.text.startswith("perfect, s") for s in found)


def test_a_keystroke_reads_only_its_new_tokens(ort):
    """A kept session is rewound to what the new prompt shares with it: a keystroke reads the
    typed text from where it changed, less when it typed what was suggested, nothing when the
    prompt is the last one again (a word typed on: its start is healed, not read)."""
    backend = ort.backend
    before = backend.prefilled
    ort.complete(CONTEXT, "Sam", "p")
    assert backend.prefilled - before == len(prompt_head(ort, "p"))
    previous = prompt_head(ort, "p")
    for typed in ["pe", "perf", "perfect", "perfect,", "perfect, se"]:
        head = prompt_head(ort, typed)
        before = backend.prefilled
        ort.complete(CONTEXT, "Sam", typed)
        new = len(head) - common(previous, head)
        assert backend.prefilled - before <= new < 5 < len(head)
        previous = head
    assert len(backend.sessions) == 1


def test_suggest_reads_the_conversation_once_and_again_not_at_all(ort):
    backend = ort.backend
    before = backend.prefilled
    ort.suggest(CONTEXT, as_="Sam", n=5, seed=1, temperature=1.5)
    assert backend.prefilled - before == len(prompt_head(ort, ""))
    before = backend.prefilled
    ort.suggest(CONTEXT, as_="Sam", n=5, seed=2, temperature=1.5)
    assert backend.prefilled == before


def test_a_new_message_reads_only_that_message(ort):
    ort.suggest(CONTEXT[:2], as_="Sam", n=2, seed=0)
    before = ort.backend.prefilled
    ort.suggest(CONTEXT, as_="Sam", n=2, seed=0)
    shorter, longer = prompt_head(ort, "", CONTEXT[:2]), prompt_head(ort, "", CONTEXT)
    assert ort.backend.prefilled - before <= len(longer) - common(shorter, longer)
    assert len(ort.backend.sessions) == 1


def test_sessions_are_bounded_in_count_and_bytes(ort):
    backend = ort.backend
    kept = backend.sessions
    try:
        backend.sessions = Sessions(kept.make, kept.bytes_per_token, entries=4)
        for i in range(12):  # twelve clients, each its own conversation
            ort.complete(_client(i), "Sam", "ok")
        assert len(backend.sessions) == 4
        one = backend.sessions.size // 4
        backend.sessions = Sessions(kept.make, kept.bytes_per_token, 100, int(one * 2.5))
        for i in range(12):
            ort.complete(_client(i), "Sam", "ok")
        assert len(backend.sessions) == 2 and backend.sessions.size <= one * 2.5
    finally:
        backend.sessions = kept


def _client(i: int) -> list[Turn]:
    """A conversation of its own (one that shares most of another's tokens is that one's)."""
    return [Turn("Ana", f"client {i} says hi " * 3), *CONTEXT]


def test_two_conversations_in_turn_keep_their_sessions(ort):
    first = [*CONTEXT, Turn("Ana", "one conversation")]
    second = [Turn("Ben", "a wholly other talk about trains"), Turn("Ana", "trains!")]
    for conversation in (first, second):
        ort.complete(conversation, "Sam", "o")
    before = ort.backend.prefilled
    for conversation in (first, second):
        ort.complete(conversation, "Sam", "ok")
    assert ort.backend.prefilled - before <= 4
    assert len(ort.backend.sessions) == 2


def test_a_conversation_that_outgrows_its_session_moves_to_a_larger_one(ort):
    sessions = ort.backend.sessions
    messages = list(CONTEXT)
    ort.complete(messages, "Sam", "o")
    (first,) = sessions.kept
    while True:
        messages.append(Turn("Ana", "word " * 10))
        ort.complete(messages, "Sam", "o")
        (session,) = sessions.kept  # one: each message extends the conversation
        if session is not first:
            break
    assert session.room > first.room
    head = prompt_head(ort, "o", messages)
    assert common_prefix(session.tokens, head) == len(head) > first.room // 2


def test_t5_and_unknown_quantizations_are_refused(hike_t5_run, ort_run, tmp_path):
    with pytest.raises(TwinchatError, match="causal models only; export a T5 run with --to ct2"):
        export_run(hike_t5_run, tmp_path / "t5", to="ort")
    with pytest.raises(TwinchatError, match="unknown quantization 'float16' for ort"):
        export_run(ort_run, tmp_path / "x", to="ort", quantization="float16")
    assert not (tmp_path / "t5").exists() and not (tmp_path / "x").exists()


def test_an_ort_export_asks_for_its_own_backend(exports):
    folder = Path(exports["int8"].backend.model_folder)
    with pytest.raises(TwinchatError, match="onnxruntime-genai export; load it with --backend ort"):
        Suggester.load(folder, backend="hf")
    with pytest.raises(TwinchatError, match="is already a ort export|already an? ort export"):
        export_run(folder, folder.parent / "again", to="ort")


def test_eval_of_an_export_measures_the_run_and_its_base_as_transformers_does(
    exports, ort_run, hike_data, tmp_path
):
    """`twinchat eval` of an ort export converts the base to ort too: the same reply losses
    as the transformers run and base give (float32), in a fraction of the time."""
    from twinchat.evaluation.evaluate import EvalOptions, evaluate

    folder = Path(exports["float32"].backend.model_folder)
    options = EvalOptions(compare=("base",), samples=3, candidates=2, typeahead=1)
    fast = evaluate(folder, hike_data, tmp_path / "ort", options)
    slow = evaluate(ort_run, hike_data, tmp_path / "hf", options)
    for ort_name, hf_name in ((folder.name, Path(ort_run).name), ("base", "base")):
        assert fast[ort_name]["reply_loss"] == pytest.approx(slow[hf_name]["reply_loss"], abs=1e-3)
    assert fast["base"]["reply_loss"] > fast[folder.name]["reply_loss"]


def test_the_group_chat_odds_are_the_transformers_ones(exports):
    hf, ort = exports["hf"], exports["float32"]
    turns = CONTEXT[:1]
    expected = hf.next_speakers(turns, ["Ana", "Sam"])
    assert ort.next_speakers(turns, ["Ana", "Sam"]) == pytest.approx(expected, abs=1e-3)


def test_the_server_page_and_openai_routes_run_on_an_export(exports):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from twinchat.apps.server import create_app

    hf, ort = exports["hf"], exports["float32"]
    messages = [{"sender": t.sender, "text": t.text} for t in CONTEXT]
    with TestClient(create_app(ort)) as client:
        body = {"messages": messages, "as": "Sam", "typed": "perfect, se"}
        completion = client.post("/v1/complete", json=body).json()["completion"]
        assert completion == hf.complete(CONTEXT, "Sam", "perfect, se")
        body = {"messages": messages, "as": "Sam", "n": 2, "prefix": "perfect"}
        candidates = client.post("/v1/suggest", json=body).json()["candidates"]
        assert candidates and all(c["text"].startswith("perfect") for c in candidates)
        asked = [{"role": "user", "content": CONTEXT[0].text}]
        body = {"model": "twinchat/Sam", "messages": asked, "temperature": 0}
        answer = client.post("/v1/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["content"]
        assert client.get("/").status_code == 200


def test_twinchat_suggest_takes_the_export(exports, tmp_path):
    from typer.testing import CliRunner

    from twinchat.cli import app

    folder = Path(exports["int8"].backend.model_folder)
    conversation = tmp_path / "conversation.txt"
    conversation.write_text("".join(f"{t.sender}: {t.text}\n" for t in CONTEXT))
    command = ["suggest", str(folder), "--as", "Sam", "-n", "2", "--prefix", "perfect"]
    result = CliRunner().invoke(app, [*command, "--input", str(conversation), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["candidates"] and found["candidates"][0]["text"].startswith("perfect")
