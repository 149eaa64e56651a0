"""A community in the middle of a real week, for the chat benchmarks.

Members `member.00001` ... with a Telegram and a KakaoTalk account each; two or three
posts each last week and this week, handed in on days of their weeks. Helpers with
sessions the benchmark's simulated Instagram accepts, so `autogram run` can read with
them. `WeekInstagram` is that Instagram: each member's comment on each post has its own
time (early-leaning after the post is handed in; some late, after the comment cutoff;
the 5% non-compliant members never comment), shown once that time has come, with
comment pks that grow with time and are the same in every process; posts are built
when read (a 1,000-member week's 2.5 million comments are never all in memory at once),
each request taking a random time in `latency`.

Two ways to seed it:
- `seed` (the Kakao soak, the Telegram benchmark): every verdict row present in one
  statement per week, 95% "done", the rest "missing", as after a settled week.
- `seed_read`: the week as the product leaves it, read by the product's own checks
  on that Instagram as of the moments they run in a real week: last week read by its
  last daily refresh `READ_BEFORE_CUTOFF` before its comment deadline, this week by
  the refresh `READ_AGO` before `now`. Comments made since are still to read: last
  week's final check (due: the scheduler starts it as the bot starts) and this week's
  next refresh find open debts and read them (newer-only reads from the kept cursors),
  as on a real day. `check_last_week` then runs that final check's reads as of `now`
  and records the week (its job done), as after the check.

Shortcodes say whose a post is: `L00042x1` is member 42's second post of last week,
`C...` this week's, `N00042x7` one handed in during the benchmark.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.instagram.comment_pages import CommentRead
from services.instagram.gateway import PostComments, PostInfo, Session
from services.instagram.simulated import SimConfig, SimPost, SimulatedInstagram
from services.rules import CommunityRules
from services.week.calendar import Week
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import (
    ChatAccount,
    Helper,
    JobRun,
    Member,
    PostRead,
    Submission,
    Verification,
)
from storage.models.base import UTCDateTime

if TYPE_CHECKING:
    from services.container import Services

FIRST_TELEGRAM = 10_000  # member n's Telegram user id is FIRST_TELEGRAM + n - 1
NON_COMPLIANT_EVERY = 20  # member ids divisible by it comment on nothing (5%)
LATE_SHARE = 0.04  # of the compliant members' comments: made after the cutoff
LATE_WITHIN = timedelta(hours=40)  # how long after the cutoff a late comment comes
READ_BEFORE_CUTOFF = timedelta(hours=3)  # last week's last read before its deadline
READ_AGO = timedelta(hours=12)  # this week's last read before `now`
SEED_READERS = 8  # helpers the seeding reads use (more only wait for connections)
OWNER = re.compile(r"^([LCN])(\d{5})x(\d+)")
MEMBER_PK = 17_840_000_000  # member n's Instagram pk is MEMBER_PK + n
HELPER_PK = 17_850_000_000
COMMENT_PK = 18_000_000_000_000_000
_MASK = (1 << 64) - 1
RULES = CommunityRules()
_AUTHOR_READ: ContextVar[bool] = ContextVar("week_author_read", default=False)


def username(member_id: int) -> str:
    return f"member.{member_id:05d}"


def kakao_user(member_id: int) -> str:
    return f"kakao-{member_id:06d}"


def telegram_user(member_id: int) -> int:
    return FIRST_TELEGRAM + member_id - 1


def compliant(member_id: int) -> bool:
    return member_id % NON_COMPLIANT_EVERY != 0


def helper_names(count: int) -> list[str]:
    return [f"helper.{n:04d}" for n in range(1, count + 1)]


def helper_session(name: str) -> Session:
    """A session the benchmark's Instagram accepts in any process (no login dance)."""
    return {"simulated": True, "token": f"bench-{name}", "username": name}


