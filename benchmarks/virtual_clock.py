"""An event loop whose clock jumps ahead whenever the only thing left to do is wait.

The verification benchmark runs the product's real pacing (the instagrapi gateway's
pause before each request, on the event loop), the helper pool's hourly budget and its
cooldowns, which in production stretch a week's check over hours. Here they pass on a
virtual clock: when no worker thread is running, no database connection is checked out
and no socket is ready, the loop moves its clock to the next timer at once. Real work
(HTTP to the fake Instagram, the database, the product's own code) still takes its real
time, which the clock includes. The product's threads are its own (the gateway's small
pool for the HTTP, the default executor): the clock adds none.

    clock = VirtualClock()
    clock.run(main())            # main() sees loop.time() and clock.wall() move on
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
POLL = 0.02  # real seconds between looks while real work is under way


class VirtualClock:
    def __init__(self) -> None:
        self.offset = 0.0
        self.busy = 0  # threads running, connections checked out (changed on the loop)
        self.epoch = time.time() - time.monotonic()
        self.loop: _Loop | None = None

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def wall(self) -> float:
        """Seconds since 1970 on the virtual clock (the helper pool's clock)."""
        return self.epoch + self.monotonic()

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        loop = self.loop = _Loop(self)
        try:
            return loop.run_until_complete(main)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def watch(self, engine: AsyncEngine) -> None:
        """A connection in use is real work: the clock waits for it."""
        def checkout(*_: Any) -> None:
            self.busy += 1

        def checkin(*_: Any) -> None:
            self.busy -= 1

        def connecting(*_: Any) -> None:  # a new connection is being made (its timeout!)
            self.busy += 1

        def connected(*_: Any) -> None:
            self.busy -= 1

        dialect = engine.sync_engine.dialect
        ping = dialect.do_ping

        def pinging(connection: Any) -> bool:
            # pool_pre_ping asks the server before the checkout event: real work too,
            # else the clock jumps to the next timer while the answer is on its way.
            self.busy += 1
            try:
                return bool(ping(connection))
            finally:
                self.busy -= 1

        dialect.do_ping = pinging  # type: ignore[method-assign]
        event.listen(engine.sync_engine, "do_connect", connecting)
        event.listen(engine.sync_engine.pool, "connect", connected)
        event.listen(engine.sync_engine.pool, "checkout", checkout)
        event.listen(engine.sync_engine.pool, "checkin", checkin)


class _Selector(selectors.DefaultSelector):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:  # type: ignore[override]
        events = super().select(0)
        if events or timeout == 0:
            return events
        if self.clock.busy > 0 or timeout is None:
            return super().select(POLL if timeout is None else min(timeout, POLL))
        self.clock.offset += timeout  # nothing but waiting: the next timer is due now
        return []


class _Loop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_Selector(clock))
        self.clock = clock

    def time(self) -> float:
        return self.clock.monotonic()

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        self.clock.busy += 1
        future = super().run_in_executor(executor, func, *args)

        def finished(_: asyncio.Future[Any]) -> None:
            self.clock.busy -= 1

        future.add_done_callback(finished)
        return future
