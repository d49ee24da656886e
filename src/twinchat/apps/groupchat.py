"""A group chat with the clones of a run: you write as one person, the model decides who answers
and answers as them, several in a row when that is what the chat would do.

    chat = GroupChat(Suggester.load("runs/friends"), me="Ana")
    chat.say("anyone up for a hike on saturday?")
    for entry in chat.replies(limit=3):
        print(f"{entry.sender}: {entry.text}")
    chat.save("hike.json")  # a Telegram export: twinchat prepare reads it

Who writes next is drawn from the model's own odds (`Suggester.next_speakers`). Your message
always gets an answer from one of the members; after that, each member writes next with the
probability the model gives their name, and the turn comes back to you with the rest, the
chance that anyone else writes (so it works for a `me` the model never saw). A member may
write twice in a row, as people do. A reply is the best of a few sampled candidates
(`Suggester.suggest(as_=name, n=1)`), beam search when sampling leaves none. The model reads
the end of the transcript as `prepare` cut the contexts the run learnt from: the window in its
`twinchat.json` (messages, characters, session gap).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twinchat.atomic import write_private
from twinchat.data.example import Turn
from twinchat.errors import TwinchatError
from twinchat.inference.suggester import Suggester, listed

CONTEXT, YOU, CLONE = "context", "you", "clone"
"""Where a transcript entry came from: the conversation given to start with, you, a clone."""

DEFAULT_MEMBERS = 8
"""Without `members`, the people the run knows best (it lists them by messages) join, this many."""

Typing = Callable[[str], AbstractContextManager[Any]]
"""Given a member's name, a context entered while their reply is made ("… is typing")."""


