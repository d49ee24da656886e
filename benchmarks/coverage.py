"""What each tokenizer at hand loses of a chat: the bundled example and a multilingual chat.

    python benchmarks/coverage.py

Tokenizers: the bundled SmolLM2's (byte-level BPE; converted on first use), and the three the
tests build: a unigram learnt on Latin text only (FLAN-T5's case), a unigram learnt on the
chat's own text (mT5's case on covered scripts) and a byte-level BPE. Each is set up as
`twinchat train` would (a newline token added to seq2seq vocabularies that lack one) and
measured by `twinchat.data.coverage.measure` with its family's chat format. Not a timing: it prints
a table for the docs and closing notes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

MULTILINGUAL = [
    ("Дима", "привет! как дела? завтра идём в кино?"),
    ("Sara", "سلام! من فردا نمی‌تونم، ببخشید 🙏"),
    ("美咲", "明日は無理です…来週はどう？"),
    ("Wei", "我们周六见吧，七点在老地方 👍🏽"),
    ("Ana", "ok!! see you there\nI'll bring snacks {chips} <3"),
    ("Priya", "नमस्ते! मैं भी आऊँगी 😊"),
    ("Νίκος", "Καλησπέρα σε όλους, τα λέμε αύριο"),
    ("Jamie 🎸", "👨‍👩‍👧 family dinner first, then I'm in ✌️"),
    ("Дима", "отлично\nтогда до субботы"),
    ("Ana", "café at 7? ça marche pour moi — Zoë"),
] * 20


def main() -> None:
    tiny = _tiny_models()
    work = Path(tempfile.mkdtemp(prefix="twinchat-coverage-"))
    bundled = _bundled_examples(work)
    chats = {
        "bundled example (IRC, English)": bundled,
        "multilingual chat (10 scripts)": MULTILINGUAL,
    }
    own_text = [text for _, text in MULTILINGUAL] + [name for name, _ in MULTILINGUAL]
    tokenizers = {
        "bundled:smollm2-135m (byte-level BPE)": _bundled_tokenizer(),
        "unigram, Latin text only (FLAN-T5's case)": _load(tiny.make_tiny_t5(work / "latin")),
        "unigram, the chat's own text (mT5's case)": _load(
            tiny.make_tiny_t5(work / "own", own_text * 5 + tiny.chat_texts())
        ),
        "byte-level BPE, 400 tokens (tests)": _load(tiny.make_tiny_llama(work / "bpe")),
    }
    print("| tokenizer | chat | characters lost | messages with a loss | most lost | names lost "
          "| boundaries |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (tokenizer, family) in tokenizers.items():
        for chat, pairs in chats.items():
            print(_row(name, chat, tokenizer, family, pairs))


def _row(name: str, chat: str, tokenizer: Any, family: str, pairs: list) -> str:
    from twinchat.data.coverage import measure, shown
    from twinchat.data.formats import format_for

    coverage = measure(tokenizer, pairs, chat_format=format_for(family, tokenizer), limit=None)
    total = coverage.total
    top = " ".join(f"{shown(c)}×{n}" for c, n in total.top[:6]) or "–"
    lost = coverage.lost_names
    names = (
        f"{len(lost)}: {', '.join(lost[:3])}{', …' if len(lost) > 3 else ''}" if lost else "none"
    )
    boundaries = coverage.boundary_problem or "kept"
    return (
        f"| {name} | {chat} | {total.character_share:.1%} ({total.lost_characters:,} of "
        f"{total.characters:,}) | {total.message_share:.1%} | {top} | {names} | {boundaries} |"
    )


def _load(folder: Path) -> tuple[Any, str]:
    from transformers import AutoConfig, AutoTokenizer

    from twinchat.models import family_of, for_training

    family = family_of(AutoConfig.from_pretrained(folder))
    return for_training(AutoTokenizer.from_pretrained(folder), family), family


def _bundled_tokenizer() -> tuple[Any, str]:
    from twinchat.bundled import model_path

    return _load(model_path("bundled:smollm2-135m"))


def _bundled_examples(work: Path) -> list[tuple[str, str]]:
    from twinchat import prepare

    prepare(["bundled:ubuntu-irc"], work / "data")
    with (work / "data" / "messages.jsonl").open(encoding="utf-8") as handle:
        return [(m["sender"], m["text"]) for m in map(json.loads, handle)]


def _tiny_models() -> Any:
    spec = importlib.util.spec_from_file_location("tiny_models", REPO / "tests" / "tiny_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_models"] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
