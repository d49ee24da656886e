"""twinchat: turn exported chat history into a model that replies like the people in it.

from twinchat import read_export, build_examples, prepare
examples = list(build_examples(read_export("result.json")))
"""

from twinchat.builder import BuildOptions, build_examples
from twinchat.errors import TwinchatError
from twinchat.example import Example, Turn
from twinchat.message import Kind, Message
from twinchat.prepare import PrepareOptions, prepare
from twinchat.readers import read_export

__version__ = "0.1.0"
__all__ = [
    "BuildOptions",
    "Example",
    "Kind",
    "Message",
    "PrepareOptions",
    "Turn",
    "TwinchatError",
    "build_examples",
    "prepare",
    "read_export",
]
