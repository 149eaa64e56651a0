"""The process's Instagram: one gateway and one helper pool, shared by handlers and jobs.

The pool lives in memory (cooldowns, budgets, one call per helper at a time) and is
mirrored to the helper table: `HelperAccountService.load_pool` brings in the helpers
that can read, `save_pool` writes their state back, so `/helpers` shows it and a
restart keeps cooldowns. When a helper is taken out (checkpoint, lost session) the
admins are told through `alert`, which the app wires to the transports.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from services.instagram.errors import InstagramError
from services.instagram.gateway import Gateway
from services.instagram.pool import HOURLY_BUDGET, Clock, Helper, HelperPool
from services.instagram.share_links import ShareResolver

# alert(message key, **values): rendered in each admin's language and sent by the bot layer;
# a value named `<name>_key` is itself a message key, rendered as `<name>`.
Alert = Callable[..., Awaitable[None]]


class Instagram:
    def __init__(
        self,
        gateway: Gateway,
        *,
        hourly_budget: int = HOURLY_BUDGET,
        max_wait: float = 30.0,
        patience: float = 600.0,
        clock: Clock = time.time,
        shares: ShareResolver | None = None,
        burst: int | None = None,
    ) -> None:
        self.gateway = gateway
        # /share/ links by a plain request (None: only through a helper, as in the demo).
        self.shares = shares
        # Wall-clock seconds, so cooldowns can be stored and survive a restart.
        self.clock = clock
        # A scheduled check waits this long for a helper to cool down after a rate limit
        # (the backoff starts at a minute) rather than stop with posts unread; a spent
        # hourly budget still stops it. `max_wait` is for someone waiting in chat.
        self.patience = patience
        # `burst`: each helper's token bucket (HELPER_BURST in production; None in tests
        # and the demo, which are paced by the hour alone).
        self.pool = HelperPool([], hourly_budget=hourly_budget, max_wait=max_wait,
                               on_out=self._taken_out, clock=clock, burst=burst)
        self.alert: Alert | None = None

    async def _taken_out(self, username: str, error: InstagramError) -> None:
        if self.alert is not None:
            await self.alert("ig.admin.helper_out", username=username,
                             reason_key=f"ig.admin.{error.code}")

    def sync(self, usable: dict[str, tuple[dict, float]]) -> None:
        """Make the pool hold exactly these helpers: username -> (session, cooling until)."""
        for name in list(self.pool.helpers):
            if name not in usable:
                self.pool.remove(name)
        for name, (session, cooling_until) in usable.items():
            helper = self.pool.helpers.get(name)
            if helper is None or (helper.out and helper.session != session):
                # New, or logged in again after it was taken out: a fresh start.
                helper = Helper(name, session)
                self.pool.add(helper)
            elif helper.session != session and not helper.busy.locked():
                helper.session = session
            if cooling_until > self.clock():
                helper.status = "cooling"
                helper.cooldown_until = max(helper.cooldown_until, cooling_until)