def _unit(*keys: int) -> float:
    """A number in [0, 1) fixed by the keys (the same in every process, unlike hash())."""
    x = 0x9E3779B97F4A7C15
    for key in keys:
        x = ((x ^ key) * 0xBF58476D1CE4E5B9) & _MASK
        x ^= x >> 31
        x = (x * 0x94D049BB133111EB) & _MASK
        x ^= x >> 29
    return x / 2.0**64


@dataclass(frozen=True)
class Weeks:
    last: Week
    current: Week


def weeks_at(now: datetime) -> Weeks:
    current = Week.containing(now, RULES.timezone)
    return Weeks(Week(current.start - timedelta(days=7), current.zone), current)


@dataclass(frozen=True)
class Timeline:
    """When everything of the seeded weeks happens, from the moment they are seeded as
    of (`now`): the same in the seeding process and the bot's."""

    now: datetime

    @property
    def weeks(self) -> Weeks:
        return weeks_at(self.now)

    def cutoff(self, prefix: str) -> datetime:
        weeks = self.weeks
        return RULES.comment_cutoff(weeks.last if prefix == "L" else weeks.current)

    def last_read(self, prefix: str) -> datetime:
        """When the product last read the week before `now` (its last daily refresh)."""
        if prefix == "L":
            return self.cutoff("L") - READ_BEFORE_CUTOFF
        start = self.weeks.current.at("MON 00:00")
        # Early on a Monday there is no refresh of this week yet: a quarter of it so far.
        return max(self.now - READ_AGO, start + (self.now - start) * 3 / 4)

    def handed(self, prefix: str, member: int, k: int) -> datetime:
        """A post's hand-in: last week's from Monday to Saturday, this week's between the
        week's start and its last read (so that read saw it)."""
        weeks = self.weeks
        start = (weeks.last if prefix == "L" else weeks.current).at("MON 00:00")
        end = start + timedelta(days=6) if prefix == "L" else self.last_read("C")
        end = max(end, start + timedelta(minutes=2))
        span = (end - start - timedelta(minutes=1)).total_seconds()
        return start + timedelta(seconds=int(span * _unit(ord(prefix), member, k)))

    def comment_at(self, prefix: str, owner: int, k: int, member: int) -> datetime | None:
        """When `member` comments on the post (None: never): the non-compliant never;
        LATE_SHARE of the rest after the cutoff, the others before it, most soon after
        the post is handed in."""
        return self._comment_at(self.handed(prefix, owner, k), self.cutoff(prefix),
                                prefix, owner, k, member)

    def comments_on(self, prefix: str, owner: int, k: int, members: int
                    ) -> list[tuple[int, datetime]]:
        """(member, time) of every comment the post gets: `comment_at` for each member,
        the post's hand-in and cutoff worked out once (a post read in the bot's process
        is built on its event loop, where Instagram's own work would never be)."""
        handed, cutoff = self.handed(prefix, owner, k), self.cutoff(prefix)
        made = []
        for member in range(1, members + 1):
            at = self._comment_at(handed, cutoff, prefix, owner, k, member)
            if at is not None:
                made.append((member, at))
        return made

    @staticmethod
    def _comment_at(handed: datetime, cutoff: datetime, prefix: str, owner: int, k: int,
                    member: int) -> datetime | None:
        if not compliant(member) or member == owner:
            return None
        if _unit(member, owner, k, ord(prefix), 1) < LATE_SHARE:
            late = LATE_WITHIN.total_seconds() * _unit(member, owner, k, ord(prefix), 2)
            return cutoff + timedelta(seconds=1 + int(late))
        u = _unit(member, owner, k, ord(prefix), 3)
        return handed + timedelta(seconds=int((cutoff - handed).total_seconds() * u * u))


