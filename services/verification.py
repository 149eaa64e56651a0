"""Who commented where: the week's posts checked on Instagram, one fetch per post.

A run reads the week's posts and who owes a comment on each (one transaction), fetches
each post's commenters once, all pages, through the helper pool, several posts at a
time up to the number of usable helpers (no transaction open meanwhile), and writes one
row per (member, post) as done, missing or unknown (a second transaction).

- A post whose commenters could not be fetched, or came back shorter than the count
  Instagram reports, never makes anyone "missing": such rows are "unknown" (a "done"
  seen earlier stays done; comments are not taken back).
- A post that is gone or became private leaves everyone's debt; the run reports it so
  its owner and the admins are told.
- When every helper is stopped the run pauses: the posts not fetched stay as they were.
- Commenter sets are cached for a short time, so "check now" reuses them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.errors import InstagramError, NoHelperAvailable
from services.instagram.gateway import UserList
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from services.weeks import Week
from storage.models import Member, Submission, Verification, utcnow

OPEN = ("missing", "unknown")
GONE_CODES = {"not_found", "private"}
Progress = Callable[[int, int], Awaitable[None]]  # (posts done, posts to check)


@dataclass(frozen=True)
class PostToCheck:
    submission_id: int
    shortcode: str
    url: str
    owner_id: int
    owner: str
    # Member id -> username of everyone who owes this post a comment.
    owed_by: dict[int, str]


@dataclass
class RunReport:
    """What a run did, for the admins' report and the job's record."""

    week: str
    posts: int = 0
    fetched: int = 0
    from_cache: int = 0
    incomplete: list[str] = field(default_factory=list)  # shortcodes fetched short
    failed: dict[str, str] = field(default_factory=dict)  # shortcode -> error code
    gone: list[tuple[str, str, str]] = field(default_factory=list)  # (url, owner, code)
    verdicts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in
                                                             ("done", "missing", "unknown")})
    paused: bool = False
    helpers_out: list[str] = field(default_factory=list)

    def as_summary(self) -> dict[str, object]:
        return {
            "posts": self.posts, "fetched": self.fetched, "from_cache": self.from_cache,
            "incomplete": self.incomplete, "failed": self.failed,
            "gone": [list(g) for g in self.gone], "verdicts": self.verdicts,
            "paused": self.paused, "helpers_out": self.helpers_out,
        }


class CommenterCache:
    """Commenter sets by shortcode, kept `ttl` seconds (only complete ones are kept)."""

    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._sets: dict[str, tuple[float, UserList]] = {}

    def get(self, shortcode: str) -> UserList | None:
        hit = self._sets.get(shortcode)
        if hit is None or self.clock() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, shortcode: str, users: UserList) -> None:
        self._sets[shortcode] = (self.clock(), users)


async def posts_to_check(
    session: AsyncSession, week: Week, rules: CommunityRules, *,
    only_open: bool = False, member_id: int | None = None,
) -> list[PostToCheck]:
    """The week's posts and who owes each a comment: every active member except the owner
    (a member who joined after a post was handed in owes it only if the rules say so).
    `only_open` keeps the posts someone still owes; `member_id` keeps one member's debts."""
    # One member's own re-check (an appeal) holds even if the ladder suspended them since.
    who = Member.id == member_id if member_id is not None else Member.status == "active"
    members = (await session.execute(
        select(Member.id, Member.instagram_username, Member.joined_at)
        .where(who).order_by(Member.id)
    )).all()
    rows = (await session.execute(
        select(Submission, Member.instagram_username)
        .join(Member, Member.id == Submission.member_id)
        .where(Submission.week_start == week.start, Submission.status == "active",
               Member.status == "active")
        .order_by(Submission.submitted_at, Submission.id)
    )).all()
    done: set[tuple[int, int]] = set()
    if only_open or member_id is not None:
        checks = await session.execute(
            select(Verification.member_id, Verification.submission_id)
            .join(Submission, Submission.id == Verification.submission_id)
            .where(Submission.week_start == week.start, Verification.status == "done"))
        done = {(m, s) for m, s in checks.all()}
    posts = []
    for submission, owner in rows:
        owed = {
            mid: name for mid, name, joined in members
            if mid != submission.member_id
            and (rules.late_joiners_owe_earlier_posts or joined is None
                 or joined <= submission.submitted_at)
            and (member_id is None or mid == member_id)
            and not ((only_open or member_id is not None) and (mid, submission.id) in done)
        }
        if owed or not (only_open or member_id is not None):
            posts.append(PostToCheck(submission.id, submission.shortcode, submission.url,
                                     submission.member_id, owner, owed))
    return posts


