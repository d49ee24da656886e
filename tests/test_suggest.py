"""Suggestions from tiny trained runs: `as_` and `prefix` hold for every candidate (mid-word
prefixes included), the typed text is healed, curation drops what it should."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import HIKE

pytest.importorskip("torch")
pytest.importorskip("transformers")

from twinchat import TwinchatError
from twinchat.data.example import Turn
from twinchat.description import ContextWindow, RunDescription
from twinchat.inference.suggester import Suggester, _acceptable, _next_turn

CONTEXT = [Turn(s, t) for s, t, _ in HIKE[:3]]


def test_the_memorized_reply_comes_first(suggester):
    best = suggester.suggest(CONTEXT, as_="Sam", n=3, greedy=True)
    assert best[0].text == "perfect, see you there"
    assert best[0].speaker == "Sam"


def test_every_candidate_is_by_the_named_speaker(suggester):
    for name in ("Sam", "Ana"):
        candidates = suggester.suggest(CONTEXT, as_=name, n=4, seed=1, temperature=1.5)
        assert candidates
        assert all(c.speaker == name for c in candidates)


@pytest.mark.parametrize("typed", ["perfect, se", "perfect", "p", "perfect, see you ", "ok so"])
def test_every_candidate_continues_the_typed_text(suggester, typed):
    """Also mid-word, and after a trailing space, where the last token alone is unusual."""
    candidates = suggester.suggest(CONTEXT, as_="Sam", prefix=typed, n=4, seed=2, temperature=1.5)
    assert candidates
    assert all(c.text.startswith(typed.strip()) for c in candidates), candidates


def test_a_mid_word_prefix_is_healed_into_the_known_word(suggester):
    best = suggester.suggest(CONTEXT, as_="Sam", prefix="perfect, se", n=2, greedy=True)
    assert best[0].text == "perfect, see you there"


def test_complete_gives_the_rest_of_the_typed_reply(suggester):
    """Typeahead: what follows the typed text, mid-word included (unranked, greedy)."""
    assert suggester.complete(CONTEXT, "Sam", "perfect, se", max_new_tokens=8) == "e you there"
    assert suggester.complete(CONTEXT, "Sam", "perfect, see you there", max_new_tokens=4) == ""


def test_typing_reuses_the_encoded_conversation(hike_t5_run):
    """A seq2seq model encodes a conversation once while the reply is typed, with the same
    completions as a model that encodes it at every call."""
    suggester, fresh = Suggester.load(hike_t5_run), Suggester.load(hike_t5_run)
    calls = []
    suggester.model.get_encoder().register_forward_hook(lambda *_: calls.append(1))
    typed = ["p", "perf", "perfect, se", "perfect, see y"]
    shown = [suggester.complete(CONTEXT, "Sam", text) for text in typed]
    assert len(calls) == 1
    for text, completion in zip(typed, shown, strict=True):
        fresh.backend.cache.clear()
        assert fresh.complete(CONTEXT, "Sam", text) == completion
    suggester.complete(CONTEXT[:2], "Sam", "y")
    assert len(calls) == 2  # a new conversation is encoded anew


def test_candidates_are_distinct_and_beams_ranked_by_probability(suggester):
    candidates = suggester.suggest(CONTEXT, n=5, seed=3, temperature=2.0)
    keys = [" ".join(c.text.casefold().split()) for c in candidates]
    assert len(keys) == len(set(keys))
    assert all(c.score <= 0 for c in candidates)
    beams = [c.score for c in suggester.suggest(CONTEXT, n=3, greedy=True)]
    assert beams == sorted(beams, reverse=True)


def test_the_candidate_most_like_the_others_comes_first():
    from twinchat.inference.suggester import Candidate, by_consensus

    texts = ["bananas are yellow", "see you at 8", "see you at 9 then", "see you at 8?"]
    candidates = [Candidate(t, "Sam", -float(i)) for i, t in enumerate(texts)]
    ordered = [c.text for c in by_consensus(candidates)]
    assert ordered[0] == "see you at 8" and ordered[-1] == "bananas are yellow"


def test_a_text_drawn_often_outweighs_its_likeness_to_the_others():
    from twinchat.inference.suggester import Candidate, by_consensus

    texts = ["see you at 8", "see you at 9", "no"]
    candidates = [Candidate(t, "Sam", -1.0) for t in texts]
    assert by_consensus(candidates)[-1].text == "no"
    drawn = {"see you at 8": 1, "see you at 9": 1, "no": 4}
    assert by_consensus(candidates, drawn)[0].text == "no"
    # Two texts drawn once each: nothing to tell them apart by, the given order stays.
    pair = candidates[1:]
    assert by_consensus(pair) == pair


def test_sampled_candidates_come_in_consensus_order_and_beams_by_probability():
    from types import SimpleNamespace

    from twinchat.data.formats import ChatFormat
    from twinchat.inference.suggester import Candidate, _Picking

    chat_format = ChatFormat(family="causal", end="</s>")
    suggester = SimpleNamespace(format=chat_format, speakers=[], _prompt=lambda *_: "")
    picking = _Picking(suggester, CONTEXT, "Sam", "")
    scored = {"ok": -0.5, "see you at 8": -1.0, "see you at 9": -1.5, "see you at 8 then": -2.0}
    for text, score in scored.items():
        picking.kept[text] = Candidate(text, "Sam", score)
        picking.times[text] += 1
    assert [c.text for c in picking.best(3, greedy=True)] == list(scored)[:3]
    sampled = [c.text for c in picking.best(3, greedy=False)]
    assert sorted(sampled) == sorted(list(scored)[:3])  # the 3 most probable, reordered
    assert sampled[0] == "see you at 8" and sampled[-1] == "ok"


def test_the_model_chooses_who_speaks_without_as(llama):
    best = llama.suggest(CONTEXT, n=1, greedy=True)
    assert best[0].speaker == "Sam"


def test_an_unknown_speaker_lists_the_known_ones(llama):
    with pytest.raises(TwinchatError, match="known speakers: .*Ana"):
        llama.suggest(CONTEXT, as_="Zed")


def test_token_texts_spell_what_the_tokenizer_decodes(suggester):
    text = "Sam: perfect, see you there"
    ids = suggester.tokenizer(text, add_special_tokens=False)["input_ids"]
    alone = Suggester(suggester.backend, suggester.tokenizer, suggester.format)
    assert "".join(alone._token_text(i) for i in ids).strip() == text  # one at a time
    assert alone._texts is None
    texts = suggester.token_texts()
    assert "".join(texts[i] for i in ids).strip() == text
    assert suggester._decode(ids).strip() == text


def test_a_candidate_ends_where_another_persons_message_starts():
    from twinchat.data.formats import ChatFormat

    turn = _next_turn({"Ana", "Sam (work)"}, ChatFormat(family="causal", end="</s>"))
    written = "sure, 8 works\nSam (work): great\nAna: see you"
    assert turn.split(written)[0] == "sure, 8 works"
    kept = "first line\nsecond line: with a colon\nAnabel: not a known name"
    assert turn.split(kept)[0] == kept  # a message's own lines stay
    assert _next_turn(set(), ChatFormat(family="causal", end="</s>")) is None


def test_a_candidate_ends_where_the_repliers_own_next_message_starts():
    """Someone new to the run (not among its speakers) replying to a context they are not in."""
    from types import SimpleNamespace

    from twinchat.data.formats import ChatFormat
    from twinchat.inference.suggester import _Picking

    chat_format = ChatFormat(family="causal", end="</s>")
    suggester = SimpleNamespace(format=chat_format, speakers=[], _prompt=lambda *_: "")
    picking = _Picking(suggester, [Turn("cthul", "get a usb mouse")], "vinux", "")
    assert "\nvinux:" in picking.stops
    assert picking.turn.split("a 28k modem\nvinux: a 28k modem")[0] == "a 28k modem"


def test_curation_drops_empty_echoes_and_repetition():
    context = [Turn("Ana", "see you there"), Turn("Sam", "ok")]
    assert _acceptable("sounds good", context, "")
    assert not _acceptable("   ", context, "")
    assert not _acceptable("See  you THERE", context, "")  # an echo, case and spaces aside
    assert not _acceptable("haha haha haha haha haha", context, "")
    assert not _acceptable("ok ok ok ok ok ok ok ok ok", context, "")
    assert not _acceptable("#11\n\n#12\n\n#13", context, "")  # counting, seen in the demo
    assert not _acceptable("1. 2. 3. 4.", context, "")
    assert _acceptable("meet at 10:30, gate 12", context, "")
    assert _acceptable("👍", context, "")
    assert not _acceptable("see", context, "see")  # nothing beyond what was typed
    assert _acceptable("see you at 8", context, "see")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"temperature": 0}, "--temperature must be above 0"),
        ({"top_p": 1.5}, "--top-p must be above 0 and at most 1"),
        ({"max_new_tokens": 0}, "--max-new-tokens must be at least 1"),
    ],
)
def test_bad_sampling_settings_are_one_line_errors(llama, setting, message):
    with pytest.raises(TwinchatError, match=message):
        llama.suggest(CONTEXT, as_="Sam", **setting)


def test_a_loaded_run_keeps_its_description(hike_llama_run, tmp_path):
    """The apps read the run's context window from the suggester; a run trained before the
    window was recorded loads with prepare's defaults."""
    loaded = Suggester.load(hike_llama_run)
    described = RunDescription.read(hike_llama_run)
    assert loaded.description == described and described.window == ContextWindow()
    assert loaded.speakers == list(described.speakers) and loaded.sampling == described.sampling
    assert loaded.max_source_tokens == described.max_source_tokens == 512
    old = tmp_path / "old"
    shutil.copytree(hike_llama_run, old, ignore=shutil.ignore_patterns("checkpoints", "tensor*"))
    written = json.loads((old / "twinchat.json").read_text(encoding="utf-8"))
    del written["window"]
    (old / "twinchat.json").write_text(json.dumps(written), encoding="utf-8")
    assert Suggester.load(old).description.window == ContextWindow()


def test_an_untuned_models_export_is_not_a_run(tmp_path):
    RunDescription(backend="ct2", quantization="int8", source_model="bundled:x").write(tmp_path)
    with pytest.raises(TwinchatError, match="is an export of bundled:x, not of a run"):
        Suggester.load(tmp_path)