async def seed(url: str, members: int, helpers: int = 0, *, kakao: bool = True,
               now: datetime | None = None, verdicts: bool = True) -> None:
    """The community above on a migrated, empty database; `verdicts`: every verdict row
    of both weeks (95% "done", as after a settled week), else none (`seed_read`)."""
    now = now or datetime.now(UTC)
    timeline = Timeline(now)
    weeks = timeline.weeks
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Member), [
                {"id": n, "instagram_username": username(n), "display_name": f"Member {n}",
                 "status": "active", "joined_at": now - timedelta(days=60), "created_at": now}
                for n in range(1, members + 1)])
            accounts = [{"platform": "telegram", "platform_user_id": str(telegram_user(n)),
                         "display_name": f"User {n}", "language": "ko", "member_id": n,
                         "reachable": True, "created_at": now} for n in range(1, members + 1)]
            if kakao:
                accounts += [{"platform": "kakao", "platform_user_id": kakao_user(n),
                              "display_name": None, "language": "ko", "member_id": n,
                              "reachable": True, "created_at": now} for n in range(1, members + 1)]
            await conn.execute(insert(ChatAccount), accounts)
            for prefix, week in (("L", weeks.last), ("C", weeks.current)):
                posts = []
                for n in range(1, members + 1):
                    for k in range(2 + n % 2):
                        handed = timeline.handed(prefix, n, k)
                        posts.append({
                            "member_id": n, "week_start": week.start,
                            "shortcode": f"{prefix}{n:05d}x{k}",
                            "url": f"https://www.instagram.com/p/{prefix}{n:05d}x{k}/",
                            "source": "chat", "submitted_at": handed, "created_at": handed,
                            "status": "active"})
                await conn.execute(insert(Submission), posts)
                if verdicts:
                    await add_verdicts(conn, week, now)
            if helpers:
                await add_helpers(conn, helper_names(helpers), now)
    finally:
        await engine.dispose()


async def add_helpers(conn: AsyncConnection, names: list[str], now: datetime) -> None:
    if names:
        await conn.execute(insert(Helper), [
            {"instagram_username": name, "session": helper_session(name),
             "status": "ready", "created_at": now} for name in names])


async def add_verdicts(conn: AsyncConnection, week: Week, now: datetime) -> None:
    """Every member's verdict on every other member's post of the week, in one statement:
    "done", or "missing" for the non-compliant members."""
    posts, people = Submission.__table__, Member.__table__
    rows = select(posts.c.id, people.c.id,
                  case((people.c.id % NON_COMPLIANT_EVERY == 0, "missing"), else_="done"),
                  literal(now, UTCDateTime())).where(
        posts.c.week_start == week.start, people.c.id != posts.c.member_id)
    await conn.execute(insert(Verification).from_select(
        ["submission_id", "member_id", "status", "checked_at"], rows))


@dataclass
class Reads:
    """The product's checks on the seeded week, on a clock that is moved to the moment
    each read is made, with `WeekInstagram` answering as of that moment."""

    url: str
    members: int
    helpers: int
    timeline: Timeline
    at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.at = self.timeline.now

    async def run(self, steps: Callable[[Services], Awaitable[None]]) -> None:
        from services.container import Services
        from services.instagram.runtime import Instagram

        sim = WeekInstagram(self.members, self.helpers, anchor=self.timeline.now,
                            as_of=lambda: self.at)
        engine = create_engine(self.url)
        try:
            services = Services(session_factory(engine), RULES, clock=lambda: self.at,
                                serialize=is_sqlite(self.url),
                                instagram=Instagram(sim, hourly_budget=10**9))
            await steps(services)
        finally:
            await engine.dispose()


async def seed_read(url: str, members: int, helpers: int, now: datetime | None = None
                    ) -> None:
    """The community with both weeks as the product's reads left them (see the module
    docstring): last week's final check not run yet. Only SEED_READERS of the helpers
    are made (`more_helpers` adds the rest)."""
    now = now or datetime.now(UTC)
    readers = min(helpers, SEED_READERS)
    await seed(url, members, readers, now=now, verdicts=False)
    reads = Reads(url, members, readers, Timeline(now))

    async def steps(services: Services) -> None:
        checks = services.checks
        for prefix, week in (("L", reads.timeline.weeks.last),
                             ("C", reads.timeline.weeks.current)):
            reads.at = reads.timeline.last_read(prefix)
            await checks.week(week, final=True)  # every post, every page

    await reads.run(steps)


