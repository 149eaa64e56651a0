"""Faults that are not a user's mistake (a handler or a job that raised), as the layers
below the bot see them: they report one, the bot layer (bot/error_report.py) counts it
for /healthz and tells the admins, rate-limited.

A kind names where it failed ("handler", "deferred work", "job week_open"), never what a
user typed: a kind and the exception's type are all a report carries.
"""

from __future__ import annotations

from typing import Protocol


class Faults(Protocol):
    def report(self, kind: str, error: BaseException) -> None:
        """Note a fault; never raises and never waits (telling the admins runs apart)."""
        ...

    def summary(self) -> str:
        """For the operator (/healthz): faults since start, the last one's time and kind."""
        ...


class NotReported:
    """Where nothing counts faults (a bare container in a test or a script): the caller's
    own log line is all there is."""

    def report(self, kind: str, error: BaseException) -> None:
        return None

    def summary(self) -> str:
        return "not counted here"
