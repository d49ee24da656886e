"""CTranslate2 exports of tiny trained runs suggest what the transformers model suggests: the
same greedy candidates and scores in float32, valid ones in int8; every draw carries its
teacher-forced log-probability; the kept context changes no draw and stays within its budget;
`--as` and a mid-word `--prefix` hold for every candidate; LoRA is merged; the export folder is
checked and private.

    pytest tests/test_ct2.py -q
"""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")

from conftest import HIKE
from tiny_models import make_tiny_llama, make_tiny_t5

from twinchat import TwinchatError
from twinchat.data.example import Turn
from twinchat.inference.backends import Draw
from twinchat.inference.export import export_run
from twinchat.inference.suggester import Suggester
from twinchat.training.train import TrainConfig, train

CONTEXT = [Turn(s, t) for s, t, _ in HIKE[:3]]
REPLY = "perfect, see you there"


class _Family:
    """A tiny run that knows the chat by heart (conftest's, shared by the session), and its
    exports, each made once."""

    def __init__(self, run: Path, exports: Path):
        self.run = run
        self.root = exports
        self.hf = Suggester.load(run)
        self._exports: dict[str, Suggester] = {}

    def ct2(self, quantization: str) -> Suggester:
        if quantization not in self._exports:
            out = export_run(self.run, self.root / quantization, quantization=quantization)
            self._exports[quantization] = Suggester.load(out)
        return self._exports[quantization]


@pytest.fixture(scope="module")
def families(hike_llama_run, hike_t5_run, tmp_path_factory) -> dict[str, _Family]:
    return {
        "llama": _Family(hike_llama_run, tmp_path_factory.mktemp("llama-exports")),
        "t5": _Family(hike_t5_run, tmp_path_factory.mktemp("t5-exports")),
    }


@pytest.fixture(params=["llama", "t5"])
def family(request, families) -> _Family:
    return families[request.param]


def test_the_backend_follows_the_folder(family):
    assert family.hf.backend.name == "hf"
    exported = family.ct2("float32")
    assert exported.backend.name == "ct2"
    assert exported.speakers == family.hf.speakers
    assert exported.format == family.hf.format


def _ids(draws: list[Draw]) -> list[list[int]]:
    return [d.ids for d in draws]


def _prompt_for(suggester: Suggester, typed: str, context: list[Turn] = CONTEXT):
    return suggester._prompt(context, suggester.format.reply_prefix("Sam", typed), typed)


@pytest.mark.parametrize("typed", ["", "perfect, se", "ok so"])
def test_float32_greedy_tokens_and_scores_match_transformers(family, typed):
    """One beam, with and without a healed tail: the same token ids, and the draw's
    log-probability is transformers' teacher-forced one."""
    hf, ct2 = family.hf, family.ct2("float32")
    prompt = _prompt_for(hf, typed)
    assert _prompt_for(ct2, typed) == prompt
    settings = replace(hf.sampling, max_new_tokens=12)
    expected = _ids(hf.backend.generate(prompt, 1, True, settings, hf.speller()))
    (draw,) = ct2.backend.generate(prompt, 1, True, settings, ct2.speller())
    assert expected == [draw.ids]
    (mean,) = hf.backend.score(prompt, expected)
    assert draw.score == pytest.approx(mean, abs=1e-4)
    assert ct2.backend.score(prompt, expected) == pytest.approx([mean], abs=1e-4)


@pytest.mark.parametrize("quantization", ["float32", "int8"])
@pytest.mark.parametrize("typed", ["", "perfect, se", "ok so"])
def test_a_draw_carries_its_teacher_forced_log_probability(family, quantization, typed):
    """Greedy, beams or sampled at temperature 1.5, a healed tail included: a draw's
    log-probability is the model's own, before temperature, top-k, top-p and healing, as the
    export's teacher-forced `score` gives it (and transformers' too, in float32)."""
    suggester = family.ct2(quantization)
    prompt = _prompt_for(suggester, typed)
    settings = replace(suggester.sampling, max_new_tokens=12, temperature=1.5)
    suggester.backend.seed(0)
    for greedy, count in ((True, 1), (True, 3), (False, 8)):
        draws = suggester.backend.generate(prompt, count, greedy, settings, suggester.speller())
        assert draws and all(len(d.ids) <= 12 for d in draws)
        ids = _ids(draws)
        scores = [d.score for d in draws]
        assert scores == pytest.approx(suggester.backend.score(prompt, ids), abs=1e-3)
        if quantization == "float32":
            assert scores == pytest.approx(family.hf.backend.score(prompt, ids), abs=1e-3)


