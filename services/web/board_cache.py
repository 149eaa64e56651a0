"""The public board's cache: each week's board (and each page and picture made from it)
is computed once for a short while, then served from memory, so a crowd of readers
after a link in the open chat never queues the chat's own requests behind 300-member
counts.

An entry lives `seconds` (WEB_BOARD_CACHE_SECONDS) and no longer than the week's
version: `Checks` bumps a week's version after each check of it (the only writer of
verdicts), so a check shows at once. What a check does not write (a link handed in, a
member added, a week recorded, a check run by another process) shows within `seconds`.

Concurrent misses of one key compute once: the first starts the computation and every
other reader waits for the same future. Each entry carries an ETag (a hash of what it
holds) and the moment it last changed, for `If-None-Match` / `If-Modified-Since`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class WeekVersions:
    """A counter per week, bumped whenever verdicts of that week were written."""

    def __init__(self) -> None:
        self._versions: dict[date, int] = {}
        self._all = 0  # bumped when every week changes (a member deleted)

    def bump(self, week_start: date) -> None:
        self._versions[week_start] = self._versions.get(week_start, 0) + 1

    def bump_all(self) -> None:
        self._all += 1

    def of(self, week_start: date) -> int:
        return self._versions.get(week_start, 0) + self._all


@dataclass(frozen=True)
class Entry(Generic[T]):
    value: T
    etag: str  # a weak validator (the web app may compress the body)
    changed: datetime  # when the value last changed (seconds, UTC): Last-Modified
    version: int
    made: float  # monotonic


def _etag(value: object) -> str:
    data = value if isinstance(value, bytes) else str(value).encode()
    return 'W/"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


# Seconds the board (its page and picture) is served from memory (the default of
# WEB_BOARD_CACHE_SECONDS).
BOARD_CACHE_SECONDS = 30.0


class BoardCache:
    def __init__(self, versions: WeekVersions, seconds: float = BOARD_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.versions = versions
        self.seconds = seconds
        self._monotonic = monotonic
        self._entries: dict[Hashable, Entry[object]] = {}
        self._pending: dict[Hashable, asyncio.Future[Entry[object]]] = {}

    def _fresh(self, entry: Entry[object] | None, week_start: date) -> bool:
        return entry is not None and entry.version == self.versions.of(week_start) and \
            self._monotonic() - entry.made < self.seconds

    async def get(self, key: Hashable, week_start: date,
                  compute: Callable[[], Awaitable[T]]) -> Entry[T]:
        """The entry for `key` (of the week starting `week_start`), computed if stale.
        The computation is a task of its own: a reader who leaves (a closed tab) does
        not cancel it for the others waiting on it."""
        entry = self._entries.get(key)
        if self.seconds > 0 and self._fresh(entry, week_start):
            return entry  # type: ignore[return-value]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._compute(key, week_start, entry, compute))
            self._pending[key] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(key, None))
        return await asyncio.shield(pending)  # type: ignore[return-value]

    async def _compute(self, key: Hashable, week_start: date, old: Entry[object] | None,
                       compute: Callable[[], Awaitable[T]]) -> Entry[object]:
        version = self.versions.of(week_start)  # read first: a check meanwhile wins
        value = await compute()
        tag = _etag(value)
        changed = old.changed if old is not None and old.etag == tag else \
            datetime.now(UTC).replace(microsecond=0)
        made: Entry[object] = Entry(value, tag, changed, version, self._monotonic())
        if self.seconds > 0:
            self._drop_old()
            self._entries[key] = made
        return made

    def _drop_old(self) -> None:
        """Forget stale entries (old weeks, a language nobody reads) now and then."""
        if len(self._entries) < 64:
            return
        now = self._monotonic()
        for key in [k for k, e in self._entries.items() if now - e.made >= self.seconds]:
            del self._entries[key]
