"""A community in the middle of a real week, for the chat benchmarks.

Members `member.00001` ... with a Telegram and a KakaoTalk account each; two or three
posts each last week and this week; every verdict row present (as after the checks:
the final one for last week, the daily refreshes for this one), 95% of the members
compliant ("done" on every post) and the rest ("missing" on every post) the ones
Instagram shows no comment from. Helpers with sessions the benchmark's simulated
Instagram accepts, so `autogram run` can read with them. `WeekInstagram` is that
Instagram: the same world, its posts made when read (a 1,000-member week's 2.5 million
comments are never all in memory at once), each request taking a random 0.3-1 s.

Shortcodes say whose a post is: `L00042x1` is member 42's second post of last week,
`C...` this week's, `N00042x7` one handed in during the benchmark.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.instagram.gateway import PostInfo, Session
from services.instagram.simulated import SimConfig, SimPost, SimulatedInstagram
from services.rules import CommunityRules
from services.week.calendar import Week
from storage.db import create_engine, session_factory
from storage.models import ChatAccount, Helper, JobRun, Member, Submission, Verification
from storage.models.base import UTCDateTime

FIRST_TELEGRAM = 10_000  # member n's Telegram user id is FIRST_TELEGRAM + n - 1
NON_COMPLIANT_EVERY = 20  # member ids divisible by it comment on nothing (5%)
OWNER = re.compile(r"^[LCN](\d{5})x")


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


@dataclass(frozen=True)
class Weeks:
    last: Week
    current: Week


def weeks_at(now: datetime) -> Weeks:
    current = Week.containing(now, CommunityRules().timezone)
    return Weeks(Week(current.start - timedelta(days=7), current.zone), current)


async def seed(url: str, members: int, helpers: int = 0, *, kakao: bool = True,
               now: datetime | None = None) -> None:
    """The community above on a migrated, empty database."""
    now = now or datetime.now(UTC)
    weeks = weeks_at(now)
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
                start = week.at("MON 00:00")
                handed = (start + timedelta(hours=9) if week is weeks.last
                          else start + (now - start) / 2)
                await conn.execute(insert(Submission), [
                    {"member_id": n, "week_start": week.start,
                     "shortcode": f"{prefix}{n:05d}x{k}",
                     "url": f"https://www.instagram.com/p/{prefix}{n:05d}x{k}/",
                     "source": "chat", "submitted_at": handed, "created_at": handed,
                     "status": "active"}
                    for n in range(1, members + 1) for k in range(2 + n % 2)])
                await add_verdicts(conn, week, now)
            if helpers:
                await conn.execute(insert(Helper), [
                    {"instagram_username": name, "session": helper_session(name),
                     "status": "ready", "created_at": now} for name in helper_names(helpers)])
    finally:
        await engine.dispose()


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


async def finish_last_week(url: str, now: datetime | None = None) -> None:
    """Last week as after its final check: recorded, the final job done (so a starting
    bot does not run it; a database without this has it start at once, as the
    scheduler catches up)."""
    from services.container import Services

    now = now or datetime.now(UTC)
    last = weeks_at(now).last
    engine = create_engine(url)
    try:
        services = Services(session_factory(engine), CommunityRules())
        async with services.transaction() as tx:
            await tx.records.record(last, now)
            tx.session.add(JobRun(job="final", period=last.label, status="done", summary={},
                                  started_at=now, finished_at=now))
    finally:
        await engine.dispose()


class WeekInstagram(SimulatedInstagram):
    """The seeded week's Instagram: every post by its member, commented on by the
    compliant members; posts are built when read (a few kept), and each request takes
    a random time in `latency` (seconds). `author_reads` counts the post look-ups a
    submission makes (`post_info`); the check reads posts through `commenters`."""

    def __init__(self, members: int, helpers: int, latency: tuple[float, float] = (0.0, 0.0),
                 seed: int = 7) -> None:
        super().__init__(SimConfig(calls_per_hour=10**9), seed)
        self.latency = latency
        self.author_reads = 0
        self.counted = 0  # requests whose record was dropped (see _call)
        self._chance = random.Random(seed)
        self._comments = [(username(n), "좋아요!") for n in range(1, members + 1)
                          if compliant(n)]
        self._made: OrderedDict[str, SimPost] = OrderedDict()
        for name in helper_names(helpers):
            self.add_account(name)
            self.accept_session(helper_session(name))

    async def _call(self, operation: str, actor: str) -> None:
        low, high = self.latency
        if high > 0:
            await asyncio.sleep(self._chance.uniform(low, high))
        await super()._call(operation, actor)
        if len(self.calls) > 10_000:  # a week's reads: the count is enough
            self.counted += len(self.calls)
            self.calls.clear()

    def requests(self) -> int:
        return self.counted + len(self.calls)

    def _post(self, shortcode: str) -> SimPost:
        if shortcode not in self.posts:
            post = self._made.get(shortcode)
            if post is None:
                found = OWNER.match(shortcode)
                if found is None:
                    return super()._post(shortcode)
                owner = username(int(found.group(1)))
                comments = [] if shortcode.startswith("N") else \
                    [c for c in self._comments if c[0] != owner]
                post = SimPost(owner, shortcode, datetime.now(UTC), "", comments)
                self._made[shortcode] = post
                while len(self._made) > 256:
                    self._made.popitem(last=False)
            return post
        return super()._post(shortcode)

    async def post_info(self, session: Session, shortcode: str) -> PostInfo:
        self.author_reads += 1
        return await super().post_info(session, shortcode)
