"""The model's one thread: every suggester call runs there, one at a time, behind a queue of
bounded length; and the glibc heap settings that let a burst's memory go back to the system."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from fastapi import HTTPException, Request

from twinchat.data.example import Turn
from twinchat.errors import TwinchatError

if TYPE_CHECKING:
    from twinchat.inference.suggester import Suggester

log = logging.getLogger(__name__)
T = TypeVar("T")

GONE = "twinchat.gone"
"""The scope key of a request's `threading.Event`, set when its client disconnects."""


class _Gone(Exception):
    """The client left while its request waited for the model."""


class ModelWorker:
    """The suggester on one thread of its own: a PyTorch module is not thread-safe, and on a CPU
    that one call already keeps busy, one call at a time is also the fastest order.

    One thread, not a pool's next free one behind a lock: glibc gives each thread a heap (an
    arena) of its own, and one maximum-size request takes ~150 MB there for a moment (the whole
    conversation tokenized before the newest tokens are kept). Spread over a pool's threads, a
    burst left each thread's heap at that high-water mark: 8 queued requests took a tiny
    model's server from 0.4 to 1.3 GB, and the memory stayed. On one thread each call reuses
    what the last one freed.

    It also keeps the queue's length (the guard refuses requests beyond `max_queue`) and how
    long a call takes, to tell a refused client when to come back.
    """

    def __init__(self, suggester: Suggester, max_queue: int = 8):
        self.suggester = suggester
        # Its thread starts with the first call, and ends when the app is collected.
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="twinchat-model")
        self.max_queue = max_queue
        self.queued = 0  # changed on the event loop only
        self.seconds = 1.0  # a moving average of one call

    def enter(self) -> int | None:
        """Take a place in the queue; None when it is full, with the seconds to wait."""
        if self.queued >= self.max_queue:
            return max(1, math.ceil(self.seconds * self.queued))
        self.queued += 1
        return None

    def leave(self) -> None:
        self.queued -= 1
        if not self.queued:
            trim()  # a burst's bodies and tokens are freed: hand the pages back to the system

    async def run(
        self, request: Request, what: str, turns: Sequence[Turn], call: Callable[[], T]
    ) -> tuple[T, float]:
        """The call's result and the milliseconds the request spent, queueing included.

        Raises:
            HTTPException: 422 for a TwinchatError (an unknown speaker, a bad setting); 499 when
                the client left before its turn.
        """
        arrived = time.perf_counter()
        chars = sum(len(t.text) for t in turns)
        gone = request.scope.get(GONE) or threading.Event()
        try:
            future = self.thread.submit(self._turn, gone, arrived, call)
            result, waited = await asyncio.wrap_future(future)
        except _Gone:
            log.info("%s: client gone while queued, skipped", what)
            # 499, as nginx logs it: the client closed the request; nobody reads this answer.
            raise HTTPException(499, "the client closed the request") from None
        except TwinchatError as error:
            log.info("%s: rejected: %d messages, %d chars", what, len(turns), chars)
            raise HTTPException(422, str(error)) from None
        total = (time.perf_counter() - arrived) * 1000
        log.info(
            "%s: %d messages, %d chars, %.0f ms queued, %.0f ms in all",
            what, len(turns), chars, waited, total,
        )  # fmt: skip
        return result, round(total, 1)

    def _turn(
        self, gone: threading.Event, arrived: float, call: Callable[[], T]
    ) -> tuple[T, float]:
        """The call, on the model's thread, unless its client left while it waited."""
        waited = (time.perf_counter() - arrived) * 1000
        if gone.is_set():
            raise _Gone
        started = time.perf_counter()
        try:
            return call(), waited
        finally:
            self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - started)


def trim() -> bool:
    """Hand the heap's free pages back to the system: glibc keeps what a process frees for
    reuse, so after a burst the server would stay at its peak. Whether it could (glibc only).
    """
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def one_heap() -> bool:
    """Have every thread that starts from now on allocate from glibc's main heap, none from
    one of its own; whether it could (glibc only).

    The model's thread alone still left a burst's server 12 % above its idle memory: the
    tokenizer's and torch's threads kept heaps of their own, which a trim shrinks less well.
    With one heap it was 4 %. Its lock is shared, but the threads seldom allocate at once: the
    model runs one call at a time, and the event loop only parses the bodies.
    """
    return _LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, 1) == 1


M_ARENA_MAX = -8
"""mallopt's parameter for the most heaps (arenas) glibc keeps, from <malloc.h>."""
_LIBC = None
if (_found := ctypes.util.find_library("c")) and "libc.so" in _found:
    try:
        _LIBC = ctypes.CDLL(_found)
        _LIBC.malloc_trim  # noqa: B018 - musl has no malloc_trim
        _LIBC.mallopt  # noqa: B018
    except (OSError, AttributeError):
        _LIBC = None
