"""The demo's choice of held-out conversations (the whole demo needs the bundled wheel and minutes:
`twinchat demo` is run by hand and in the README's first command)."""

from __future__ import annotations

import json

from twinchat.apps.demo import SHOWN, _held_out


def _write(path, speakers):
    context = [{"sender": f"p{i}", "text": "hello there"} for i in range(4)]
    with path.open("w", encoding="utf-8") as out:
        for index, speaker in enumerate(speakers):
            record = {
                "id": str(index), "chat": "c", "session": "s", "timestamp": None,
                "speaker": speaker, "text": "a reply of a few words", "context": context,
            }  # fmt: skip
            out.write(json.dumps(record) + "\n")


def test_held_out_prefers_people_the_model_trained_on(tmp_path):
    path = tmp_path / "validation.jsonl"
    _write(path, ["new1", "Ana", "new2", "Sam", "new3", "Ana", "new4"])
    chosen = _held_out(path, {"Ana", "Sam"})
    assert len(chosen) == SHOWN and {e.speaker for e in chosen} <= {"Ana", "Sam"}


def test_held_out_takes_new_people_when_too_few_are_known(tmp_path):
    path = tmp_path / "validation.jsonl"
    _write(path, ["new1", "Ana", "new2", "new3"])
    assert len(_held_out(path, {"Ana"})) == SHOWN
