"""What the product asks of Instagram, as one interface with plain results.

Reads run on helper accounts, writes on producer accounts; every call is made *as* an
account whose session the caller holds. A list that is shorter than the count
Instagram reports, or that came without a count, comes back with `complete=False`: the
verification reads that as "unknown", never as "missing".

Every HTTP request an adapter makes is told to the `CallMeter` of the call it serves
(`meter_request`), after the helper pool admitted it (`admit_request`, awaited on the
event loop before the request is handed to a thread): the pool paces each helper and
counts every request in the helper's hour when it is made, the run reports count real
requests, and a meter that was stopped (the run ended, the call timed out) or whose
allowance is spent makes the next request raise instead of reaching Instagram.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from services.instagram.errors import AllowanceSpent

if TYPE_CHECKING:
    from services.instagram.comment_pages import CommentRead

Session = dict[str, Any]  # a library's settings/cookies blob; stored encrypted, never logged
Progress = Callable[[int, int], None]  # (fetched so far, reported total)


@dataclass(frozen=True)
class UserList:
    """Usernames (lower-case), how many items were fetched (comments, or accounts), and
    the count Instagram reports for the same list: fewer fetched means incomplete."""

    usernames: frozenset[str]
    fetched: int
    reported: int

    @property
    def complete(self) -> bool:
        return self.fetched >= self.reported


@dataclass(frozen=True)
class PostComments:
    """One read of a post: its author, the names of everyone who commented or replied
    (as `name_key` gives them), how many distinct comments were seen, and the count
    Instagram reports (None when no count came: then the list is never complete).

    People are known by Instagram's numeric id (pk) where the read showed one: `pks`
    maps each commenter's pk to the name the read showed, `times` each commenter's name
    to their earliest comment's time (None: the answer carried no time), and the author
    and co-authors (a collab post) come with their pks too."""

    author: str | None
    usernames: frozenset[str]
    seen: int
    reported: int | None
    comments_off: bool = False  # turned off, or limited so that nobody can comment
    author_pk: str | None = None
    coauthors: Mapping[str, str | None] = field(default_factory=dict)  # name -> pk
    pks: Mapping[str, str] = field(default_factory=dict)  # commenter pk -> name
    times: Mapping[str, datetime | None] = field(default_factory=dict)  # name -> first
    # Commenter pks known only from an earlier read this one builds on (a newer-only
    # read): the name they show may be outdated, so no rename is taken from them.
    stale: frozenset[str] = frozenset()

    def comment_of(self, pk: str | None, username: str) -> tuple[bool, datetime | None, str]:
        """Whether the account (known by `pk` when learned, else by name) commented, its
        first comment's time, and the name the read showed it under. An account whose pk
        is known is matched by that pk, or by name only on comments that came without a
        pk: a name someone else has taken since never counts for it."""
        if pk is not None:
            shown = self.pks.get(pk)
            if shown is not None:
                return True, self.times.get(shown), shown
            if username in self.times and username not in self._named:
                return True, self.times[username], username
            return False, None, username
        if username in self.times:
            return True, self.times[username], username
        return False, None, username

    @cached_property
    def _named(self) -> dict[str, str]:
        """Name -> pk, for the commenters whose comments came with a pk (made once a
        read: a thousand-member post asks it for every member)."""
        return {name: pk for pk, name in self.pks.items()}

    def pk_of(self, username: str) -> str | None:
        """The pk this read showed for a name (the author, a co-author or a commenter)."""
        if self.author is not None and username == self.author:
            return self.author_pk
        if username in self.coauthors:
            return self.coauthors[username]
        return self._named.get(username)

    @property
    def complete(self) -> bool:
        # Strict: a gap may be a member's own comment that Instagram filtered, and a
        # "missing" brings a strike. Such a post's unseen debts stay unknown.
        return self.reported is not None and self.seen >= self.reported


@dataclass(frozen=True)
class PostInfo:
    """A post's author (and co-authors: name -> pk) and comment state, read with one
    request (at submission)."""

    shortcode: str
    author: str
    comment_count: int | None
    comments_off: bool = False
    author_pk: str | None = None
    coauthors: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """An account as Instagram shows it now: its pk and current username."""

    pk: str
    username: str


class CallStopped(Exception):
    """The call this request served was given up (run ended, timeout): not sent."""


# The helper pool's admission of one request (HelperPool.run sets it on the call's meter):
# it stamps the request in the helper's hour, waits on the event loop for the helper's
# pace, or raises HelperSpent when the request would pass the helper's limit.
Admit = Callable[[], Awaitable[None]]


class CallMeter:
    """Counts the requests of one call (and of the run it is part of, `parent`); once
    stopped, the next request of the call raises CallStopped. Shared with worker threads
    through the context, so it is thread-safe.

    `admission()` comes before each request, on the event loop: a `limit` on a meter of
    the chain (a member's "check now" allowance) refuses the request with AllowanceSpent
    once that many were admitted, and the nearest `admit` hook (the pool's) paces and
    counts it against the helper's hour, so nothing is sent that was not counted first."""

    def __init__(self, parent: CallMeter | None = None, *, admit: Admit | None = None,
                 limit: int | None = None) -> None:
        self.parent = parent
        self.requests = 0
        self.admitted = 0
        self.limit = limit
        self._admit = admit
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set() or (self.parent is not None and self.parent.stopped)

    def _chain(self) -> list[CallMeter]:
        chain: list[CallMeter] = []
        meter: CallMeter | None = self
        while meter is not None:
            chain.append(meter)
            meter = meter.parent
        return chain

    @property
    def exhausted(self) -> bool:
        """Whether a limit on this meter's chain allows no more requests."""
        return any(m.limit is not None and m.admitted >= m.limit for m in self._chain())

    async def admission(self) -> None:
        """Before one request (on the event loop): refused when the call was given up or
        an allowance is spent; else paced and counted by the pool's hook, if any. The
        request is reserved on every limit first, so two reads of one run at once never
        pass the run's allowance together."""
        if self.stopped:
            raise CallStopped("the call was given up")
        chain = self._chain()
        if any(m.limit is not None and m.admitted >= m.limit for m in chain):
            raise AllowanceSpent("this run's allowance of requests is used up")
        for meter in chain:
            meter.admitted += 1
        hook = next((m._admit for m in chain if m._admit is not None), None)
        try:
            if hook is not None:
                await hook()
            if self.stopped:  # given up while it waited for its turn
                raise CallStopped("the call was given up")
        except BaseException:
            for meter in chain:
                meter.admitted -= 1
            raise

    def request(self) -> None:
        if self.stopped:
            raise CallStopped("the call was given up")
        meter: CallMeter | None = self
        while meter is not None:
            with meter._lock:
                meter.requests += 1
            meter = meter.parent


CURRENT_METER: ContextVar[CallMeter | None] = ContextVar("instagram_call_meter", default=None)


def meter_request() -> None:
    """An adapter is about to send one HTTP request to Instagram."""
    meter = CURRENT_METER.get()
    if meter is not None:
        meter.request()


async def admit_request() -> None:
    """An adapter will send one HTTP request: the pool admits it first (on the event
    loop, before the request goes to a worker thread). Raises CallStopped, AllowanceSpent
    or HelperSpent instead of letting it be sent."""
    meter = CURRENT_METER.get()
    if meter is not None:
        await meter.admission()


@dataclass(frozen=True)
class Post:
    shortcode: str
    taken_at: datetime
    caption: str = ""
    comment_count: int = 0
    comments_disabled: bool = False


@dataclass
class LoginResult:
    """A finished login: the session to store (encrypted) for the account, and the
    account's pk (None: the library did not say)."""

    username: str
    session: Session = field(repr=False)
    pk: str | None = None


class Gateway(Protocol):
    async def login(self, username: str, password: str) -> LoginResult:
        """Raises TwoFactorRequired / CheckpointRequired(needs_code=True) when a code is
        needed: then call `submit_code` for the same username. The error's `resume`
        (when not None) lets any process send the code; without it only this one can
        (it keeps the same client)."""
        ...

    async def submit_code(self, username: str, code: str,
                          resume: Session | None = None) -> LoginResult:
        """The code for a login waiting here, or else for the one `resume` describes;
        raises LoginLost when neither is there."""
        ...

    async def restore(self, session: Session) -> str:
        """Check a stored session with one cheap read; returns its username."""
        ...

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        """The post's author and every commenter, all pages in every direction. With
        `resume`, a read that an earlier call left half-way (a rate limit, a timeout)
        goes on from the page it stopped at, by whichever helper makes this call."""
        ...

    async def post_info(self, session: Session, shortcode: str) -> PostInfo: ...

    async def profile(self, session: Session, username: str) -> Profile:
        """The account's pk and current name (raises NotFound when nobody has the name)."""
        ...

    async def resolve_share(self, session: Session, url: str) -> str | None:
        """A /share/ link's post URL, asked as a logged-in helper (None: not resolved)."""
        ...

    async def followers(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList: ...

    async def followees(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList: ...

    async def recent_posts(self, session: Session, username: str, amount: int = 6
                           ) -> list[Post]: ...

    async def comment(self, session: Session, shortcode: str, text: str) -> None: ...

    def discard(self, session: Session) -> None:
        """Forget a session held in memory (a login that must leave nothing behind)."""
        ...
