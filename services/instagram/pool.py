"""Helper accounts serve the reads: least recently used first, each one call at a time.

A helper that is rate-limited cools down with exponential backoff and the work moves
to the next one; one that hits a checkpoint or loses its session is taken out and the
admins are told (`on_out`); each helper keeps an hourly budget of requests (every HTTP request of a
call is counted through its CallMeter, so a post read in 14 pages costs 14), and the
pool waits for a helper or moves on rather than exceed it. When no helper is usable within
`max_wait`, the caller gets NoHelperAvailable, never a hang.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from services.instagram.errors import (
    ActionBlocked,
    CheckpointRequired,
    InstagramError,
    NetworkError,
    NoHelperAvailable,
    RateLimited,
    SessionExpired,
)
from services.instagram.gateway import CURRENT_METER, CallMeter, Session

T = TypeVar("T")
Clock = Callable[[], float]
OnOut = Callable[[str, InstagramError], Awaitable[None]]

BASE_COOLDOWN = 60.0  # seconds after a first rate limit; doubles each time after
MAX_COOLDOWN = 6 * 3600.0
NETWORK_COOLDOWN = 5.0
_OUTCOMES = itertools.count(1)  # orders the outcomes of calls (see Helper.last_ok)


@dataclass
class Helper:
    username: str
    session: Session = field(repr=False)
    # "ready", "cooling" (until cooldown_until), "checkpoint" or "expired" (taken out).
    status: str = "ready"
    cooldown_until: float = 0.0
    strikes: int = 0  # rate limits in a row, for the backoff
    failures: int = 0
    last_used: float = 0.0
    # The order (a running count over all calls) in which a call of this helper last
    # succeeded, and last failed for a reason that was not the post's or profile's own
    # (a rate limit, the network, a block): 0 never.
    last_ok: int = 0
    last_failed: int = 0
    calls: deque[float] = field(default_factory=deque)  # one time per request sent
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def out(self) -> bool:
        return self.status in {"checkpoint", "expired"}


class HelperPool:
    def __init__(
        self,
        helpers: list[Helper],
        *,
        hourly_budget: int = 180,
        max_wait: float = 30.0,
        on_out: OnOut | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.helpers = {h.username: h for h in helpers}
        self.hourly_budget = hourly_budget
        self.max_wait = max_wait
        self.on_out = on_out
        self.clock = clock
        self._changed = asyncio.Condition()

    def _spent(self, helper: Helper, now: float) -> bool:
        while helper.calls and helper.calls[0] <= now - 3600:
            helper.calls.popleft()
        return len(helper.calls) >= self.hourly_budget

    def _ready_at(self, helper: Helper, now: float) -> float:
        """When this helper may next be used (now, or later); inf when it is out."""
        if helper.out:
            return float("inf")
        at = max(now, helper.cooldown_until)
        if self._spent(helper, now):
            at = max(at, helper.calls[0] + 3600)
        return at

    def usable(self) -> int:
        """Helpers that can take work now or after a cooldown (for sizing parallel reads)."""
        return sum(1 for h in self.helpers.values() if not h.out)

    def healthy(self, username: str) -> bool:
        """Whether this helper's reads are going through: a call of it succeeded after
        its last failure that was not about a post's own state (a "not found" from a
        helper whose other reads are failing, or not proven yet, is no evidence that
        the post is gone)."""
        helper = self.helpers.get(username)
        return helper is not None and helper.last_ok > helper.last_failed

    def free_now(self) -> bool:
        """Whether a helper could take a read at once (a submission's quick look)."""
        helper, _, _ = self._pick()
        return helper is not None

    def _pick(self, avoid: frozenset[str] = frozenset()) -> tuple[Helper | None, float, bool]:
        """The least recently used helper free now; else how long until one that is not
        busy may be, and whether one is busy (it tells the waiters when it is done)."""
        now = self.clock()
        candidates = [h for h in self.helpers.values()
                      if h.username not in avoid and not h.out]
        idle = [h for h in candidates if not h.busy.locked()]
        free = [h for h in idle if self._ready_at(h, now) <= now]
        if free:
            return min(free, key=lambda h: h.last_used), 0.0, False
        later = [self._ready_at(h, now) - now for h in idle]
        return None, min(later, default=float("inf")), len(idle) < len(candidates)

    async def run(self, operation: Callable[[Session], Awaitable[T]], *,
                  avoid: frozenset[str] = frozenset(), max_wait: float | None = None) -> T:
        """Run a read as some helper (not one in `avoid`); rate limits and lost sessions
        move it to the next. Errors it lets through name the helper (`exc.helper`).
        A caller waits (without polling) for a busy helper to finish, and for a cooling
        one to be back up to `max_wait`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.max_wait if max_wait is None else max_wait)
        while True:
            async with self._changed:  # picked under the lock: no "done" is missed
                helper, wait, busy = self._pick(avoid)
                if helper is None:
                    # A busy helper is load, not an outage: its call ends (it has a
                    # timeout) and says so. Only cooling and spent ones count against
                    # `max_wait`.
                    left = deadline - loop.time()
                    if not busy and (left <= 0 or wait > left):
                        ready = None if wait == float("inf") else self.clock() + wait
                        raise NoHelperAvailable("no usable helper account", ready_at=ready)
                    pause = wait if busy else min(wait, left)
                    try:
                        await asyncio.wait_for(self._changed.wait(),
                                               None if pause == float("inf") else pause)
                    except TimeoutError:
                        pass
                    continue
            async with helper.busy:
                now = helper.last_used = self.clock()
                meter = CallMeter(parent=CURRENT_METER.get())
                token = CURRENT_METER.set(meter)
                try:
                    result = await self._watched(helper, operation)
                except RateLimited as exc:
                    # Rate limits in a row back off longer; one after answered requests
                    # (a long read that went on for a while) starts again from a minute.
                    helper.strikes = helper.strikes + 1 if meter.requests <= 1 else 1
                    backoff = BASE_COOLDOWN * 2 ** (helper.strikes - 1)
                    self._cool(helper, min(max(backoff, exc.retry_after), MAX_COOLDOWN))
                except ActionBlocked as exc:
                    # "feedback required": Instagram is watching this account; it stops at
                    # once and rests as long as Instagram asks (hours), and admins hear.
                    helper.failures += 1
                    self._cool(helper, exc.retry_after)
                    if self.on_out is not None:
                        await self.on_out(helper.username, exc)
                except NetworkError as exc:
                    # Instagram did not answer this read: the caller decides (the
                    # verification marks the post unknown); the helper rests a moment.
                    helper.failures += 1
                    self._cool(helper, NETWORK_COOLDOWN)
                    exc.helper = helper.username
                    raise
                except (CheckpointRequired, SessionExpired) as exc:
                    helper.failures += 1
                    helper.status = "checkpoint" if isinstance(exc, CheckpointRequired) \
                        else "expired"
                    if self.on_out is not None:
                        await self.on_out(helper.username, exc)
                except InstagramError as exc:  # about the post or profile, not the helper
                    exc.helper = helper.username
                    raise
                else:
                    helper.strikes, helper.status = 0, "ready"
                    return result
                finally:
                    meter.stop()  # a call given up sends nothing more
                    CURRENT_METER.reset(token)
                    helper.calls.extend([now] * max(1, meter.requests))
                    async with self._changed:
                        self._changed.notify_all()

    async def _watched(self, helper: Helper, operation: Callable[[Session], Awaitable[T]]
                       ) -> T:
        """The call, with the helper's health noted (see `healthy`)."""
        try:
            result = await operation(helper.session)
        except InstagramError as exc:
            if isinstance(exc, (RateLimited, ActionBlocked, NetworkError, CheckpointRequired,
                                SessionExpired)):
                helper.last_failed = next(_OUTCOMES)
            raise
        except Exception:
            helper.last_failed = next(_OUTCOMES)
            raise
        helper.last_ok = next(_OUTCOMES)
        return result

    def _cool(self, helper: Helper, seconds: float) -> None:
        helper.status = "cooling"
        helper.cooldown_until = self.clock() + seconds
