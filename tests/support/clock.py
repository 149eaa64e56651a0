"""The tests' clock: the container is built on it once, and a test moves it (the
container itself is never patched)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


class Clock:
    """A clock a test moves by hand (`clock.now = ...`), or that follows another one
    (`clock.follow(utcnow)`: the demo site, seeded on today's date)."""

    def __init__(self, now: datetime) -> None:
        self._fixed = now
        self._follows: Callable[[], datetime] | None = None

    @property
    def now(self) -> datetime:
        return self._follows() if self._follows is not None else self._fixed

    @now.setter
    def now(self, moment: datetime) -> None:
        self._fixed, self._follows = moment, None

    def follow(self, source: Callable[[], datetime]) -> None:
        self._follows = source

    def __call__(self) -> datetime:
        return self.now
