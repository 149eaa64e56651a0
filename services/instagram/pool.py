"""Helper accounts serve the reads: least recently used first, each one call at a time.

Every HTTP request a call makes is admitted by the pool before it is sent (the gateway
awaits the hook set on the call's CallMeter): admission stamps it in the helper's sliding
hour at that moment, and refuses it (HelperSpent, nothing sent) when it would take the
helper past its limit; the pool then moves the work to the next helper, and a resumable
read goes on from the request that was not sent. On top of the hour, a token bucket per
helper (`burst` requests at once, then one every 3600/budget seconds, waited on the event
loop) spreads a helper's hour instead of spending it in a few minutes.

A call may use only its `share` of each helper's hour (FINAL_SHARE, ROUTINE_SHARE,
ASKED_SHARE), so what members ask for never eats what the final check needs.

A helper that Instagram slows down cools as the answer asks (the README's table): a bare
429 a minute, doubling; "Please wait a few minutes" 15 minutes, doubling while it comes
back, at most 6 hours; "feedback required" hours (admins told); a checkpoint or a lost
session takes it out (admins told); a network fault a few seconds. Back from a throttle,
its first request goes alone (no burst) until a call of it succeeds. When no helper is
usable within `max_wait`, the caller gets NoHelperAvailable, never a hang.

A pick looks only at the helpers not busy, and a read that waits for one is handed the
first helper free for it when a call ends (or when a cooling one is back), first come
first served: a check with some 900 helpers and as many reads spent most of its CPU
looking at every helper for every read each time one freed.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from services.instagram.errors import (
    PLEASE_WAIT,
    THROTTLE,
    ActionBlocked,
    AllowanceSpent,
    CheckpointRequired,
    HelperSpent,
    InstagramError,
    NetworkError,
    NoHelperAvailable,
    RateLimited,
    SessionExpired,
)
from services.instagram.gateway import CURRENT_METER, CallMeter, Session

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
OnOut = Callable[[str, InstagramError], Awaitable[None]]

HOURLY_BUDGET = 150  # requests a helper may send in a sliding hour (Instagram bears ~200)
# The adapters' pace: a pause between two requests of one account, picked at random in
# this range (seconds), and how long one operation (all pages of a list) may take.
DELAY_RANGE = (1.0, 3.0)
CALL_TIMEOUT = 120.0
BASE_COOLDOWN = 60.0  # seconds after a bare 429; doubles while they go on
PLEASE_WAIT_COOLDOWN = 15 * 60.0  # after "Please wait a few minutes"; doubles while it comes back
MAX_COOLDOWN = 6 * 3600.0
NETWORK_COOLDOWN = 5.0
# After a "feedback required" answer to a read: a block meant for actions (comments,
# follows) that reads meet now and then. Half an hour, doubling while it comes back
# before a read goes through, up to what Instagram asks (hours).
FEEDBACK_COOLDOWN = 30 * 60.0
BLOCKED = "action_blocked"  # the cooling kind of a "feedback required"
NETWORK = "network"  # the cooling kind of a network fault or a 5xx

# The admin message (`ig.admin.<code>`) that says why a helper cools, by cooling kind:
# /helpers and /healthz show it beside the helper's rest.
COOLING_CODES = {THROTTLE: "throttled", PLEASE_WAIT: "rate_limited", BLOCKED: "action_blocked",
                 NETWORK: "transient"}

# The share of each helper's hour a call may use. The final check decides strikes and
# must never find the helpers spent: it may use all of it. The daily refresh and the
# re-checks leave it 30%; what members ask for (check now, a submission's author, a
# profile lookup) leaves it 70%, however often they ask.
FINAL_SHARE = 1.0
ROUTINE_SHARE = 0.7
ASKED_SHARE = 0.3
# The share of the calls made in this context (HelperPool.run's `share` wins).
CALL_SHARE: ContextVar[float] = ContextVar("helper_call_share", default=FINAL_SHARE)
_OUTCOMES = itertools.count(1)  # orders the outcomes of calls (see Helper.last_ok)


@dataclass
class _Waiter:
    """A read waiting for a helper (HelperPool.run)."""

    avoid: frozenset[str]
    share: float
    deadline: float  # the loop's time when its max_wait is over
    found: asyncio.Future[Helper | None]  # None: look again


@dataclass(frozen=True)
class _Timer:
    """The pool's next look for a helper back from a rest (on the loop that set it: a
    pool may outlive an event loop, in tests and the demo)."""

    loop: asyncio.AbstractEventLoop
    handle: asyncio.TimerHandle

    def when(self) -> float:
        return self.handle.when()


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
    # Why it is cooling: a RateLimited kind (THROTTLE, PLEASE_WAIT), BLOCKED or NETWORK.
    cooling_kind: str = ""
    # The token bucket: tokens left (below zero: reserved by a request waiting its turn)
    # as of `refilled` (0: never used, the bucket is full).
    tokens: float = 0.0
    refilled: float = 0.0
    # Back from a throttle: one request at a time (no burst) until a call succeeds.
    probation: bool = False

    @property
    def out(self) -> bool:
        return self.status in {"checkpoint", "expired"}


class HelperPool:
    def __init__(
        self,
        helpers: list[Helper],
        *,
        hourly_budget: int = HOURLY_BUDGET,
        max_wait: float = 30.0,
        on_out: OnOut | None = None,
        clock: Clock = time.monotonic,
        burst: int | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`burst`: the token bucket's size (None: no pacing beyond the hour, as in
        tests and the demo); `sleep` waits for a token (on the event loop)."""
        # Every helper, by name (read freely; joined and left through `add` / `remove`),
        # and those not busy with a call: a pick looks only at these, and a check of a
        # thousand-member week keeps most helpers busy (looking at each of ~900 helpers
        # for every pick, and again for each read waiting, was most of such a check's CPU).
        self.helpers: dict[str, Helper] = {}
        self._idle: dict[str, Helper] = {}
        self._busy: dict[str, Helper] = {}  # a call of theirs under way
        # Reads waiting for a helper, first come first served: a helper whose call ends
        # is handed to the first that may use it (not each waiter woken to look again:
        # with hundreds waiting, that was most of a big check's CPU).
        self._waiters: dict[int, _Waiter] = {}
        self._turns = itertools.count()
        self._timer: _Timer | None = None  # when the waiters are next handed helpers
        for helper in helpers:
            self.add(helper)
        self.hourly_budget = hourly_budget
        self.max_wait = max_wait
        self.on_out = on_out
        self.clock = clock
        self.burst = burst
        self.sleep = sleep

    def add(self, helper: Helper) -> None:
        """A helper joins the pool (or replaces the one of that name)."""
        self.helpers[helper.username] = helper
        if helper.busy.locked():
            self._idle.pop(helper.username, None)
        else:
            self._idle[helper.username] = helper
            self._hand_on()

    def remove(self, username: str) -> Helper | None:
        """A helper leaves the pool (a call of it under way ends as it would)."""
        self._idle.pop(username, None)
        return self.helpers.pop(username, None)

    def limit(self, share: float) -> int:
        """Requests in a sliding hour a call of this share may take a helper to."""
        return max(1, math.floor(self.hourly_budget * share + 1e-9))

    def used(self, helper: Helper, now: float | None = None) -> int:
        """Requests this helper sent in the last hour."""
        now = self.clock() if now is None else now
        while helper.calls and helper.calls[0] <= now - 3600:
            helper.calls.popleft()
        return len(helper.calls)

    def _spent(self, helper: Helper, now: float, share: float) -> bool:
        return self.used(helper, now) >= self.limit(share)

    def _ready_at(self, helper: Helper, now: float, limit: int) -> float:
        """When this helper may next be used with `limit` requests in its hour (now, or
        later); inf when it is out."""
        if helper.out:
            return float("inf")
        at = max(now, helper.cooldown_until)
        if self.used(helper, now) >= limit:  # enough of its hour has to pass first
            at = max(at, helper.calls[len(helper.calls) - limit] + 3600)
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

    def free_now(self, share: float | None = None) -> bool:
        """Whether a helper could take a read at once (a submission's quick look): one
        not busy, with room in its hour and a token in its bucket. A helper whose
        bucket a check has emptied would make the quick look wait for its next token
        (up to 3600/budget s) while the member waits for the answer."""
        helper, _, _ = self._pick(share=CALL_SHARE.get() if share is None else share)
        return helper is not None and self._tokens(helper, self.clock()) >= 1.0

    def _pick(self, avoid: frozenset[str] = frozenset(), share: float = FINAL_SHARE
              ) -> tuple[Helper | None, float, bool]:
        """The least recently used helper free now (with room in its hour for this
        share), a helper with a token first (it need not wait its turn in the bucket);
        else how long until one that is not busy may be, and whether one is busy (it
        tells the waiters when it is done). Only the helpers not busy are looked at."""
        now = self.clock()
        limit = self.limit(share)
        best: Helper | None = None
        best_key: tuple[bool, float] = (True, 0.0)
        soonest = float("inf")
        for helper in self._idle.values():
            if helper.username in avoid:
                continue
            at = self._ready_at(helper, now, limit)
            if at <= now:
                key = (self._tokens(helper, now) < 1.0, helper.last_used)
                if best is None or key < best_key:
                    best, best_key = helper, key
            elif at - now < soonest:
                soonest = at - now
        if best is not None:
            return best, 0.0, False
        busy = any(not h.out and name not in avoid for name, h in self._busy.items())
        return None, soonest, busy

    async def _admit(self, helper: Helper, share: float) -> None:
        """One request of a call of this helper (the hook on the call's CallMeter):
        refused when it would pass the helper's limit for the share, else its turn in
        the token bucket waited for, then stamped in the helper's hour as it is sent."""
        if helper.out or self._spent(helper, self.clock(), share):
            raise HelperSpent(helper.username)
        wait = self._take_token(helper, self.clock())
        if wait > 0:
            await self.sleep(wait)
        now = self.clock()
        if self._spent(helper, now, share):  # cannot happen while it is busy; kept exact
            raise HelperSpent(helper.username)
        helper.calls.append(now)

    def _tokens(self, helper: Helper, now: float) -> float:
        """The tokens in the helper's bucket now, none taken (inf: no pacing)."""
        if self.burst is None:
            return math.inf
        capacity = 1.0 if helper.probation else float(self.burst)
        if helper.refilled == 0.0:
            return capacity
        elapsed = max(0.0, now - helper.refilled)
        return min(capacity, helper.tokens + elapsed * self.hourly_budget / 3600.0)

    def _take_token(self, helper: Helper, now: float) -> float:
        """Take one token; seconds to wait until it is there (0: at once). A request
        waiting reserves its token (the count goes below zero), so waits queue up."""
        if self.burst is None:
            return 0.0
        rate = self.hourly_budget / 3600.0
        capacity = 1.0 if helper.probation else float(self.burst)
        if helper.refilled == 0.0:
            helper.tokens, helper.refilled = capacity, now
        elapsed = max(0.0, now - helper.refilled)
        helper.tokens = min(capacity, helper.tokens + elapsed * rate)
        helper.refilled = max(helper.refilled, now)
        helper.tokens -= 1.0
        return 0.0 if helper.tokens >= 0 else -helper.tokens / rate

    async def run(self, operation: Callable[[Session], Awaitable[T]], *,
                  avoid: frozenset[str] = frozenset(), max_wait: float | None = None,
                  share: float | None = None) -> T:
        """Run a read as some helper (not one in `avoid`); rate limits, a spent hour and
        lost sessions move it to the next. Errors it lets through name the helper
        (`exc.helper`). A caller waits (without polling) for a busy helper to finish,
        and for a cooling or spent one to be back up to `max_wait`. `share`: of each
        helper's hour this call may use (default: CALL_SHARE of the context)."""
        share = CALL_SHARE.get() if share is None else share
        outer = CURRENT_METER.get()
        if outer is not None and outer.exhausted:
            raise AllowanceSpent("this run's allowance of requests is used up")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.max_wait if max_wait is None else max_wait)
        while True:
            helper, wait, busy = self._pick(avoid, share)
            if helper is None:
                # A busy helper is load, not an outage: its call ends (it has a timeout)
                # and hands itself on. Only cooling and spent ones count against
                # `max_wait`.
                left = deadline - loop.time()
                if not busy and (left <= 0 or wait > left):
                    ready = None if wait == float("inf") else self.clock() + wait
                    raise NoHelperAvailable("no usable helper account", ready_at=ready)
                if wait != float("inf"):
                    self._look_again_in(wait)  # a cooling or spent one is handed on then
                helper = await self._wait_for_one(avoid, share, loop.time() + left)
                if helper is None:
                    continue  # its max_wait is over: look once more
            else:
                self._take(helper)
            async with self._calling(helper):
                helper.last_used = self.clock()
                meter = CallMeter(parent=CURRENT_METER.get(),
                                  admit=functools.partial(self._admit, helper, share))
                token = CURRENT_METER.set(meter)
                try:
                    result = await self._watched(helper, operation)
                except HelperSpent:
                    continue  # (after the finally) the next helper goes on from here
                except RateLimited as exc:
                    self._throttled(helper, exc, meter.requests)
                except ActionBlocked as exc:
                    # "feedback required": Instagram is watching this account; it stops at
                    # once and rests (FEEDBACK_COOLDOWN, doubling while it comes back, up
                    # to the hours Instagram asks), and admins hear.
                    helper.failures += 1
                    again = helper.cooling_kind == BLOCKED and helper.strikes > 0
                    helper.strikes = helper.strikes + 1 if again else 1
                    self._cool(helper, min(FEEDBACK_COOLDOWN * 2 ** (helper.strikes - 1),
                                           exc.retry_after), BLOCKED)
                    if self.on_out is not None:
                        await self.on_out(helper.username, exc)
                except NetworkError as exc:
                    # Instagram did not answer this read (or answered 5xx): the caller
                    # decides (the verification marks the post unknown); the helper
                    # rests a moment.
                    helper.failures += 1
                    self._cool(helper, NETWORK_COOLDOWN, NETWORK)
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
                    helper.strikes, helper.status, helper.cooling_kind = 0, "ready", ""
                    helper.probation = False
                    return result
                finally:
                    meter.stop()  # a call given up sends nothing more
                    CURRENT_METER.reset(token)
                    # A gateway that sent without admission (instaloader's thread): its
                    # requests are counted now, late rather than never.
                    unadmitted = meter.requests - meter.admitted
                    if unadmitted > 0:
                        helper.calls.extend([self.clock()] * unadmitted)

    def _take(self, helper: Helper) -> None:
        """The helper is taken for a call (before any await: no other pick sees it idle)."""
        self._idle.pop(helper.username, None)
        self._busy[helper.username] = helper

    def _give_back(self, helper: Helper) -> None:
        """The helper's call is over: idle again if still in the pool, and handed to the
        first read waiting that may use it now."""
        if self._busy.get(helper.username) is helper:
            del self._busy[helper.username]
        if self.helpers.get(helper.username) is helper:
            self._idle[helper.username] = helper
        self._hand_on()

    def _hand_on(self) -> None:
        """Each read waiting, in turn, given a helper free for it now (by its own `avoid`
        and share), one pick per kind of wait rather than per waiter. A read whose
        max_wait is over while no helper it may use is busy is woken to be told so; the
        others wait on, and are handed a cooling or spent helper when it is back."""
        blocked: dict[tuple[frozenset[str], float], bool] = {}
        now = asyncio.get_running_loop().time() if self._waiters else 0.0
        for turn, waiter in list(self._waiters.items()):
            if waiter.found.done():
                continue
            kind = (waiter.avoid, waiter.share)
            if kind not in blocked:
                helper, wait, busy = self._pick(waiter.avoid, waiter.share)
                if helper is not None:
                    self._take(helper)
                    del self._waiters[turn]
                    waiter.found.set_result(helper)
                    continue
                blocked[kind] = busy
                if wait != float("inf"):
                    self._look_again_in(wait)
            if not blocked[kind] and waiter.deadline <= now:
                del self._waiters[turn]
                waiter.found.set_result(None)

    def _look_again_in(self, seconds: float) -> None:
        """Hand helpers on again once a cooling or spent one is back."""
        loop = asyncio.get_running_loop()
        when = loop.time() + seconds
        timer = self._timer
        if timer is not None and timer.loop is loop and timer.when() <= when:
            return
        if timer is not None:
            timer.handle.cancel()
        self._timer = _Timer(loop, loop.call_at(when, self._on_timer))

    def _on_timer(self) -> None:
        self._timer = None
        self._hand_on()

    async def _wait_for_one(self, avoid: frozenset[str], share: float, deadline: float
                            ) -> Helper | None:
        """A helper handed on to this read, or None once `deadline` (the loop's time,
        its max_wait) has passed: then without a helper busy it is told none is
        available; with one, it waits on for that one."""
        turn = next(self._turns)
        loop = asyncio.get_running_loop()
        found: asyncio.Future[Helper | None] = loop.create_future()
        self._waiters[turn] = _Waiter(avoid, share, deadline, found)
        left = deadline - loop.time()
        try:
            await asyncio.wait({found}, timeout=left if left > 0 else None)
        except BaseException:
            self._waiters.pop(turn, None)
            if found.done() and not found.cancelled() and found.result() is not None:
                self._give_back(found.result())  # handed on as this read was cancelled
            found.cancel()
            raise
        self._waiters.pop(turn, None)
        if found.done():
            return found.result()
        found.cancel()
        return None

    @asynccontextmanager
    async def _calling(self, helper: Helper) -> AsyncIterator[None]:
        """The helper busy with one call; then given back (`_give_back`)."""
        try:
            async with helper.busy:
                yield
        finally:
            self._give_back(helper)

    def _throttled(self, helper: Helper, exc: RateLimited, sent: int) -> None:
        """Cool a helper Instagram slowed down, as long as its answer meant.

        A bare 429: a minute, doubling while they go on; one after answered requests (a
        long read that went on for a while) starts again from a minute. "Please wait a
        few minutes": 15 minutes, doubling each time it comes back before a call of the
        helper succeeds (asking during such a block extends it), at most 6 hours."""
        if exc.kind == PLEASE_WAIT:
            again = helper.cooling_kind == PLEASE_WAIT and helper.strikes > 0
            helper.strikes = helper.strikes + 1 if again else 1
            base = PLEASE_WAIT_COOLDOWN
        else:
            again = helper.cooling_kind == THROTTLE and sent <= 1
            helper.strikes = helper.strikes + 1 if again else 1
            base = BASE_COOLDOWN
        backoff = base * 2 ** (helper.strikes - 1)
        self._cool(helper, min(max(backoff, exc.retry_after), MAX_COOLDOWN),
                   exc.kind if exc.kind in {PLEASE_WAIT, THROTTLE} else THROTTLE)

    async def _watched(self, helper: Helper, operation: Callable[[Session], Awaitable[T]]
                       ) -> T:
        """The call, with the helper's health noted (see `healthy`)."""
        try:
            result = await operation(helper.session)
        except HelperSpent:  # its hour is used: nothing was sent, nothing failed
            raise
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

    def _cool(self, helper: Helper, seconds: float, kind: str) -> None:
        """Rest the helper; back from a slow-down, its bucket holds one token (no burst)."""
        helper.status, helper.cooling_kind = "cooling", kind
        helper.cooldown_until = self.clock() + seconds
        if kind != NETWORK:
            helper.probation = True
            helper.tokens, helper.refilled = 1.0, helper.cooldown_until
