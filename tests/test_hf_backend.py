"""The transformers backend's decoding loop: one reading of the conversation shared by every
draw, scores taken from the draw, prompts kept between calls, and the same ids and scores as
transformers' own `generate` and a plain teacher-forced pass."""

from __future__ import annotations

import pytest
from conftest import HIKE

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch

from twinchat.data.example import Turn
from twinchat.inference.backends.hf import PromptCache
from twinchat.inference.suggester import Sampling, Suggester

CONTEXT = [Turn(s, t) for s, t, _ in HIKE[:3]]


def prompt_for(suggester: Suggester, typed: str = "", messages=CONTEXT):
    return suggester._prompt(messages, suggester.format.reply_prefix("Sam", typed), typed)


def generate_reference(suggester: Suggester, prompt, max_new_tokens: int) -> list[int]:
    """transformers' own greedy `generate`, from scratch."""
    model, end = suggester.model, suggester.backend.end
    options = {"max_new_tokens": max_new_tokens, "do_sample": False, "eos_token_id": end}
    options["pad_token_id"] = suggester.tokenizer.pad_token_id
    with torch.no_grad():
        if suggester.backend.seq2seq:
            start = model.config.decoder_start_token_id
            head = [start, *prompt.forced]
            output = model.generate(
                input_ids=torch.tensor([prompt.context]),
                decoder_input_ids=torch.tensor([head]),
                **options,
            )
        else:
            head = prompt.context + prompt.forced
            output = model.generate(input_ids=torch.tensor([head]), **options)
    ids = output[0, len(head) :].tolist()
    return ids[: ids.index(end) + 1] if end in ids else ids


def teacher_forced(suggester: Suggester, prompt, ids: list[int]) -> float:
    """Mean log-probability of `ids` after the prompt by one plain forward pass, no cache."""
    model = suggester.model
    with torch.no_grad():
        if suggester.backend.seq2seq:
            start = model.config.decoder_start_token_id
            head = [start, *prompt.forced]
            logits = model(
                input_ids=torch.tensor([prompt.context]),
                decoder_input_ids=torch.tensor([head + ids[:-1]]),
            ).logits[0]
        else:
            head = prompt.context + prompt.forced
            logits = model(input_ids=torch.tensor([head + ids[:-1]])).logits[0]
    logp = logits[len(head) - 1 :].float().log_softmax(-1)
    return sum(logp[i, token].item() for i, token in enumerate(ids)) / len(ids)


@pytest.mark.parametrize("typed", ["", "perfect, se"])
def test_greedy_ids_are_transformers_greedy_ids_cached_or_not(suggester, typed):
    prompt = prompt_for(suggester, typed)
    settings = Sampling(max_new_tokens=12)
    suggester.backend.cache.clear()
    cold = suggester.backend.generate(prompt, 1, True, settings, suggester.speller())[0]
    warm = suggester.backend.generate(prompt, 1, True, settings, suggester.speller())[0]
    assert cold.ids == warm.ids
    if not typed:  # transformers' generate knows nothing of healing
        assert cold.ids == generate_reference(suggester, prompt, 12)
    assert suggester._decode(cold.ids).startswith(prompt.tail)


@pytest.mark.parametrize("typed", ["", "perfect, se"])
def test_draw_scores_are_the_teacher_forced_scores(suggester, typed):
    """Scores come from the draw, before temperature and the healing mask, and rank the
    candidates as a second teacher-forced pass would."""
    prompt = prompt_for(suggester, typed)
    suggester.backend.seed(4)
    settings = Sampling(temperature=1.5, max_new_tokens=10)
    draws = suggester.backend.generate(prompt, 6, False, settings, suggester.speller())
    assert len(draws) == 6
    forced = [teacher_forced(suggester, prompt, d.ids) for d in draws]
    assert [d.score for d in draws] == pytest.approx(forced, abs=1e-3)
    assert suggester.backend.score(prompt, [d.ids for d in draws]) == pytest.approx(
        forced, abs=1e-3
    )
    order = sorted(range(6), key=lambda i: -draws[i].score)
    assert order == sorted(range(6), key=lambda i: -forced[i])


MANY = [(CONTEXT, ""), (CONTEXT[:1], "perfect, se"), (CONTEXT[:2], "p"), (CONTEXT, "ok then")]
"""Conversations of different lengths, with and without a typed tail to heal."""


