"""Errors that are not a user's mistake reach the operator: the admins' chats hear of
them, rate-limited, and /healthz counts them.

Like python-telegram-bot's rules-bot error handler, but short and safe: a message says
what failed (the kind a caller names: "handler", "deferred work", "scheduled job
final") and the exception's type, never its text (it may hold a password, a token or
what a user typed) and never the traceback (the log has it). One message per kind and
exception type every ten minutes at most; the ones held back meanwhile are counted in
the next message, so a fault that repeats a thousand times is one message a window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.i18n import t
from services.messaging.notifier import Delivery
from storage.models import utcnow

log = logging.getLogger(__name__)
EVERY = timedelta(minutes=10)


@dataclass
class _Kind:
    """One kind of fault: when the admins last heard of it, and how many since."""

    told_at: datetime | None = None
    held: int = 0


class ErrorReport:
    """The process's faults (`Faults`, services/operations/faults.py): counted, and told to
    the admins."""

    def __init__(self, delivery: Delivery, clock: Callable[[], datetime] = utcnow,
                 every: timedelta = EVERY) -> None:
        self.delivery = delivery
        self.every = every
        self._now = clock
        self.total = 0
        self.last_at: datetime | None = None
        self.last_kind = ""
        self._kinds: dict[tuple[str, str], _Kind] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def report(self, kind: str, error: BaseException) -> None:
        """Count the fault; tell the admins unless this kind was told within `every`.
        Never raises, never waits: the message goes out on its own task."""
        now, name = self._now(), type(error).__name__
        self.total += 1
        self.last_at, self.last_kind = now, f"{kind} ({name})"
        seen = self._kinds.setdefault((kind, name), _Kind())
        if seen.told_at is not None and now - seen.told_at < self.every:
            seen.held += 1
            return
        held, seen.held, seen.told_at = seen.held, 0, now
        try:
            task = asyncio.get_running_loop().create_task(self._tell(kind, name, held))
        except RuntimeError:  # no event loop (a synchronous caller): the log has it
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _tell(self, kind: str, error: str, held: int) -> None:
        def render(language: str) -> str:
            text = t(language, "fault.admins", what=kind, error=error)
            return text + ("\n" + t(language, "fault.held", count=held) if held else "")

        try:
            await self.delivery.to_admins(render)
        except Exception:  # never a fault of its own: that could loop
            log.exception("the admins could not be told of a fault (%s, %s)", kind, error)

    async def settled(self) -> None:
        """Wait for the messages on their way (tests; a clean stop)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    def summary(self) -> str:
        """/healthz's line for the operator: errors since start, the last one's time and
        kind."""
        if self.last_at is None:
            return "none since start"
        return f"{self.total} since start; last {self.last_at:%Y-%m-%d %H:%M:%S}Z " \
               f"{self.last_kind}"
