"""Chat first: the process's background work gives way while a chat event is answered.

A thousand-member check's first seconds read hundreds of posts at once, and each post's
work (its kept read looked up and decoded, its verdicts worked out) runs on the event
loop that answers the chat. The chat's answers are what a person waits for; the check's
posts are not. So the transports' dispatcher marks each incoming event while it is
being answered (`answering`), and the weekly checks await `give_way` before each step
of their own work: while an event is in flight, the step waits for the chat to be quiet.

The wait is bounded (`patience`, 0.25 s by default): a flood of chat can slow a check,
never stall it. And work that a chat event itself awaits (a member's "check now", an
admin's /verify run from the chat) never waits for the chat: it *is* the chat
(a context variable says so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The longest one step of background work waits for the chat to be quiet.
GIVE_WAY_AT_MOST = 0.25

# Set while the current task answers a chat event (its own work never waits for itself).
_ANSWERING: ContextVar[bool] = ContextVar("answering_chat", default=False)


class ChatFirst:
    """Counts the chat events in flight; background steps wait while there are any.

    Built once per process (services/container.py `Services.chat_first`). Not bound to
    an event loop: a waiter's future is made on the loop that waits."""

    def __init__(self, patience: float = GIVE_WAY_AT_MOST) -> None:
        self.patience = patience
        self._in_flight = 0
        self._waiters: set[asyncio.Future[None]] = set()
        # Seconds background steps spent giving way, and how many waited (for reports).
        self.waited = 0.0
        self.waits = 0

    @property
    def in_flight(self) -> int:
        """Chat events being answered now."""
        return self._in_flight

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Mark one chat event in flight for the block (nested marks count once each)."""
        self._in_flight += 1
        token = _ANSWERING.set(True)
        try:
            yield
        finally:
            _ANSWERING.reset(token)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._wake()

    async def give_way(self) -> None:
        """Return once no chat event is in flight, or after `patience` seconds at most;
        at once where none is, or where this task is answering one itself."""
        if self._in_flight == 0 or _ANSWERING.get():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.add(waiter)
        began = loop.time()
        try:
            await asyncio.wait({waiter}, timeout=self.patience)
        finally:
            self._waiters.discard(waiter)
            if not waiter.done():
                waiter.cancel()
            self.waited += loop.time() - began
            self.waits += 1

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
