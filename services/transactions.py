"""One transaction at a time per task, checked where transactions open.

On SQLite a second transaction opened while the task still holds one waits for the
first one's writer lock (the process's queue, then the database's), which the first
never releases: the task hangs. On PostgreSQL the second would not see the first's
uncommitted rows. So a task never nests two. `Services.transaction()`, `reading()` and
the verifier's own transactions enter `alone()`; nesting raises `NestedTransaction` in
tests (the suite turns the check on) and logs a warning in production, where a hang is
better explained than a crash mid-event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

# (the task that opened it, what it is): a task made inside a transaction copies the
# value, and its own transactions are not nested in its creator's.
_OPEN: ContextVar[tuple[asyncio.Task[object] | None, str] | None] = ContextVar(
    "autogram_open_transaction", default=None)
_strict = False
# What strict mode raised, kept even when a caller swallowed the exception (a job that
# logs any failure and goes on): the test suite fails the test that did it.
_raised: list[str] = []


class NestedTransaction(RuntimeError):
    """A transaction was opened inside another of the same task."""


def fail_on_nesting(on: bool = True) -> None:
    """Raise on a nested transaction (the tests) instead of logging it."""
    global _strict
    _strict = on


@contextmanager
def alone(kind: str) -> Iterator[None]:
    """Mark the task as inside a `kind` transaction for the block; a transaction the
    task already holds is reported first, before any lock is waited for."""
    task = asyncio.current_task()
    held = _OPEN.get()
    if held is not None and held[0] is task:
        message = f"a {kind} transaction opened inside a {held[1]} transaction of the same task"
        if _strict:
            _raised.append(message)
            raise NestedTransaction(message)
        log.warning("%s: on SQLite this waits forever", message, stack_info=True)
    token = _OPEN.set((task, kind))
    try:
        yield
    finally:
        _OPEN.reset(token)


def nestings_raised() -> list[str]:
    """The nestings strict mode raised since the last call (and forget them)."""
    found = _raised[:]
    _raised.clear()
    return found


def inside() -> str | None:
    """The kind of transaction this task holds now (None: none)."""
    held = _OPEN.get()
    return held[1] if held is not None and held[0] is asyncio.current_task() else None