def test_cut_or_penalized_draws_are_scored_again(families, monkeypatch):
    """A healed start longer than the length cap is cut, and a repetition penalty changes the
    log-probabilities CTranslate2 reports: such draws still carry their teacher-forced ones."""
    suggester = families["llama"].ct2("float32")
    backend = suggester.backend
    healed, plain = _prompt_for(suggester, "perfect, xq"), _prompt_for(suggester, "")
    assert healed.tail == " xq"  # spelled in two tokens or more
    monkeypatch.setattr(backend, "repetition_penalty", 1.0)
    short = replace(suggester.sampling, max_new_tokens=1)
    cut = backend.generate(healed, 4, False, short, suggester.speller())
    assert cut and all(len(d.ids) == 1 for d in cut)
    monkeypatch.setattr(backend, "repetition_penalty", 1.5)
    settings = replace(suggester.sampling, max_new_tokens=12)
    penalized = backend.generate(plain, 4, False, settings, None)
    for prompt, draws in ((healed, cut), (plain, penalized)):
        scores = [d.score for d in draws]
        assert scores == pytest.approx(backend.score(prompt, _ids(draws)), abs=1e-4)


@pytest.mark.parametrize("typed", ["", "perfect, se"])
def test_the_kept_context_changes_no_draw(families, monkeypatch, typed):
    """The context given as CTranslate2's static prompt, kept between calls: the same greedy
    draws and healing distribution as when the whole prompt is read each call."""
    suggester = families["llama"].ct2("float32")
    backend = suggester.backend
    prompt = _prompt_for(suggester, typed)
    settings = replace(suggester.sampling, max_new_tokens=12)
    found = {}
    for least in (10**6, 1):
        monkeypatch.setattr(backend, "static_min_tokens", least)
        found[least] = [
            backend.generate(prompt, count, True, settings, suggester.speller()) for count in (1, 3)
        ] + [backend._next(prompt, [])]
    assert tuple(prompt.context[:-1]) in backend._kept
    plain, kept = found.values()
    for one, other in zip(plain[:2], kept[:2], strict=True):
        assert _ids(one) == _ids(other)
        assert [d.logprob for d in one] == pytest.approx([d.logprob for d in other], abs=1e-4)
    assert plain[2] == pytest.approx(kept[2], abs=1e-4)


def test_kept_contexts_stay_within_their_budget(families, monkeypatch):
    """CTranslate2 keeps every static prompt: past the budget the model is loaded again,
    emptying its cache, and draws as before."""
    suggester = families["llama"].ct2("float32")
    backend = suggester.backend
    contexts = [[Turn("Jo", f"{word} hike"), *CONTEXT] for word in ("a", "the", "no", "ok", "hi")]
    budget = 2 * len(_prompt_for(suggester, "", contexts[0]).context)
    monkeypatch.setattr(backend, "static_min_tokens", 1)
    monkeypatch.setattr(backend, "static_budget_tokens", budget)
    monkeypatch.setattr(backend, "_kept", set())
    settings = replace(suggester.sampling, max_new_tokens=12)
    before = [_prompt_for(suggester, "", c) for c in contexts]
    first = [_ids(backend.generate(p, 1, True, settings, None)) for p in before]
    assert len(backend._kept) < len(contexts)
    assert sum(map(len, backend._kept)) <= budget
    again = [_ids(backend.generate(p, 1, True, settings, None)) for p in before]
    assert again == first


@pytest.mark.parametrize("as_", ["Sam", None])
def test_float32_beams_find_the_same_best_candidate(family, as_):
    """The same best candidate, and the same score for every candidate both find (the two
    beam searches normalise lengths differently, so their other finished beams may differ)."""
    beams = {c.text: c.score for c in family.hf.suggest(CONTEXT, as_=as_, n=3, greedy=True)}
    found = family.ct2("float32").suggest(CONTEXT, as_=as_, n=3, greedy=True)
    assert found[0].text == next(iter(beams))
    assert REPLY in beams and REPLY in [c.text for c in found]
    shared = [c for c in found if c.text in beams]
    assert [c.score for c in shared] == pytest.approx([beams[c.text] for c in shared], abs=1e-4)


