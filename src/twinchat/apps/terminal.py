"""The terminal side of `twinchat chat`: your messages and commands in, the clones' out.

On a terminal it is a Rich screen: a colour per speaker, "… is typing" while a reply is made.
From a pipe or a file it is a script's tool: one message a line on stdin, every reply printed
on stdout as `Name: text` and nothing else there; notes and the starting conversation go to
stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from rich.console import Console
from rich.text import Text

from twinchat.apps.groupchat import CONTEXT, Entry, GroupChat
from twinchat.errors import TwinchatError

COMMANDS = "/as NAME (they answer now), /undo, /save FILE (/save! FILE replaces it), /quit"
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "red")


class Screen(Protocol):
    def read(self) -> str | None:
        """Your next line; None at the end of input."""
        ...

    def show(self, entry: Entry) -> None: ...

    def note(self, text: str) -> None:
        """A remark of the program, not a message of the chat."""
        ...

    def typing(self, name: str) -> AbstractContextManager[Any]: ...


class PlainScreen:
    """stdin and stdout as a script sees them: lines in, `Name: text` lines out."""

    def read(self) -> str | None:
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None

    def show(self, entry: Entry) -> None:
        stream = sys.stderr if entry.origin == CONTEXT else sys.stdout
        print(f"{entry.sender}: {entry.text}", file=stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def typing(self, name: str) -> AbstractContextManager[Any]:
        return nullcontext()


class RichScreen:
    """A terminal: a colour per speaker in a stable order, a spinner while one is typing."""

    def __init__(self, console: Console, me: str, members: Sequence[str]):
        self.console = console
        self.me = me
        self.colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(members)}

    def read(self) -> str | None:
        try:
            return self.console.input(Text.assemble((self.me, "bold"), ": "))
        except EOFError:
            self.console.print()
            return None

    def show(self, entry: Entry) -> None:
        line = Text.assemble((entry.sender, f"bold {self._colour(entry.sender)}"), ": ", entry.text)
        if entry.origin == CONTEXT:
            line.stylize("dim")
        self.console.print(line)

    def note(self, text: str) -> None:
        self.console.print(Text(text, style="dim italic"))

    def typing(self, name: str) -> AbstractContextManager[Any]:
        return self.console.status(Text(f"{name} is typing…", style=self._colour(name)))

    def _colour(self, name: str) -> str:
        if name == self.me:
            return ""
        # people of the starting conversation who are not in the chat get the next colours
        return self.colours.setdefault(name, PALETTE[len(self.colours) % len(PALETTE)])


def converse(chat: GroupChat, screen: Screen, turns: int) -> None:
    """Your messages and commands, each message answered by up to `turns` replies, until /quit
    or the end of input."""
    for entry in chat.transcript:
        screen.show(entry)
    screen.note(f"you are {chat.me}, with {', '.join(chat.members)} · {COMMANDS}")
    while (line := screen.read()) is not None:
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not _command(chat, screen, line, turns):
                return
            continue
        chat.say(line)
        _show(screen, chat.replies(turns, typing=screen.typing), "no one answered")


def simulation(chat: GroupChat, screen: Screen, count: int) -> None:
    """The starting conversation, then `count` messages of the clones among themselves."""
    for entry in chat.transcript:
        screen.show(entry)
    _show(screen, chat.simulate(count, typing=screen.typing), "no one had anything to say")


def _command(chat: GroupChat, screen: Screen, line: str, turns: int) -> bool:
    """Carry out a command; False when it ends the chat. A mistake is a note, never an end."""
    command, _, argument = line.partition(" ")
    argument = argument.strip()
    try:
        if command == "/quit":
            return False
        if command == "/as" and argument:
            replies = chat.answer_as(argument, turns, typing=screen.typing)
            _show(screen, replies, f"{argument} has nothing to say")
        elif command == "/undo":
            removed = chat.undo()
            plural = "" if removed == 1 else "s"
            screen.note(
                f"removed {removed} message{plural}" if removed else "nothing of yours to undo"
            )
        elif command in ("/save", "/save!") and argument:
            path = chat.save(argument, overwrite=command == "/save!")
            screen.note(
                f"saved {len(chat.transcript)} messages to {path} (twinchat prepare reads it)"
            )
        else:
            screen.note(f"unknown command {line}; commands: {COMMANDS}")
    except TwinchatError as error:
        screen.note(str(error))
    return True


def _show(screen: Screen, entries: Iterable[Entry], silence: str) -> None:
    shown = False
    for entry in entries:
        screen.show(entry)
        shown = True
    if not shown:
        screen.note(f"({silence})")