def _quiet(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class Entry:
    """One message of the transcript."""

    sender: str
    text: str
    time: datetime
    origin: str


class GroupChat:
    """You (`me`, a speaker of the run or a newcomer) and the clones of `members` (default: the
    `DEFAULT_MEMBERS` people who wrote most, you aside)."""

    def __init__(
        self,
        suggester: Suggester,
        me: str,
        members: Sequence[str] | None = None,
        context: Sequence[Turn] = (),
        seed: int | None = None,
        greedy: bool = False,
        **sampling: Any,
    ):
        """`sampling` overrides the run's settings (temperature, top_p…); `greedy` takes the
        likeliest speaker and reply every time.

        Raises:
            TwinchatError: a member the model does not know, or no one to chat with.
        """
        self.suggester = suggester
        self.me = me.strip()
        self.members = _members(suggester.speakers, self.me, members)
        self.seed = seed
        self.greedy = greedy
        self.sampling = sampling
        self.random = random.Random(seed)
        self.started = datetime.now(UTC)
        self.transcript = [
            Entry(t.sender, t.text, self.started - timedelta(minutes=len(context) - i), CONTEXT)
            for i, t in enumerate(context)
        ]

    @property
    def turns(self) -> list[Turn]:
        """The transcript as the model sees it: its end, cut as `prepare` cut the contexts the
        run learnt from (the run's window: messages, characters, no silence of the gap)."""
        if not self.transcript:
            return []
        timed = [(e.time, Turn(e.sender, e.text)) for e in self.transcript]
        # measured from the last message, so a pause before /as still answers the chat
        return self.suggester.description.window.session(timed, self.transcript[-1].time)

    def say(self, text: str) -> Entry:
        """Add your message.

        Raises:
            TwinchatError: the message is empty.
        """
        if not text.strip():
            raise TwinchatError("an empty message: write some text")
        return self._add(self.me, text.strip(), YOU)

    def replies(self, limit: int = 3, typing: Typing = _quiet) -> Iterator[Entry]:
        """The members' answers to the transcript so far, each yielded as soon as it is made,
        until the model gives the turn back to you or `limit` have come."""
        return self._messages(limit, None, hand_back=True, typing=typing)

    def answer_as(self, name: str, limit: int = 3, typing: Typing = _quiet) -> Iterator[Entry]:
        """`name` answers now (nothing comes when they have nothing to say); then the chat goes
        on as after a reply, up to `limit` messages in all.

        Raises:
            TwinchatError: `name` is not a member of this chat.
        """
        if name not in self.members:
            raise TwinchatError(f"{name} is not in this chat; members: {', '.join(self.members)}")
        return self._messages(limit, name, hand_back=True, typing=typing)

    def simulate(self, count: int, typing: Typing = _quiet) -> Iterator[Entry]:
        """`count` messages of the members among themselves, no turn for you."""
        return self._messages(count, None, hand_back=False, typing=typing)

    def undo(self) -> int:
        """Remove your last message and the replies after it; how many messages went (0 when
        you have written nothing yet)."""
        yours = [i for i, entry in enumerate(self.transcript) if entry.origin == YOU]
        if not yours:
            return 0
        removed = len(self.transcript) - yours[-1]
        del self.transcript[yours[-1] :]
        return removed

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the transcript as a Telegram Desktop single-chat export (what `twinchat
        prepare` reads), whole or not at all, readable by you only.

        Raises:
            TwinchatError: nothing to save yet, the file exists and `overwrite` is not set, or
                the file cannot be written there.
        """
        if not self.transcript:
            raise TwinchatError("nothing to save yet: the chat is empty")
        path = Path(path).expanduser()
        if path.is_dir():
            raise TwinchatError(f"{path} is a folder; give a file name to save the chat to")
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise TwinchatError(f"{path} exists; /save! {path} replaces it, or choose another name")
        export = telegram_export(self.transcript, self.title, int(self.started.timestamp()))
        try:
            write_private(path, json.dumps(export, ensure_ascii=False, indent=1) + "\n")
        except OSError as error:
            raise TwinchatError(
                f"cannot write {path}: {error.strerror or error}; choose another file"
            ) from None
        return path

    @property
    def title(self) -> str:
        return f"twinchat: {', '.join([self.me, *self.members])}"

    def _messages(
        self, limit: int, forced: str | None, hand_back: bool, typing: Typing
    ) -> Iterator[Entry]:
        """Up to `limit` messages by members; `forced` writes the first. A member with nothing
        to say is passed over until someone else has written."""
        written = 0
        silent: set[str] = set()
        while written < limit:
            name = forced or self._draw(silent, hand_back and written > 0)
            if name is None or name == self.me:
                return
            with typing(name):
                text = self._reply(name)
            if text is None:
                if forced:
                    return
                silent.add(name)
                continue
            forced, silent, written = None, set(), written + 1
            yield self._add(name, text, CLONE)

    def _draw(self, silent: set[str], yours: bool) -> str | None:
        """Who writes next: a member, or you (`yours`) with the odds left to anyone else."""
        among = [m for m in self.members if m not in silent]
        if not among:
            return None
        odds = self.suggester.next_speakers(self.turns, among)
        if yours:
            odds[self.me] = max(0.0, 1.0 - sum(odds.values()))
        if self.greedy:
            return max(odds, key=odds.__getitem__)
        if sum(odds.values()) <= 0:  # every name underflowed: nothing to go by
            return self.random.choice(among)
        return self.random.choices(list(odds), weights=list(odds.values()))[0]

    def _reply(self, name: str) -> str | None:
        """One reply by `name`, sampled, else by beam search; None when curation leaves none."""
        for greedy in (True,) if self.greedy else (False, True):
            seed = None if greedy or self.seed is None else self.random.randrange(2**31)
            candidates = self.suggester.suggest(
                self.turns, as_=name, n=1, greedy=greedy, seed=seed, **self.sampling
            )
            if candidates:
                return candidates[0].text
        return None

    def _add(self, sender: str, text: str, origin: str) -> Entry:
        entry = Entry(sender, text, datetime.now(UTC), origin)
        self.transcript.append(entry)
        return entry


def _members(known: Sequence[str], me: str, chosen: Sequence[str] | None) -> list[str]:
    """The clones in the chat: those chosen, or the people the model knows best but you."""
    if not me:
        raise TwinchatError("--me is empty; give the name you write as")
    shown = listed(known)
    if not chosen:
        # every draw scores each member's name: a run of a big channel knows hundreds
        members = [name for name in known if name != me][:DEFAULT_MEMBERS]
        if not members:
            raise TwinchatError(f"no one to chat with: the run knows only {shown or 'no one'}")
        return members
    for name in chosen:
        if name == me:
            raise TwinchatError(f"--with {name} is you (--me); choose others to chat with")
        if known and name not in known:
            raise TwinchatError(f"--with {name}: the run knows no one by that name; known: {shown}")
    return list(dict.fromkeys(chosen))


def telegram_export(entries: Sequence[Entry], name: str, chat_id: int) -> dict[str, Any]:
    """Entries as a Telegram Desktop single-chat export (../shared/reference/formats.md §1)."""
    senders: dict[str, str] = {}
    messages = []
    for number, entry in enumerate(entries, 1):
        sender_id = senders.setdefault(entry.sender, f"user{len(senders) + 1}")
        messages.append(
            {
                "id": number,
                "type": "message",
                # `date` is the exporting computer's local time, without an offset
                "date": entry.time.astimezone().replace(tzinfo=None).isoformat(timespec="seconds"),
                "date_unixtime": str(int(entry.time.timestamp())),
                "from": entry.sender,
                "from_id": sender_id,
                "text": entry.text,
                "text_entities": [{"type": "plain", "text": entry.text}],
            }
        )
    return {"name": name, "type": "private_group", "id": chat_id, "messages": messages}


def held_out_session(data: str | Path, seed: int | None = None) -> list[Turn]:
    """The opening of a conversation the run did not train on: the first example of a session
    of the dataset's validation split (its context and reply), the session drawn by `seed`.

    Raises:
        TwinchatError: the folder holds no held-out examples.
    """
    path = Path(data) / "validation.jsonl"
    if not path.is_file():
        raise TwinchatError(
            f"{data} has no validation.jsonl; give --data a folder written by twinchat prepare, "
            "or --context FILE"
        )
    first: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                first.setdefault(record["session"], record)
    if not first:
        raise TwinchatError(f"{path} is empty: prepare with a --holdout, or give --context FILE")
    record = first[random.Random(seed).choice(sorted(first))]
    opening = [Turn(t["sender"], t["text"]) for t in record["context"]]
    return [*opening, Turn(record["speaker"], record["text"])]