def test_an_empty_conversation_gets_an_opening_message(families):
    """Nothing said yet: the T5 export once answered nothing (CTranslate2 skips an input of the
    end token alone as empty)."""
    t5 = families["t5"]
    (expected, *_) = t5.hf.suggest([], as_="Ana", n=2, greedy=True)
    (found, *_) = t5.ct2("float32").suggest([], as_="Ana", n=2, greedy=True)
    assert found.text == expected.text
    assert t5.ct2("float32").complete([], "Ana", "h") == t5.hf.complete([], "Ana", "h") != ""
    assert families["llama"].ct2("float32").suggest([], as_="Ana", n=2, greedy=True)


@pytest.mark.parametrize("typed", ["perfect, se", "perfect", "p", "perfect, see you ", "ok so"])
def test_complete_matches_transformers(family, typed):
    """Typeahead, mid-word included: greedy, one token at a time, the typed tail healed."""
    expected = family.hf.complete(CONTEXT, "Sam", typed, max_new_tokens=8)
    assert family.ct2("float32").complete(CONTEXT, "Sam", typed, max_new_tokens=8) == expected


def test_a_mid_word_prefix_is_healed_into_the_known_word(family):
    for quantization in ("float32", "int8"):
        found = family.ct2(quantization).suggest(
            CONTEXT, as_="Sam", prefix="perfect, se", n=2, greedy=True
        )
        assert REPLY in [c.text for c in found], quantization


@pytest.mark.parametrize("quantization", ["float32", "int8"])
@pytest.mark.parametrize("typed", ["perfect, se", "p", "perfect, see you ", "ok so"])
def test_every_sampled_candidate_continues_the_typed_text(family, quantization, typed):
    suggester = family.ct2(quantization)
    candidates = suggester.suggest(CONTEXT, as_="Sam", prefix=typed, n=4, seed=2, temperature=1.5)
    assert candidates
    assert all(c.text.startswith(typed.strip()) and c.speaker == "Sam" for c in candidates)


def test_sampling_draws_as_transformers_does(families):
    """The same distribution (top-k 50, temperature, top-p): close mean scores over many draws."""
    hf, ct2 = families["llama"].hf, families["llama"].ct2("float32")
    for typed in ("", "perfect, see yo"):
        prompt = _prompt_for(hf, typed)
        settings = replace(hf.sampling, max_new_tokens=12, temperature=1.0, top_p=1.0)
        hf.backend.seed(0)
        ct2.backend.seed(0)
        drawn = _ids(hf.backend.generate(prompt, 150, False, settings, hf.speller()))
        also = _ids(ct2.backend.generate(prompt, 150, False, settings, ct2.speller()))
        means = [sum(hf.backend.score(prompt, s)) / len(s) for s in (drawn, also)]
        assert means[1] == pytest.approx(means[0], abs=0.25), typed


@pytest.mark.parametrize("backend", ["hf", "ct2"])
def test_a_tail_no_token_spells_is_left_as_typed(families, backend):
    """In a byte-level vocabulary é is two byte pieces whose texts are not characters: healing
    steps back rather than constrain generation to nothing."""
    family = families["llama"]
    suggester = family.hf if backend == "hf" else family.ct2("float32")
    assert suggester.speller().allowed("é") == []
    assert suggester.speller().allowed(" xq")  # pieces that together spell it
    for typed in ("café", "perfect, xq"):
        candidates = suggester.suggest(CONTEXT, as_="Sam", prefix=typed, n=2, seed=0)
        assert all(c.text.startswith(typed) for c in candidates)


def test_int8_candidates_are_valid_and_ranked(family):
    suggester = family.ct2("int8")
    beams = [c.score for c in suggester.suggest(CONTEXT, as_="Sam", n=3, greedy=True)]
    assert beams and beams == sorted(beams, reverse=True)
    for name in ("Sam", "Ana"):
        candidates = suggester.suggest(CONTEXT, as_=name, n=4, seed=1, temperature=1.5)
        assert candidates and all(c.speaker == name for c in candidates)
        assert all(c.score <= 0 for c in candidates)  # shown in consensus order, not by score
        keys = [" ".join(c.text.casefold().split()) for c in candidates]
        assert len(keys) == len(set(keys))


def test_reply_loss_matches_transformers(family):
    context = [Turn("Ana", "great, I'll bring snacks")]
    expected = family.hf.reply_loss(context, "Sam", REPLY)
    nll, tokens = family.ct2("float32").reply_loss(context, "Sam", REPLY)
    assert tokens == expected[1] and nll == pytest.approx(expected[0], rel=1e-4, abs=1e-4)