async def more_helpers(url: str, helpers: int, now: datetime) -> None:
    """The helpers past the SEED_READERS that `seed_read` made (for the bot: a check
    reads with every helper at once, the seeding's reads only wait for connections)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await add_helpers(conn, helper_names(helpers)[SEED_READERS:], now)
    finally:
        await engine.dispose()


async def check_last_week(url: str, members: int, helpers: int, now: datetime) -> None:
    """Last week's final check as of `now` on a `seed_read` database (the reads of its
    open debts), then its record and its final job done, as after the check (its
    messages are not sent: the benchmarks measure the chat, not yesterday's results)."""
    reads = Reads(url, members, helpers, Timeline(now))

    async def steps(services: Services) -> None:
        last = reads.timeline.weeks.last
        await services.checks.week(last, only_open=True, final=True)
        await _record(services, last, now)

    await reads.run(steps)


async def finish_last_week(url: str, now: datetime | None = None) -> None:
    """Last week as after its final check: recorded, the final job done (so a starting
    bot does not run it; a database without this has it start at once, as the
    scheduler catches up)."""
    from services.container import Services

    now = now or datetime.now(UTC)
    engine = create_engine(url)
    try:
        await _record(Services(session_factory(engine), RULES), weeks_at(now).last, now)
    finally:
        await engine.dispose()


async def _record(services: Services, week: Week, now: datetime) -> None:
    async with services.transaction() as tx:
        await tx.records.record(week, now)
        tx.session.add(JobRun(job="final", period=week.label, status="done", summary={},
                              started_at=now, finished_at=now))


async def reseal_helpers(url: str) -> None:
    """The helpers' sessions written again with this process's encryption key (a week
    seeded by another process, kept for another run)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            names = (await conn.scalars(select(Helper.instagram_username))).all()
            for name in names:
                await conn.execute(update(Helper).where(Helper.instagram_username == name)
                                   .values(session=helper_session(name)))
    finally:
        await engine.dispose()


async def read_state(url: str) -> dict[str, int]:
    """How the seeded weeks stand: verdicts by status, posts with a kept read."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            counts = dict((await conn.execute(select(Verification.status, func.count())
                                              .group_by(Verification.status))).all())
            counts["post_reads"] = await conn.scalar(select(func.count())
                                                     .select_from(PostRead)) or 0
        return counts
    finally:
        await engine.dispose()


@dataclass
class WeekPost(SimPost):
    """A seeded post: all its comments, oldest first, each with its pk (`rows`, as
    `_listed` gives them) and time (`times`, seconds): Instagram shows those whose time
    has come."""

    rows: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def build_post(anchor: datetime, members: int, shortcode: str) -> WeekPost:
    """A seeded post with all its comments (`OWNER`'s shortcode), as of the week seeded
    at `anchor` (a function of its arguments alone: a worker process builds it too)."""
    found = OWNER.match(shortcode)
    assert found is not None, shortcode
    prefix, owner, k = found.group(1), int(found.group(2)), int(found.group(3))
    timeline = Timeline(anchor)
    if prefix == "N":  # handed in during the benchmark: no comments yet
        return WeekPost(username(owner), shortcode, datetime.now(UTC))
    made = sorted((at.timestamp(), member, at)
                  for member, at in timeline.comments_on(prefix, owner, k, members))
    rows = [(COMMENT_PK + int(ts) * 100_000 + member, index,
             (username(member), "좋아요!", at))
            for index, (ts, member, at) in enumerate(made)]
    return WeekPost(username(owner), shortcode, timeline.handed(prefix, owner, k), "",
                    [row for _, _, row in rows], rows=rows, times=[m[0] for m in made])