def test_prompts_drawn_together_give_each_its_own_greedy_ids(suggester):
    """Prompts padded into one batch draw what each draws alone (`twinchat eval`'s batches)."""
    from twinchat.inference.backends import Job

    prompts = [prompt_for(suggester, typed, messages) for messages, typed in MANY]
    settings = Sampling(max_new_tokens=10)
    speller = suggester.speller()
    alone = [suggester.backend.generate(p, 1, True, settings, speller)[0].ids for p in prompts]
    jobs = [Job(p, 1) for p in prompts]
    together = suggester.backend.generate_many(jobs, True, settings, speller)
    assert [draws[0].ids for draws in together] == alone
    for prompt, draws in zip(prompts, together, strict=True):
        assert suggester._decode(draws[0].ids).startswith(prompt.tail)


def test_draws_of_prompts_read_together_keep_their_teacher_forced_scores(suggester):
    from twinchat.inference.backends import Job

    prompts = [prompt_for(suggester, typed, messages) for messages, typed in MANY]
    suggester.backend.seed(2)
    settings = Sampling(temperature=1.5, max_new_tokens=8)
    jobs = [Job(p, 3) for p in prompts]
    together = suggester.backend.generate_many(jobs, False, settings, suggester.speller())
    assert [len(draws) for draws in together] == [3] * len(prompts)
    for prompt, draws in zip(prompts, together, strict=True):
        forced = [teacher_forced(suggester, prompt, d.ids) for d in draws]
        assert [d.score for d in draws] == pytest.approx(forced, abs=1e-3)


def test_suggest_many_curates_each_conversation_as_suggest_does(suggester):
    from twinchat.inference.suggester import Request

    requests = [Request(messages, "Sam", typed) for messages, typed in MANY]
    greedy = suggester.suggest_many(requests, n=1, greedy=True, max_new_tokens=10)
    alone = [
        suggester.suggest(
            r.messages, as_="Sam", prefix=r.prefix, n=1, greedy=True, max_new_tokens=10
        )
        for r in requests
    ]
    assert [[c.text for c in cs] for cs in greedy] == [[c.text for c in cs] for cs in alone]
    scores = [c.score for cs in greedy for c in cs]
    assert scores == pytest.approx([c.score for cs in alone for c in cs], abs=1e-4)
    sampled = suggester.suggest_many(requests, n=3, seed=0, temperature=1.5, max_new_tokens=10)
    assert len(sampled) == len(requests)
    for request, candidates in zip(requests, sampled, strict=True):
        assert len({c.text for c in candidates}) == len(candidates) <= 3
        assert all(
            c.speaker == "Sam" and c.text.startswith(request.prefix.strip()) for c in candidates
        )
        assert all(c.score <= 0 for c in candidates)


def test_a_keystroke_reads_only_its_new_tokens(llama):
    """Typeahead: the conversation is read once; each keystroke reads what follows the longest
    prefix already read (the typed text from where it changed)."""
    backend = llama.backend
    backend.cache.clear()
    before = backend.prefilled
    llama.complete(CONTEXT, "Sam", "p")
    first = backend.prefilled - before
    assert first == len(prompt_head(llama, "p"))
    previous = prompt_head(llama, "p")
    for typed in ["pe", "perf", "perfect", "perfect,", "perfect, se"]:
        head = prompt_head(llama, typed)
        before = backend.prefilled
        llama.complete(CONTEXT, "Sam", typed)
        new = len(head) - common(previous, head)
        assert backend.prefilled - before == max(new, 1)
        assert new < 5 < len(head)
        previous = head


def test_a_t5_keystroke_reads_only_the_reply_tokens_it_changed(t5):
    """A seq2seq model keeps its encoding of the conversation and its decoder's reading of the
    reply start: a keystroke reads neither again, only the typed tokens that changed."""
    backend = t5.backend
    backend.cache.clear()
    t5.complete(CONTEXT, "Sam", "p")
    previous = prompt_for(t5, "p").forced
    for typed in ["pe", "perf", "perfect", "perfect,", "perfect, se"]:
        forced, cold = prompt_for(t5, typed).forced, t5_cold(t5, typed)
        before, read = backend.decoded, backend.prefilled
        assert t5.complete(CONTEXT, "Sam", typed) == cold
        new = len(forced) - common(previous, forced)
        assert backend.decoded - before == max(new, 1)
        assert backend.prefilled == read
        previous = forced


def t5_cold(t5: Suggester, typed: str) -> str:
    """The completion with nothing kept."""
    kept = t5.backend.cache
    t5.backend.cache = PromptCache()
    try:
        return t5.complete(CONTEXT, "Sam", typed)
    finally:
        t5.backend.cache = kept


def test_a_new_message_reads_only_that_message(llama):
    """The group chat and the bot: the conversation grows, the cache grows with it."""
    llama.backend.cache.clear()
    llama.suggest(CONTEXT[:2], as_="Sam", n=2, seed=0)
    before = llama.backend.prefilled
    llama.suggest(CONTEXT, as_="Sam", n=2, seed=0)
    shorter, longer = prompt_head(llama, "", CONTEXT[:2]), prompt_head(llama, "", CONTEXT)
    assert llama.backend.prefilled - before == len(longer) - common(shorter, longer)