def test_a_causal_model_exports_in_float16_and_runs_on_the_cpu(families):
    """Stored in float16, computed in float32 where the device has no float16."""
    found = families["llama"].ct2("float16").suggest(CONTEXT, as_="Sam", n=2, greedy=True)
    assert REPLY in [c.text for c in found]


@pytest.mark.parametrize("quantization", ["float16", "int8_float16"])
def test_float16_is_refused_for_t5_with_the_reason(families, tmp_path, quantization):
    with pytest.raises(TwinchatError, match="T5 overflows in float16") as caught:
        export_run(families["t5"].run, tmp_path / "out", quantization=quantization)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_the_export_is_private_and_describes_itself(families):
    family = families["llama"]
    family.ct2("int8")
    out = family.root / "int8"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # nothing left over
    description = json.loads((out / "twinchat.json").read_text())
    assert description["backend"] == "ct2" and description["quantization"] == "int8"
    assert description["generation"] == {"top_k": 50, "repetition_penalty": 1.0}
    assert description["source_run"] == str(family.run.resolve())
    assert (
        description["speakers"]
        == json.loads((family.run / "twinchat.json").read_text())["speakers"]
    )
    assert (out / "model.bin").is_file() and (out / "tokenizer.json").is_file()


@pytest.mark.parametrize("name", ["llama", "t5"])
def test_lora_runs_are_merged_on_export(hike_data, tmp_path, name):
    """The adapter alone (no merged/ folder): the export scores as the adapter does."""
    run = tmp_path / "lora"
    model = {"llama": make_tiny_llama, "t5": make_tiny_t5}[name](tmp_path / "model")
    config = TrainConfig(
        model=str(model), lora=True, max_steps=4, batch_size=8, lr=1e-2, eval_every=1000,
        patience=0,
    )  # fmt: skip
    train(hike_data, run, config)
    adapter = Suggester.load(run)
    exported = Suggester.load(export_run(run, tmp_path / "out", quantization="float32"))
    description = json.loads((tmp_path / "out" / "twinchat.json").read_text())
    assert description["adapter"] is False and description["merged"] is None
    context = [Turn("Ana", "great, I'll bring snacks")]
    expected = adapter.reply_loss(context, "Sam", REPLY)
    assert exported.reply_loss(context, "Sam", REPLY) == pytest.approx(expected, rel=1e-4)


def test_errors_are_one_line_and_name_the_fix(families, tmp_path):
    run = families["llama"].run
    with pytest.raises(TwinchatError, match="does not exist"):
        export_run(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(TwinchatError, match="not a finished twinchat run.*--resume"):
        export_run(tmp_path / "unfinished", tmp_path / "out")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(TwinchatError, match="not empty; choose another or add --force"):
        export_run(run, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    with pytest.raises(TwinchatError, match="unknown quantization 'int4'"):
        export_run(run, tmp_path / "out", quantization="int4")
    with pytest.raises(TwinchatError, match="cannot export to 'onnx'"):
        export_run(run, tmp_path / "out", to="onnx")
    with pytest.raises(TwinchatError, match="export them first: twinchat export"):
        Suggester.load(run, backend="ct2")
    exported = families["llama"].root / "float32"
    families["llama"].ct2("float32")
    with pytest.raises(TwinchatError, match="is a CTranslate2 export; load it with --backend ct2"):
        Suggester.load(exported, backend="hf")
    with pytest.raises(TwinchatError, match="already a ct2 export"):
        export_run(exported, tmp_path / "again")
    with pytest.raises(TwinchatError, match="unknown backend 'onnx'"):
        Suggester.load(run, backend="onnx")


def test_force_replaces_an_earlier_export(families, tmp_path):
    run = families["llama"].run
    out = tmp_path / "out"
    export_run(run, out, quantization="float32")
    (out / "old.txt").write_text("old")
    export_run(run, out, quantization="int8", force=True)
    assert not (out / "old.txt").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not twinchat's")
    with pytest.raises(TwinchatError, match="twinchat did not write"):
        export_run(run, mine, quantization="int8", force=True)
    assert (mine / "notes.txt").read_text() == "not twinchat's"
    assert Suggester.load(out).suggest(CONTEXT, as_="Sam", n=1, greedy=True)