class WeekInstagram(SimulatedInstagram):
    """The seeded week's Instagram: every post by its member, commented on by the
    compliant members at their comments' times (`Timeline`, from `anchor`: the moment
    the week was seeded as of), shown as of `as_of()` (default: now); posts are built
    when read (a few kept), and each request takes a random time in `latency`
    (seconds). `author_reads` counts the post look-ups a submission makes
    (`post_info`); the check reads posts through `commenters`."""

    def __init__(self, members: int, helpers: int, latency: tuple[float, float] = (0.0, 0.0),
                 seed: int = 7, *, anchor: datetime | None = None,
                 as_of: Callable[[], datetime] | None = None,
                 builder: Executor | None = None) -> None:
        """`builder`: where a post read is built (a process pool: Instagram's work
        then stays off the reading process's event loop, as the real one's does);
        None: built in place."""
        super().__init__(SimConfig(calls_per_hour=10**9), seed)
        self.latency = latency
        self.builder = builder
        self.timeline = Timeline(anchor or datetime.now(UTC))
        self.as_of = as_of or (lambda: datetime.now(UTC))
        self.author_reads = 0
        self.counted = 0  # requests whose record was dropped (see _call)
        self.author_requests = 0  # requests of `post_info`, the rest are the checks'

        self._chance = random.Random(seed)
        self._members = members
        self._made: OrderedDict[str, SimPost] = OrderedDict()
        for name in helper_names(helpers):
            self.add_account(name)
            self.accept_session(helper_session(name))

    def pk(self, username: str) -> str:
        """Members' and helpers' pks by their number: the same in every process (the
        seeding reads teach the database the pks the bot's reads show again)."""
        for prefix, base in (("member.", MEMBER_PK), ("helper.", HELPER_PK)):
            if username.startswith(prefix) and username[len(prefix):].isdigit():
                return str(base + int(username[len(prefix):]))
        return super().pk(username)

    async def _call(self, operation: str, actor: str) -> None:
        low, high = self.latency
        if high > 0:
            await asyncio.sleep(self._chance.uniform(low, high))
        await super()._call(operation, actor)
        if _AUTHOR_READ.get():
            self.author_requests += 1
        if len(self.calls) > 10_000:  # a week's reads: the count is enough
            self.counted += len(self.calls)
            self.calls.clear()

    def requests(self) -> int:
        return self.counted + len(self.calls)

    def check_requests(self) -> int:
        """Requests sent for anything but a submission's author (the checks' reads)."""
        return self.requests() - self.author_requests

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        if self.builder is not None and shortcode not in self.posts \
                and shortcode not in self._made and OWNER.match(shortcode):
            post = await asyncio.get_running_loop().run_in_executor(
                self.builder, build_post, self.timeline.now, self._members, shortcode)
            self._keep(shortcode, post)
        return await super().commenters(session, shortcode, resume)

    def _post(self, shortcode: str) -> SimPost:
        if shortcode not in self.posts:
            post = self._made.get(shortcode)
            if post is None:
                if OWNER.match(shortcode) is None:
                    return super()._post(shortcode)
                post = build_post(self.timeline.now, self._members, shortcode)
                self._keep(shortcode, post)
            return post
        return super()._post(shortcode)

    def _keep(self, shortcode: str, post: WeekPost) -> None:
        self._made[shortcode] = post
        while len(self._made) > 256:
            self._made.popitem(last=False)

    def _shown(self, post: WeekPost) -> int:
        return bisect.bisect_right(post.times, self.as_of().timestamp())

    def _listed(self, post: SimPost) -> list[tuple[int, int, tuple[str, ...]]]:
        if isinstance(post, WeekPost):
            return post.rows[:self._shown(post)]
        return super()._listed(post)

    def _count(self, post: SimPost) -> int:
        if isinstance(post, WeekPost):
            return self._shown(post)
        return super()._count(post)

    async def post_info(self, session: Session, shortcode: str) -> PostInfo:
        self.author_reads += 1
        token = _AUTHOR_READ.set(True)
        try:
            return await super().post_info(session, shortcode)
        finally:
            _AUTHOR_READ.reset(token)