def test_suggest_reads_the_conversation_once(llama):
    """One reading for every draw and the ranking: no second pass, no copy per candidate."""
    llama.backend.cache.clear()
    before = llama.backend.prefilled
    llama.suggest(CONTEXT, as_="Sam", n=5, seed=1, temperature=1.5)
    assert llama.backend.prefilled - before == len(prompt_head(llama, ""))


def test_kept_prompts_are_bounded_in_count_and_bytes(llama):
    backend = llama.backend
    one_size = None
    backend.cache = PromptCache(entries=4)
    for i in range(12):  # twelve clients, each its own conversation
        messages = [*CONTEXT, Turn("Ana", f"client {i} says hi")]
        llama.complete(messages, "Sam", "ok")
        one_size = one_size or backend.cache.size
    assert len(backend.cache) == 4
    backend.cache = PromptCache(entries=100, max_bytes=int(one_size * 2.5))
    for i in range(12):
        llama.complete([*CONTEXT, Turn("Ana", f"client {i} says hi")], "Sam", "ok")
    assert len(backend.cache) == 2
    assert backend.cache.size <= one_size * 2.5
    backend.cache = PromptCache()


def test_a_prompt_that_extends_a_kept_one_replaces_it():
    cache = PromptCache()
    t = torch.zeros(1, 1, 3, 2)
    cache.put(("causal",), [1, 2, 3], ((t, t),))
    cache.put(("causal",), [1, 2, 3, 4], ((t, t),))
    cache.put(("causal",), [1, 2, 5], ((t, t),))
    assert len(cache) == 2
    assert cache.longest(("causal",), [1, 2, 3, 4, 9])[1] == 4
    assert cache.longest(("encoder",), [1, 2, 3])[0] is None


def prompt_head(suggester: Suggester, typed: str, messages=CONTEXT) -> list[int]:
    prompt = prompt_for(suggester, typed, messages)
    return prompt.context + prompt.forced


def common(a: list[int], b: list[int]) -> int:
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return length


def test_a_long_conversation_loses_its_oldest_tokens_a_block_at_a_time():
    """Past the limit the start moves in steps: a new message keeps the kept reading usable."""
    from twinchat.inference.suggester import CUT_STEP, _cut

    assert _cut(100, 512) == 0
    assert _cut(513, 512) == CUT_STEP
    assert _cut(512 + CUT_STEP, 512) == CUT_STEP
    assert _cut(513 + CUT_STEP, 512) == 2 * CUT_STEP
    for length in range(513, 900):
        assert 512 - CUT_STEP < length - _cut(length, 512) <= 512


def test_a_growing_long_conversation_is_not_read_again(llama):
    from twinchat.inference.suggester import _cut

    def length(messages) -> int:
        return len(llama.tokenizer(llama.format.source(messages))["input_ids"])

    llama.max_source_tokens = 128
    try:
        pairs = [Turn("Ana", "hi there"), Turn("Sam", "hello")]
        reply = Turn("Ana", "ok")
        # a conversation past the limit whose next message leaves its start where it is
        messages = next(
            pairs * k
            for k in range(20, 60)
            if _cut(length(pairs * k), 128) == _cut(length([*pairs * k, reply]), 128) > 0
        )
        llama.backend.cache.clear()
        llama.suggest(messages, as_="Sam", n=1, seed=0)
        before = llama.backend.prefilled
        llama.suggest([*messages, reply], as_="Sam", n=1, seed=0)
        assert llama.backend.prefilled - before < 10
    finally:
        llama.max_source_tokens = 512


@pytest.mark.parametrize("family", ["llama", "t5"])
def test_hf_int8_quantizes_the_run_as_it_loads_and_still_knows_the_chat(
    family, hike_llama_run, hike_t5_run
):
    """`--backend hf-int8`: every linear layer int8, the cached decoding loop unchanged."""
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    run = hike_llama_run if family == "llama" else hike_t5_run
    int8 = Suggester.load(run, backend="hf-int8")
    assert int8.backend.name == "hf-int8"
    layers = list(int8.model.modules())
    assert any(isinstance(m, QuantizedLinear) for m in layers)
    assert not any(type(m) is torch.nn.Linear for m in layers)
    exact = Suggester.load(run)
    assert int8.complete(CONTEXT, "Sam", "perfect, se") == exact.complete(
        CONTEXT, "Sam", "perfect, se"
    )
    (found, *_) = int8.suggest(CONTEXT, as_="Sam", n=2, greedy=True)
    assert found.speaker == "Sam" and found.text
