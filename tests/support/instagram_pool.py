"""The helper pool's clock moved by its own waits, and an Instagram that notes when each
request came."""

from __future__ import annotations

from services.instagram.simulated import SimConfig, SimulatedInstagram


class FakeTime:
    """The pool's clock, moved on by the pool's own waits for a token (no real sleep)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Stamped(SimulatedInstagram):
    """The simulated Instagram, noting the pool clock's time of every request it gets."""

    def __init__(self, clock: FakeTime) -> None:
        super().__init__(SimConfig(calls_per_hour=10**9))
        self.clock = clock
        self.sent: dict[str, list[float]] = {}

    async def _call(self, operation: str, actor: str) -> None:
        await super()._call(operation, actor)  # admitted (or refused) inside
        if operation != "login":
            self.sent.setdefault(actor, []).append(self.clock())
