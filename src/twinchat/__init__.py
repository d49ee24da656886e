"""twinchat: turn exported chat history into a model that replies like the people in it.

    from twinchat import read_export, build_examples, prepare
    examples = list(build_examples(read_export("result.json")))

Names are imported on first use, so that `twinchat --help` starts instantly.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"
_WHERE = {
    "BuildOptions": "twinchat.data.builder",
    "build_examples": "twinchat.data.builder",
    "Example": "twinchat.data.example",
    "Turn": "twinchat.data.example",
    "Kind": "twinchat.data.message",
    "Message": "twinchat.data.message",
    "PrepareOptions": "twinchat.data.options",
    "prepare": "twinchat.data.prepare",
    "read_export": "twinchat.data.readers",
    "TwinchatError": "twinchat.errors",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'twinchat' has no attribute '{name}'")
    return getattr(import_module(_WHERE[name]), name)