class Verifier:
    """Runs checks for one week; holds no transaction while Instagram is asked."""

    def __init__(self, sessions: Callable[[], AsyncSession], instagram: Instagram,
                 cache: CommenterCache) -> None:
        self.sessions = sessions
        self.instagram = instagram
        self.cache = cache

    async def fetch(self, posts: list[PostToCheck], report: RunReport, *,
                    use_cache: bool, progress: Progress | None = None
                    ) -> dict[str, UserList | InstagramError]:
        """Each post's commenters, several posts at once (one per usable helper)."""
        results: dict[str, UserList | InstagramError] = {}
        pool = self.instagram.pool
        gateway = self.instagram.gateway
        width = asyncio.Semaphore(max(1, pool.usable()))
        finished = 0

        async def one(post: PostToCheck) -> None:
            nonlocal finished
            if report.paused:
                return
            cached = self.cache.get(post.shortcode) if use_cache else None
            if cached is not None:
                results[post.shortcode] = cached
                report.from_cache += 1
            elif post.shortcode.startswith("share:"):
                results[post.shortcode] = InstagramError("share_link")
            else:
                async with width:
                    if report.paused:
                        return
                    try:
                        users = await pool.run(
                            lambda s: gateway.commenters(s, post.shortcode))
                    except NoHelperAvailable as exc:
                        report.paused = True
                        results[post.shortcode] = exc
                        return
                    except InstagramError as exc:
                        results[post.shortcode] = exc
                    else:
                        results[post.shortcode] = users
                        report.fetched += 1
                        if users.complete:
                            self.cache.put(post.shortcode, users)
            finished += 1
            if progress is not None:
                await progress(finished, len(posts))

        await asyncio.gather(*(one(post) for post in posts))
        report.helpers_out = sorted(h.username for h in pool.helpers.values() if h.out)
        return results

    async def run(self, week: Week, rules: CommunityRules, *, only_open: bool = False,
                  member_id: int | None = None, use_cache: bool = False,
                  progress: Progress | None = None) -> RunReport:
        report = RunReport(week.label)
        async with self.sessions() as session, session.begin():
            posts = await posts_to_check(session, week, rules, only_open=only_open,
                                         member_id=member_id)
        report.posts = len(posts)
        fetched = await self.fetch(posts, report, use_cache=use_cache, progress=progress)
        async with self.sessions() as session, session.begin():
            await self._apply(session, posts, fetched, report)
        return report

    async def _apply(self, session: AsyncSession, posts: list[PostToCheck],
                     fetched: dict[str, UserList | InstagramError], report: RunReport) -> None:
        """Write the verdicts: new rows inserted, changed rows updated, in bulk."""
        ids = [p.submission_id for p in posts]
        existing: dict[tuple[int, int], tuple[int, str]] = {}
        for start in range(0, len(ids), 500):
            rows = await session.execute(
                select(Verification.id, Verification.member_id, Verification.submission_id,
                       Verification.status)
                .where(Verification.submission_id.in_(ids[start:start + 500])))
            existing.update({(m, s): (i, st) for i, m, s, st in rows.all()})
        now = utcnow()
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        gone: list[int] = []
        for post in posts:
            result = fetched.get(post.shortcode)
            if result is None:  # not reached: the run paused first
                continue
            if isinstance(result, InstagramError):
                if result.code in GONE_CODES:
                    gone.append(post.submission_id)
                    report.gone.append((post.url, post.owner, result.code))
                    continue
                report.failed[post.shortcode] = result.code
            elif not result.complete:
                report.incomplete.append(post.shortcode)
            for mid, username in post.owed_by.items():
                before = existing.get((mid, post.submission_id))
                verdict = _verdict(result, username, before[1] if before else None)
                report.verdicts[verdict] += 1
                if before is None:
                    inserts.append({"member_id": mid, "submission_id": post.submission_id,
                                    "status": verdict, "checked_at": now})
                elif before[1] != verdict:
                    updates.append({"row_id": before[0], "status": verdict, "checked_at": now})
        if gone:
            await session.execute(update(Submission).where(Submission.id.in_(gone))
                                  .values(status="gone"))
            await session.execute(delete(Verification)
                                  .where(Verification.submission_id.in_(gone)))
        if inserts:
            await session.execute(insert(Verification), inserts)
        if updates:
            await _bulk_update(session, updates)


async def _bulk_update(session: AsyncSession, updates: list[dict[str, object]]) -> None:
    table = Verification.__table__
    statement = (table.update().where(table.c.id == bindparam("row_id"))
                 .values(status=bindparam("status"), checked_at=bindparam("checked_at")))
    await (await session.connection()).execute(statement, updates)


def _verdict(result: UserList | InstagramError, username: str, before: str | None) -> str:
    if isinstance(result, InstagramError):
        return "done" if before == "done" else "unknown"
    if username.lower() in result.usernames:
        return "done"
    if before == "done":
        return "done"  # seen before; a comment deleted since is not held against anyone
    return "missing" if result.complete else "unknown"
