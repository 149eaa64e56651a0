"""Who commented where: the week's posts checked on Instagram, one read per post.

A run reads the week's posts and who owes a comment on each (one transaction), then
reads each post once through the helper pool, several posts at a time up to the number
of usable helpers (no transaction open meanwhile), and writes that post's verdicts as
soon as its read finishes, so an interrupted run keeps every read it finished. Posts
whose reads finish while a write is under way are written together in the next
transaction (a group commit: a thousand-member week finishes posts faster than one
transaction each could keep up with).

Reads are kept (`post_reads`, written with the post's verdicts), because a community's
two or three helpers cannot afford to read a week twice under Instagram's throttling:
- A read that paused (no helper free), failed after some pages or was cut by the run's
  end goes on from its next page in the next run, in any process; the members it had
  already found commenting on time are "done" at once. Taken up again, it also asks
  what is newer than its newest comment (comments made meanwhile).
- A post read through once is read again only for what is newer (`min_id` from its
  head cursor, else the first page down to a comment it holds), without the info
  request. The count growing by exactly the new comments keeps the list as complete
  as it was; otherwise (deleted comments, replies in old threads) the list is short,
  and after the cutoff, when someone owed is not found, the read goes on through every
  page. The submission's own read named the author: a first read asks no info either
  (but for a collab post's: its co-authors are known by name only, not by pk).
- A read stops once everyone who owes the post is found commenting on time.
- After the cutoff, the re-checks leave a post whose last read-through, after the
  cutoff, still fell short of the count (hidden comments). Never-read posts go first,
  then the least recently read.

- Verdicts: "done" when the member (by Instagram pk once known, else by name) commented
  by the week's cutoff (the comment's own time); "late" when a complete read shows only
  a later comment; "missing" only when the read was complete (distinct comments reach
  the count Instagram reported); otherwise "unknown"; "coauthor" for members the post
  is by. A verdict only moves up (unknown < missing < late < done < coauthor): upserts
  never lower a row, so a check that read before another committed "done" cannot
  overwrite it, a failed read never undoes a settled one, and two checks never clash.
  A "missing" read before the cutoff is a to-do: the week's results read it as unknown
  (services/week/progress.py). A newer-only read on a base read through after the cutoff
  writes no "missing": the base's stands, with its time (a deleted comment and a reply
  in an old thread leave the count as it was, so the newer pages cannot tell). What
  reads show of members (a pk, a new name) is written after the verdicts' commit
  (services/members/instagram_identities.py).
- A post whose author is not the member who handed it in is "foreign": nobody owes
  it; the member and the admins are told. A post with comments turned off is excused:
  nobody owes it; its owner and the admins are told why.
- "Not found" ends a post ("gone") only when answers at least `gone_after` apart, by
  two helpers where there are two, say so, counting only helpers whose other reads go
  through; any read that sees the post starts over. Until then its verdicts stay
  "unknown". A private account's post is "private" (never gone) while it is.
- When every helper is stopped the run pauses: the posts not read stay as they were.
  When one read fails unexpectedly the others are cancelled, and no Instagram request
  is sent after the run has ended.
- Commenter sets are cached for a short time, so "check now" reuses them.
- Names a newer-only read carries over from the read it builds on may be outdated: only
  what it shows anew teaches a member's new name (services/members/instagram_identities.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Exists, Select, and_, bindparam, exists, func, literal, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.instagram.comment_pages import CommentRead, Stop
from services.instagram.errors import InstagramError, NetworkError, NoHelperAvailable
from services.instagram.gateway import CURRENT_METER, CallMeter, PostComments
from services.instagram.names import name_key
from services.instagram.runtime import Instagram
from services.members.instagram_identities import learn_people
from services.operations.chat_first import ChatFirst
from services.rules import CommunityRules
from services.transactions import alone
from services.week.calendar import Week
from storage.models import Member, PostRead, Submission, Verification, utcnow
from storage.models.base import UTCDateTime

CONCURRENT_WRITES = 4  # write transactions at once (PostgreSQL)
BATCH_VERDICTS = 20_000  # verdicts one write transaction takes at most (~20 big posts)
# Seconds a finished post waits for others to share its write while reads are still
# under way (the last read of a run writes at once, and everything waiting with it).
GATHER = 2.0
DEBTS_AT_ONCE = 5_000  # open-debt rows a check's start takes between turns of the loop
POSTS_AT_ONCE = 50  # and posts it lists
# Posts whose kept read is looked up at once: a check reads with every helper at once (a
# hundred at a thousand members), and each lookup takes a connection; unbounded they
# emptied the connection pool, so chat waited for connections and the check failed
# after the pool's 30 s.
KEPT_READS_AT_ONCE = 2
# Submissions a check reads: "comments_off" and "private" ones too, in case comments
# were turned on or the account made public again.
READ_STATUSES = ("active", "comments_off", "private")
Progress = Callable[[int, int], Awaitable[None]]  # (posts done, posts to check)
Sessions = Callable[[], AsyncSession]


log = logging.getLogger(__name__)
Read = PostComments | InstagramError
T = TypeVar("T")


class ReadCut(InstagramError):
    """The run ended while the read was under way: no answer about the post itself."""

    code = "cut"


MemberRow = tuple[int, str, datetime | None]  # (id, username, joined)


class Owers(Mapping[int, str]):
    """Who owes one post a comment (member id -> username), worked out from the week's
    one member list when asked: a thousand-member week would otherwise hold a million
    entries while its posts are read."""

    __slots__ = ("_done", "_members", "_only", "_owner", "_since", "_submission")

    def __init__(self, members: Sequence[MemberRow], submission_id: int, owner_id: int,
                 since: datetime | None, only: int | None,
                 done: set[tuple[int, int]]) -> None:
        self._members = members
        self._submission = submission_id
        self._owner = owner_id
        self._since = since  # members who joined after this owe nothing (None: all owe)
        self._only = only
        self._done = done

    def pairs(self) -> Iterator[tuple[int, str]]:
        for member_id, name, joined in self._members:
            if member_id == self._owner or (self._only is not None and member_id != self._only):
                continue
            if self._since is not None and joined is not None and joined > self._since:
                continue
            if (member_id, self._submission) not in self._done:
                yield member_id, name

    def __iter__(self) -> Iterator[int]:
        return (member_id for member_id, _ in self.pairs())

    def __len__(self) -> int:
        return sum(1 for _ in self.pairs())

    def __getitem__(self, member_id: int) -> str:
        for found, name in self.pairs():
            if found == member_id:
                return name
        raise KeyError(member_id)


@dataclass(frozen=True)
class PostToCheck:
    submission_id: int
    shortcode: str
    url: str
    owner_id: int
    owner: str
    # Member id -> username of everyone who owes this post a comment.
    owed_by: Mapping[int, str]
    status: str = "active"
    # "Not found" answers since the post was last seen: the first one's time, and the
    # helpers that gave them (a post is gone only when they span `gone_after`).
    not_found_at: datetime | None = None
    not_found_by: frozenset[str] = frozenset()
    owner_pk: str | None = None
    # Member id -> Instagram pk, for every member of the run whose pk is known.
    pks: Mapping[int, str] = field(default_factory=dict)
    cutoff: datetime | None = None  # comments after this are late (None: no limit)
    gone_after: timedelta = timedelta(hours=6)
    coauthors: frozenset[str] = frozenset()  # co-authors' names from earlier reads
    # Its author as the submission's read (or a later one) said: the reads need not ask.
    author: str | None = None
    author_pk: str | None = None
    read_at: datetime | None = None  # when a read of it last advanced (None: never)
    # The last read that went through every page: when, and its count (None: none came,
    # or it did not add up), for `newer_than`.
    exhausted_at: datetime | None = None
    reported: int | None = None


@dataclass
class Finished:
    """A post whose read finished, with its verdicts, waiting for its write."""

    post: PostToCheck
    result: Read
    verdicts: dict[int, str]
    people: dict[int, tuple[str, str]]  # member id -> (pk, name) the read showed
    report: RunReport
    written: asyncio.Future[None]
    read: CommentRead | None = None  # the read to keep (None: it did not advance)
    kept: dict[str, Any] | None = None  # its post_reads columns (`kept_columns`)


@dataclass
class RunReport:
    """What a run did, for the admins' report and the job's record."""

    week: str
    posts: int = 0
    fetched: int = 0
    from_cache: int = 0
    requests: int = 0  # HTTP requests sent to Instagram, every page and info call
    incomplete: list[str] = field(default_factory=list)  # shortcodes fetched short
    failed: dict[str, str] = field(default_factory=dict)  # shortcode -> error code
    gone: list[tuple[str, str, str]] = field(default_factory=list)  # (url, owner, code)
    foreign: list[tuple[str, str, str]] = field(default_factory=list)  # (url, owner, author)
    comments_off: list[tuple[str, str]] = field(default_factory=list)  # (url, owner)
    private: list[tuple[str, str]] = field(default_factory=list)  # (url, owner): newly
    # (member id, old name, new name): a read showed a member's pk under a new name.
    renamed: list[tuple[int, str, str]] = field(default_factory=list)
    # (member added since, older member): two members that are one Instagram account.
    same_account: list[tuple[str, str]] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in
                                                             ("done", "missing", "unknown")})
    paused: bool = False
    helpers_out: list[str] = field(default_factory=list)

    @property
    def news(self) -> bool:
        """Something that owners or admins are told about."""
        return bool(self.gone or self.foreign or self.comments_off or self.private
                    or self.renamed or self.same_account or self.paused)

    def as_summary(self) -> dict[str, object]:
        return {
            "posts": self.posts, "fetched": self.fetched, "from_cache": self.from_cache,
            "requests": self.requests, "incomplete": self.incomplete, "failed": self.failed,
            "gone": [list(g) for g in self.gone], "foreign": [list(f) for f in self.foreign],
            "comments_off": [list(c) for c in self.comments_off],
            "private": [list(p) for p in self.private],
            "renamed": [list(r) for r in self.renamed],
            "same_account": [list(s) for s in self.same_account], "verdicts": self.verdicts,
            "paused": self.paused, "helpers_out": self.helpers_out,
        }


# How long a post's commenter list is reused instead of asking Instagram again (the
# default of COMMENTER_CACHE_MINUTES).
COMMENTER_CACHE = timedelta(minutes=10)


class CommenterCache:
    """Post reads by shortcode, kept `ttl` seconds (only complete ones are kept)."""

    def __init__(self, ttl: float = COMMENTER_CACHE.total_seconds(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._sets: dict[str, tuple[float, PostComments]] = {}

    def get(self, shortcode: str) -> PostComments | None:
        hit = self._sets.get(shortcode)
        if hit is None or self.clock() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, shortcode: str, users: PostComments) -> None:
        self._sets[shortcode] = (self.clock(), users)


async def posts_to_check(
    session: AsyncSession, week: Week, rules: CommunityRules, *,
    only_open: bool = False, member_id: int | None = None, now: datetime | None = None,
) -> list[PostToCheck]:
    """The week's posts and who owes each a comment: every active member except the owner
    (a member who joined after a post was handed in owes it only if the rules say so).
    `only_open` keeps the posts someone still owes; `member_id` keeps one member's debts.
    Either way the database works out the open debts (the pairs without a "done" row):
    a settled thousand-member week has millions of "done" rows and a few thousand open.

    Posts never read come first, then the least recently read (a paused run goes on
    where it stopped, a post handed in late is reached), ties as before: no verdict yet,
    then partly unknown, then settled, each in the order handed in. After the comment
    cutoff (`now` past it), the re-checks (`only_open` without `member_id`) leave out a
    post whose last complete pass, made after the cutoff, still fell short of the count
    (hidden comments: counted, never listed), and one whose every debt a complete read
    after the cutoff found "missing": reading it again settles nothing. A member's own
    check, an appeal and /verify still read it."""
    # One member's own re-check (an appeal) holds even if the ladder suspended them since.
    who = Member.id == member_id if member_id is not None else Member.status == "active"
    members = (await session.execute(
        select(Member.id, Member.instagram_username, Member.joined_at)
        .where(who).order_by(Member.id)
    )).all()
    # Everyone's pk (owners of the posts, co-authors): a few thousand short strings.
    pks = dict((await session.execute(select(Member.id, Member.instagram_pk).where(
        Member.instagram_pk.is_not(None)))).all())
    cutoff = rules.comment_cutoff(week)
    filtered = only_open or member_id is not None
    # The columns, not Submission objects: a thousand-member week has 5,000 posts.
    rows = (await session.execute(
        select(*POST_COLUMNS, Member.instagram_username, _any_verdict(DECIDED),
               literal(False) if filtered else _any_verdict(("unknown",)),
               PostRead.read_at, PostRead.exhausted_at, PostRead.seen, PostRead.reported)
        .join(Member, Member.id == Submission.member_id)
        .outerjoin(PostRead, PostRead.submission_id == Submission.id)
        .where(Submission.week_start == week.start, Submission.status.in_(READ_STATUSES),
               Member.status == "active")
        .order_by(Submission.submitted_at, Submission.id)
    )).all()
    # Post -> (the members who owe it, their verdicts so far), and the posts with a debt
    # not decided for good after the cutoff.
    owing: dict[int, tuple[list[int], list[str | None]]] = {}
    final: set[int] = set()
    if filtered and session.bind.dialect.name == "postgresql":
        await _open_debts_by_post(session, week, rules, member_id, len(members), owing,
                                  final)
    elif filtered:
        # A slice at a time, the loop turning between slices: a thousand-member week
        # mid-week has hundreds of thousands of open debts, whose rows would hold the
        # event loop (and every chat answer) for seconds if taken at once. (A slice that
        # the driver had buffered comes without a wait: hence the explicit turn.)
        debts = await session.stream(_open_debts(week, rules, member_id))
        async for part in debts.partitions(DEBTS_AT_ONCE):
            for post, member, status, checked in part:
                ids, statuses = owing.setdefault(post, ([], []))
                ids.append(member)
                statuses.append(status)
                if status != "missing" or checked is None or cutoff is None \
                        or checked <= cutoff:
                    final.add(post)
            await asyncio.sleep(0)
    by_id = {row[0]: row for row in members} if filtered else {}
    settle_only = only_open and member_id is None and cutoff is not None \
        and now is not None and now > cutoff
    ranked = []
    for n, submission in enumerate(rows):
        owner, read, unsure, read_at, exhausted_at, seen, reported = \
            submission[len(POST_COLUMNS):]
        if filtered and n % POSTS_AT_ONCE == POSTS_AT_ONCE - 1:
            await asyncio.sleep(0)  # each post's debts are gone through: the loop turns
        if settle_only and exhausted_at is not None and exhausted_at > cutoff \
                and reported is not None and seen is not None and seen < reported:
            continue  # hidden comments: no read settles its unknowns
        if settle_only and submission.id in owing and submission.id not in final:
            continue  # every debt "missing" by a complete read after the cutoff: decided
        since = None if rules.late_joiners_owe_earlier_posts else submission.submitted_at
        if filtered:
            ids, statuses = owing.get(submission.id, ((), ()))
            if not ids:
                continue
            owed = Owers([by_id[m] for m in ids if m in by_id], submission.id,
                         submission.member_id, since, member_id, set())
            unsure = any(status != "missing" for status in statuses)
        else:
            owed = Owers(members, submission.id, submission.member_id, since, None, set())
        rank = 0 if not read else 1 if unsure else 2
        ranked.append(((read_at is not None, read_at or submission.submitted_at, rank,
                        len(ranked)), PostToCheck(
            submission.id, submission.shortcode, submission.url, submission.member_id,
            owner, owed, submission.status, submission.not_found_at,
            frozenset((submission.not_found_by or "").split()),
            pks.get(submission.member_id), pks, cutoff,
            rules.gone_after, frozenset((submission.coauthors or "").split()),
            submission.author, submission.author_pk, read_at, exhausted_at, reported)))
    return [post for _, post in sorted(ranked, key=lambda item: item[0])]


# What posts_to_check reads of each post (read as `row.<name>`).
POST_COLUMNS = (Submission.id, Submission.shortcode, Submission.url, Submission.member_id,
                Submission.status, Submission.not_found_at, Submission.not_found_by,
                Submission.submitted_at, Submission.coauthors, Submission.author,
                Submission.author_pk)
DECIDED = ("done", "missing", "late", "coauthor")  # a read settled it once
SETTLED = ("done", "late", "coauthor")  # no later read changes these


def _any_verdict(statuses: tuple[str, ...]) -> Exists:
    """Whether the post has a verdict row of one of these statuses."""
    return exists().where(Verification.submission_id == Submission.id,
                          Verification.status.in_(statuses))


async def _open_debts_by_post(
    session: AsyncSession, week: Week, rules: CommunityRules, member_id: int | None,
    members: int, owing: dict[int, tuple[list[int], list[str | None]]], final: set[int],
) -> None:
    """PostgreSQL: `_open_debts` gathered by the database into one row a post (its
    members and their verdicts as two arrays, in member order, and whether any of them
    is not decided for good after the cutoff), read a few posts at a time with a turn
    of the loop between them. A row a debt meant hundreds of thousands of rows built on
    the event loop at a thousand members (seconds of the chat's time); arrays are
    decoded by the driver."""
    debts = _open_debts(week, rules, member_id).order_by(None).subquery()
    cutoff = rules.comment_cutoff(week)
    undecided = literal(True) if cutoff is None else or_(
        debts.c.status.is_(None), debts.c.status != "missing",
        debts.c.checked_at.is_(None), debts.c.checked_at <= cutoff)
    by_member = debts.c.member.asc()
    query = (select(debts.c.post, func.array_agg(aggregate_order_by(debts.c.member, by_member)),
                    func.array_agg(aggregate_order_by(debts.c.status, by_member)),
                    func.bool_or(undecided))
             .group_by(debts.c.post).order_by(debts.c.post))
    connection = await session.connection()
    result = await connection.stream(query)
    # A turn of the loop every DEBTS_AT_ONCE debts at most, as the rows of SQLite's.
    async for part in result.partitions(max(1, DEBTS_AT_ONCE // max(1, members))):
        for post, ids, statuses, open_for_good in part:
            owing[post] = (ids, statuses)
            if open_for_good:
                final.add(post)
        await asyncio.sleep(0)


def _open_debts(week: Week, rules: CommunityRules, member_id: int | None) -> Select[Any]:
    """(post, member, verdict or None, its time) of every debt not settled for good: the
    week's posts read, times the active members (or the one member) who owe them, by
    member."""
    ower, owner = aliased(Member), aliased(Member)
    query = (
        select(Submission.id.label("post"), ower.id.label("member"), Verification.status,
               Verification.checked_at)
        .select_from(Submission)
        .join(owner, owner.id == Submission.member_id)
        .join(ower, ower.id != Submission.member_id)
        .outerjoin(Verification, and_(Verification.submission_id == Submission.id,
                                      Verification.member_id == ower.id))
        .where(Submission.week_start == week.start, Submission.status.in_(READ_STATUSES),
               owner.status == "active",
               ower.id == member_id if member_id is not None else ower.status == "active",
               or_(Verification.status.is_(None), Verification.status.not_in(SETTLED)))
        .order_by(Submission.id, ower.id)
    )
    if not rules.late_joiners_owe_earlier_posts:  # as Owers: joined after it, owes nothing
        query = query.where(or_(ower.joined_at.is_(None),
                                ower.joined_at <= Submission.submitted_at))
    return query


class Verifier:
    """Runs checks for one week; holds no transaction while Instagram is asked."""

    def __init__(self, sessions: Sessions, instagram: Instagram, cache: CommenterCache,
                 *, write_lock: asyncio.Lock | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 chat_first: ChatFirst | None = None) -> None:
        self.sessions = sessions
        self.instagram = instagram
        self.cache = cache
        # SQLite has one writer: the process's writes queue on one lock (see Services).
        # PostgreSQL: a few posts' writes at a time, the rest queue here, not on the
        # connection pool (whose checkout gives up after 30 s and would end the run).
        self.write_lock: asyncio.Lock | asyncio.Semaphore = \
            write_lock or asyncio.Semaphore(CONCURRENT_WRITES)
        self.clock = clock
        self._waiting: list[Finished] = []  # reads finished, not yet taken by a write
        self._unread: list[list[int]] = []  # per run under way: its posts not read yet
        self._learning = asyncio.Lock()
        self._kept_reads = asyncio.Semaphore(KEPT_READS_AT_ONCE)
        self._cpu = asyncio.Lock()  # a post's pure work at a time (`_pure`)
        # The chat events in flight: each step of a post gives way to them (bounded).
        self.chat_first = chat_first if chat_first is not None else ChatFirst()

    async def run(self, week: Week, rules: CommunityRules, *, only_open: bool = False,
                  member_id: int | None = None, use_cache: bool = False,
                  progress: Progress | None = None, patience: float | None = None
                  ) -> RunReport:
        """`patience`: seconds a read may wait for a helper to cool down (None: the
        pool's own, short enough for someone waiting in chat)."""
        report = RunReport(week.label)
        async with self.transaction() as session:
            posts = await posts_to_check(session, week, rules, only_open=only_open,
                                         member_id=member_id, now=self.clock())
        report.posts = len(posts)
        meter = CallMeter(parent=CURRENT_METER.get())
        token = CURRENT_METER.set(meter)  # every read of this run counts here
        width = asyncio.Semaphore(max(1, self.instagram.pool.usable()))
        writes: set[asyncio.Future[None]] = set()
        finished = 0
        unread = [len(posts)]
        self._unread.append(unread)

        async def one(post: PostToCheck) -> None:
            nonlocal finished
            if await self._check(post, report, width, writes, unread, use_cache=use_cache,
                                 patience=patience):
                finished += 1
                if progress is not None:
                    await progress(finished, len(posts))

        try:
            async with asyncio.TaskGroup() as group:
                for n, post in enumerate(posts):
                    group.create_task(one(post))
                    if n % POSTS_AT_ONCE == POSTS_AT_ONCE - 1:
                        # A thousand-member week has 5,000 posts: their tasks (and first
                        # steps) made at once held the loop for a few tenths of a second.
                        await asyncio.sleep(0)
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the others were cancelled
        finally:
            self._unread.remove(unread)
            meter.stop()  # nothing is sent to Instagram once the run has ended
            CURRENT_METER.reset(token)
            # A read that finished is written even when the run was cancelled meanwhile.
            await asyncio.gather(*writes, return_exceptions=True)
            report.requests = meter.requests
            pool = self.instagram.pool
            report.helpers_out = sorted(h.username for h in pool.helpers.values() if h.out)
        return report

    async def _pure(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)`, a post's pure work (its kept read decoded or encoded, its
        verdicts worked out: ~10 ms of CPU at a thousand members), one post at a time
        and after a turn of the loop: reads that finish together (a hundred helpers')
        no longer hold the loop for all of theirs at once; the chat answers in between.
        (On a thread, the loop waited for the interpreter after each of its I/O calls.)
        While a chat event is being answered, it waits for the chat first (bounded)."""
        async with self._cpu:
            await asyncio.sleep(0)
            await self.chat_first.give_way()
            return call(*args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction queued behind the writer lock (SQLite) or the write slots."""
        with alone("verification"):
            async with self.write_lock, self.sessions() as session, session.begin():
                yield session

    async def _check(self, post: PostToCheck, report: RunReport, width: asyncio.Semaphore,
                     writes: set[asyncio.Future[None]], unread: list[int], *, use_cache: bool,
                     patience: float | None) -> bool:
        """Read one post and write its verdicts and its read (shielded: a cancelled run
        still writes what it read); False when the run paused first. A read that paused,
        failed or was cut after some pages is kept, and what it found counts ("done")."""
        read: CommentRead | None = None
        try:
            cached = self.cache.get(post.shortcode) if use_cache else None
            if cached is not None:
                report.from_cache += 1
                result: Read = cached
            elif post.shortcode.startswith("share:"):
                result = InstagramError("share_link")
            else:
                async with width:
                    if report.paused:
                        return False
                    kept = await self._kept_read(post)
                    before = kept.answers
                    try:
                        result, read = await self._read(post, patience, kept)
                    except asyncio.CancelledError:  # the run ended: what it read is kept
                        if kept.answers > before:
                            self._schedule(post, ReadCut(), report, writes, kept)
                        raise
                    if read is kept and read.answers == before:
                        read = None  # nothing new to keep (nor to bump its turn)
                if isinstance(result, NoHelperAvailable):
                    report.paused = True
                    if read is not None:  # the pages it read are kept, its finds count
                        self._schedule(post, result, report, writes, read)
                    return False
                if isinstance(result, PostComments):
                    report.fetched += 1
                    if result.complete:
                        self.cache.put(post.shortcode, result)
        finally:
            unread[0] -= 1
        await asyncio.shield(self._schedule(post, result, report, writes, read))
        return True

    def _schedule(self, post: PostToCheck, result: Read, report: RunReport,
                  writes: set[asyncio.Future[None]], read: CommentRead | None
                  ) -> asyncio.Future[None]:
        write = asyncio.ensure_future(self._write_post(post, result, report, read))
        writes.add(write)
        return write

    async def _kept_read(self, post: PostToCheck) -> CommentRead:
        """The post's read as the last run left it: unfinished, it goes on from its next
        request; finished, the next read asks only what is newer; none, a read from the
        first page (without the info request when the submission's read named the
        author). Each stops once everyone who owes the post is found on time."""
        stop = _stop_when_found(post)
        async with self._kept_reads:
            # A post taken up: its first step (a session and a query) waits for the chat.
            await self.chat_first.give_way()
            async with self.sessions() as session:
                kept = (await session.execute(select(PostRead.state, PostRead.finished)
                                              .where(PostRead.submission_id
                                                     == post.submission_id))).first()
        if kept is not None and kept.state:
            return await self._pure(_kept_from, kept.state, kept.finished, post.reported, stop)
        return self._first_read(post, stop)

    @staticmethod
    def _first_read(post: PostToCheck, stop: Stop | None) -> CommentRead:
        info = None
        # The submission's read told the author (and pk). Its co-authors are kept by name
        # only: one may have renamed since, so a collab post's first read asks their pks.
        if post.author is not None and not post.coauthors:
            info = {"user": {"username": post.author, "pk": post.author_pk},
                    "coauthor_producers": []}
        return CommentRead(info=info, stop=stop)

    async def _write_post(self, post: PostToCheck, result: Read, report: RunReport,
                          read: CommentRead | None = None) -> None:
        """This post's verdicts committed: queued, then written by whoever gets a write
        slot next, together with every post waiting by then (one transaction). While
        other reads are under way, a post waits up to GATHER seconds for company first:
        a big week then writes a few posts a transaction even when no write is queued."""
        verdicts, people, kept = await self._pure(_worked_out, post, result, read)
        finished = Finished(post, result, verdicts, people, report,
                            asyncio.get_running_loop().create_future(), read, kept)
        self._waiting.append(finished)  # the verdicts were worked out before: writes are short
        if any(left[0] > 0 for left in self._unread) and \
                sum(len(item.verdicts) for item in self._waiting) < BATCH_VERDICTS:
            # More reads will finish soon: a moment for them to join this write.
            await asyncio.wait({finished.written}, timeout=GATHER)
        while any(item is finished for item in self._waiting):  # not taken by another yet
            async with self.write_lock:
                batch = self._next_batch()
                if batch:
                    await self._write_batch(batch)
        await finished.written

    def _next_batch(self) -> list[Finished]:
        """The posts waiting, up to BATCH_VERDICTS verdicts; a post read twice meanwhile
        (two runs at once) waits for the next one, its rows are written once a statement."""
        batch: list[Finished] = []
        posts: set[int] = set()
        size = 0
        for item in self._waiting:
            if batch and size + len(item.verdicts) > BATCH_VERDICTS:
                break
            if item.post.submission_id not in posts:
                batch.append(item)
                posts.add(item.post.submission_id)
                size += len(item.verdicts)
        taken = {id(item) for item in batch}
        self._waiting = [item for item in self._waiting if id(item) not in taken]
        return batch

    async def _write_batch(self, batch: list[Finished]) -> None:
        """One transaction for the batch; its outcome reaches every post's waiter."""
        try:
            with alone("verification"):
                async with self.sessions() as session, session.begin():
                    written = await self._apply(session, batch)
            people = {k: v for item in batch for k, v in item.people.items()}
            if people:  # after the verdicts' commit: see services/members/instagram_identities.py
                reports = {k: item.report for item in batch for k in item.people}
                async with self._learning:  # one at a time: each news is told once
                    learned = await learn_people(self.sessions, people, self.clock())
                for renamed in learned.renamed:
                    reports[renamed[0]].renamed.append(renamed)
                batch[0].report.same_account += learned.same_account
        except Exception as exc:
            for item in batch:
                item.written.set_exception(exc)
        except BaseException:
            for item in batch:
                item.written.cancel()
            raise
        else:
            for item in batch:  # counted once the transaction is over
                owed, stood = written.get(item.post.submission_id, ({}, {}))
                counts = item.report.verdicts
                for member_id, verdict in owed.items():
                    verdict = stood.get(member_id, verdict)
                    counts[verdict] = counts.get(verdict, 0) + 1
                item.written.set_result(None)

    async def _read(self, post: PostToCheck, patience: float | None, read: CommentRead
                    ) -> tuple[Read, CommentRead]:
        """One read, by a helper that has not said "not found" of this post yet where
        there is one (a passing fault of one account is not a deleted post); returns the
        read that was made (a newer-only read may have gone on as a whole one)."""
        pool = self.instagram.pool
        avoid = post.not_found_by if pool.usable() > len(post.not_found_by) else frozenset()
        try:
            return await self._whole(post, patience, read, avoid)
        except InstagramError as exc:
            if exc.code != "not_found" or exc.helper is None:
                return exc, read
            await self._prove(exc.helper)
            if pool.usable() < 2:
                return exc, read
            first = exc
        # Read again at once by another helper: a passing fault of one account is then
        # settled in this run. Two answers within a second prove nothing more than one:
        # only answers hours apart make a post gone (`_post_state`).
        try:
            return await self._whole(post, patience, read, frozenset({first.helper or ""}))
        except InstagramError as exc:
            if exc.code == "not_found" and exc.helper is not None:
                await self._prove(exc.helper)
                exc.also_by = first.helper  # both answers are evidence
                return exc, read
            return first, read

    async def _whole(self, post: PostToCheck, patience: float | None, read: CommentRead,
                     avoid: frozenset[str]) -> tuple[Read, CommentRead]:
        """The read to its end; a newer-only one whose count does not add up (comments
        deleted, replies in old threads) goes on as a read of every page when a
        complete list is needed: after the post's cutoff, someone owed not found on
        time. Mid-week it does not: a mid-week "missing" is only a to-do. When that
        read fails, what it read is kept (or, before its first answer, the newer-only
        read stands)."""
        result = await self._resumable(post.shortcode, patience, read, avoid)
        # A base that fell short (hidden comments) stays short however well the newer
        # pages add up: a comment listed since among the older ones is only seen again by
        # a read of every page.
        # A late comment only an earlier run's pages showed may be deleted since: only a
        # read of every page tells "late" from "missing".
        short = read.base is not None and (read.base[1] is None or read.base[0] < read.base[1])
        doubtful = (read.base is not None and (not read.adds_up or short)) \
            or _stale_late(post, read)
        # A post that is not the member's (its author as asked) is owed by nobody.
        if not doubtful or not read.finished or post.cutoff is None \
                or self.clock() <= post.cutoff or _all_found(post, read) \
                or not owned_by(post, result):
            return result, read
        stop = _stop_when_found(post)
        # The info is never asked again; where this read asked it, the whole one names
        # the author too (else a foreign post would be taken as handed in).
        whole = read.from_first_page(stop=stop) if read.info is not None \
            else self._first_read(post, stop)
        try:
            return await self._resumable(post.shortcode, patience, whole, avoid), whole
        except InstagramError as exc:
            return (exc, whole) if whole.answers else (result, read)

    async def _prove(self, helper: str) -> None:
        """A "not found" from a helper with no read gone through since its last failure
        (or none yet) is evidence only once one cheap request (its own account) goes
        through: a helper whose calls are failing proves nothing about a post."""
        pool = self.instagram.pool
        if pool.healthy(helper):
            return
        others = frozenset(pool.helpers) - {helper}
        with contextlib.suppress(InstagramError):
            await pool.run(self.instagram.gateway.restore, avoid=others, max_wait=0.0)

    async def _resumable(self, shortcode: str, patience: float | None, read: CommentRead,
                         avoid: frozenset[str] = frozenset()) -> PostComments:
        """All of a post's pages, however many attempts they take: a rate limit moves the
        read to the next helper (in the pool), and a timeout or a lost connection after
        some pages goes on from the page that failed, as long as each attempt advances."""
        gateway = self.instagram.gateway
        failed: NetworkError | None = None
        while True:
            before = read.answers
            try:
                return await self.instagram.pool.run(
                    lambda s: gateway.commenters(s, shortcode, read), avoid=avoid,
                    max_wait=patience)
            except NoHelperAvailable:
                if failed is None:
                    raise
                raise failed from None  # this post stays unknown; the run goes on
            except NetworkError as exc:
                if read.answers == before:
                    raise
                failed = exc

    async def _apply(self, session: AsyncSession, batch: list[Finished]
                     ) -> dict[int, tuple[dict[int, str], dict[int, str]]]:
        """The posts' verdicts (and their state: gone, private, foreign, comments off)
        written; returns per post written its verdicts and the rows that kept theirs."""
        now = self.clock()
        states = [(item, *self._post_state(item.post, item.result, now)) for item in batch]
        # One guarded update, which takes the posts' row locks (PostgreSQL) so a
        # withdrawal cannot slip in between; a post withdrawn or taken out by another
        # check meanwhile (not among the rows touched): nothing to write.
        touched = await mark_posts(session, [(item.post.submission_id, values)
                                             for item, _, values in states])
        verdicts: dict[int, dict[int, str]] = {}
        for item, kind, _ in states:
            post, result, report = item.post, item.result, item.report
            if post.submission_id not in touched:
                continue
            if kind == "gone":
                report.gone.append((post.url, post.owner, "not_found"))
            elif kind == "private":
                if post.status != "private":
                    report.private.append((post.url, post.owner))
                verdicts[post.submission_id] = item.verdicts
            elif kind == "paused":  # its pages are kept; what it found counts
                verdicts[post.submission_id] = item.verdicts
            elif kind == "failed":
                code = getattr(result, "code", "error")
                report.failed[post.shortcode] = "not_found_once" if code == "not_found" else code
                verdicts[post.submission_id] = item.verdicts
            elif kind == "foreign":
                report.foreign.append((post.url, post.owner, getattr(result, "author", "")))
            elif kind == "comments_off":
                if post.status != "comments_off":
                    report.comments_off.append((post.url, post.owner))
                verdicts[post.submission_id] = item.verdicts  # co-authors, if any
            else:
                if isinstance(result, PostComments) and not result.complete and (
                        item.read is None or item.read.finished):  # not stopped early
                    report.incomplete.append(post.shortcode)
                verdicts[post.submission_id] = item.verdicts
        await keep_reads(session, [(item.post.submission_id, item.kept) for item in batch
                                   if item.kept is not None
                                   and item.post.submission_id in touched], now)
        # A verdict only ever moves up (unknown < missing < late < done < coauthor): a
        # read that failed never undoes what a complete read settled, a "done" stays
        # "done" (a comment deleted since is not held against the member).
        kept = await upsert_verdicts(session, verdicts, now)
        return {post: (owed, kept.get(post, {})) for post, owed in verdicts.items()}

    def _post_state(self, post: PostToCheck, result: Read, now: datetime
                    ) -> tuple[str, dict[str, Any]]:
        """What the read says of the post itself, and the columns that say it (none:
        the row is only locked)."""
        if isinstance(result, NoHelperAvailable | ReadCut):
            return "paused", {}  # not an answer about the post
        if isinstance(result, InstagramError):
            if result.code == "private":  # can't be read: not gone, never "missing"
                # (the answer shows the post is there: earlier "not found"s start over)
                return "private", {"status": "private", "not_found_at": None,
                                   "not_found_by": None}
            if result.code != "not_found":
                return "failed", {}
            # Each answer counts only if its helper's other reads are going through (the
            # one that read first, `also_by`, as much as the one that confirmed it).
            pool = self.instagram.pool
            answered = {h for h in (result.helper, result.also_by)
                        if h is not None and pool.healthy(h)}
            if not answered:
                return "failed", {}  # the helpers' other reads are failing: no evidence
            since = post.not_found_at or now
            by = post.not_found_by | answered
            values: dict[str, Any] = {"not_found_at": since, "not_found_by": " ".join(sorted(by))}
            needed = min(2, self.instagram.pool.usable())
            if now - since >= post.gone_after and len(by) >= needed:
                return "gone", {**values, "status": "gone"}
            return "failed", values
        values = {"not_found_at": None, "not_found_by": None}
        if result.author is not None:
            values.update(author=result.author, author_pk=result.author_pk,
                          coauthors=" ".join(sorted(result.coauthors)) or None)
        if not owned_by(post, result):
            return "foreign", {**values, "status": "foreign"}
        if result.comments_off:
            return "comments_off", {**values, "status": "comments_off"}
        return "active", {**values, "status": "active"}


def _on_time(post: PostToCheck, found: PostComments) -> Callable[[int, str], bool]:
    """Whether a member (id, username) owes the post nothing more by what was found: a
    comment by the cutoff, or one of the people the post is by (as far as known)."""
    authors = post.coauthors | ({name_key(post.author)} if post.author else set())

    def settled(member_id: int, username: str) -> bool:
        name = name_key(username)
        if name in authors:
            return True
        seen, at, _ = found.comment_of(post.pks.get(member_id), name)
        return seen and (at is None or post.cutoff is None or at <= post.cutoff)
    return settled


def _all_found(post: PostToCheck, read: CommentRead) -> bool:
    """Everyone who owes the post was found commenting on time by this read."""
    pages = read.pages
    found = PostComments(None, frozenset(), 0, None, pks=pages.pks, times=pages.times)
    settled = _on_time(post, found)
    return all(settled(member_id, name) for member_id, name in _pairs(post.owed_by))


def _absence_settled(post: PostToCheck, read: CommentRead | None) -> bool:
    """A newer-only read whose base went through every page after the post's cutoff:
    who that base did not find has a "missing" read after the cutoff."""
    return read is not None and read.base is not None and post.cutoff is not None \
        and post.exhausted_at is not None and post.exhausted_at > post.cutoff


def _stale_late(post: PostToCheck, read: CommentRead) -> bool:
    """Someone owed is seen only late, and only by an earlier run's pages (a read taken
    up again, or one that builds on an earlier read)."""
    stale = read.pages.stale
    if not stale or post.cutoff is None:
        return False
    found = PostComments(None, frozenset(), 0, None, pks=read.pages.pks, times=read.pages.times)
    for member_id, name in _pairs(post.owed_by):
        pk = post.pks.get(member_id)
        seen, at, shown = found.comment_of(pk, name_key(name))
        if seen and at is not None and at > post.cutoff and (pk or found.pk_of(shown)) in stale:
            return True
    return False


def _stop_when_found(post: PostToCheck) -> Stop | None:
    """A read of this post stops once everyone who owes it is found on time (None: nobody
    owes it, the read goes through: it still tells whether the post is there)."""
    if not any(True for _ in _pairs(post.owed_by)):
        return None
    return lambda read: _all_found(post, read)


def owned_by(post: PostToCheck, result: PostComments) -> bool:
    """Whether the member who handed the post in is its author or a co-author: by pk
    when both sides have one, else by name."""
    if result.author is None:
        return True  # the author was not read: the post is taken as handed in
    coauthor_pks = {pk for pk in result.coauthors.values() if pk}
    if post.owner_pk is not None and result.author_pk is not None:
        return post.owner_pk == result.author_pk or post.owner_pk in coauthor_pks or (
            name_key(post.owner) in result.coauthors
            and result.coauthors[name_key(post.owner)] is None)
    owner = name_key(post.owner)
    return result.author == owner or owner in result.coauthors


def _verdicts(post: PostToCheck, result: Read
              ) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """Each owing member's verdict on what was read, and what the read showed of
    members (member id -> (pk, name shown)). "done" when Instagram listed their comment
    made by the post's cutoff; "late" when a complete read lists only a later one;
    "missing" when a complete read lacks it; "unknown" otherwise (or unread); a
    co-author, or the author of a post a co-author handed in, owes nothing ("coauthor")."""
    if not isinstance(result, PostComments):
        return {member_id: "unknown" for member_id in post.owed_by}, {}
    people: dict[int, tuple[str, str]] = {}
    owner_pk = post.owner_pk
    if result.author is not None and result.author_pk is not None and (
            owner_pk == result.author_pk
            or (owner_pk is None and result.author == name_key(post.owner))):
        people[post.owner_id] = (result.author_pk, result.author)
    if not owned_by(post, result):
        return {}, people
    if result.stale:  # a newer-only read: members it shows anew (a new name, perhaps)
        members = {pk: member_id for member_id, pk in post.pks.items()}
        for pk, shown in result.pks.items():
            if pk not in result.stale and pk in members:
                people.setdefault(members[pk], (pk, shown))
    # Everyone the post is by: its co-authors, and its author (a collab post handed in
    # by a co-author is its author's post too: the author never owes it a comment).
    authors = dict(result.coauthors)
    if result.author is not None:
        authors[result.author] = result.author_pk
    elif post.author is not None:  # not asked by this read: as an earlier read named it
        authors[post.author] = post.author_pk
    co_pks = {pk: name for name, pk in authors.items() if pk}
    co_names = set(authors) | post.coauthors
    verdicts: dict[int, str] = {}
    absent = "missing" if result.complete else "unknown"
    cutoff = post.cutoff
    for member_id, username in _pairs(post.owed_by):
        pk = post.pks.get(member_id)
        name = name_key(username)
        if (pk is not None and pk in co_pks) or (
                name in co_names and (pk is None or authors.get(name) in (None, pk))):
            verdicts[member_id] = "coauthor"
            shown = co_pks.get(pk, name) if pk is not None else name
            found_pk = pk or authors.get(name)
            if found_pk is not None and (pk is None or shown != name):
                people[member_id] = (found_pk, shown)
            continue
        if result.comments_off:
            continue  # nobody owes it
        found, at, shown = result.comment_of(pk, name)
        if not found:
            verdicts[member_id] = absent
            continue
        if pk is None:
            learned = result.pk_of(shown)
            if learned is not None and learned not in result.stale:
                people[member_id] = (learned, shown)
        elif shown != name and pk not in result.stale:
            people[member_id] = (pk, shown)
        if at is None or cutoff is None or at <= cutoff:
            verdicts[member_id] = "done"
        elif (pk or result.pk_of(shown)) in result.stale:
            # Only an earlier run's pages showed this late comment: it may be deleted since
            # (a count can add up by chance). Not known; a read of every page tells.
            verdicts[member_id] = "unknown"
        else:  # an incomplete read may have missed an earlier comment
            verdicts[member_id] = "late" if result.complete else "unknown"
    return verdicts, people


def _worked_out(post: PostToCheck, result: Read, read: CommentRead | None
                ) -> tuple[dict[int, str], dict[int, tuple[str, str]], dict[str, Any] | None]:
    """A finished read's verdicts, what it showed of members, and its post_reads columns
    (None: nothing to keep): pure work (`Verifier._pure`)."""
    verdicts, people = _verdicts(post, result)
    if _absence_settled(post, read):
        # That base wrote its "missing" already; a newer-only read cannot tell it still
        # holds (a deleted comment and a reply in an old thread leave the count as it
        # was): it stays as the base wrote it, and when.
        verdicts = {m: "unknown" if v == "missing" else v for m, v in verdicts.items()}
    if not isinstance(result, PostComments) and read is not None:
        # What the read found before it stopped: those seen commenting on time are
        # "done" (a "done" never needs the whole list), the others stay unknown.
        found, people = _verdicts(post, read.result())
        verdicts.update({m: v for m, v in found.items() if v in ("done", "coauthor")})
    return verdicts, people, kept_columns(read) if read is not None else None


def _kept_from(state: str, finished: bool, reported: int | None, stop: Stop | None
               ) -> CommentRead:
    """The read a kept state goes on with (`Verifier._kept_read`): pure work, run by
    `Verifier._pure`."""
    decoded = json.loads(state)
    if not finished:
        read = CommentRead.from_state(decoded, stop=stop)
        # What its earlier pages showed was so then: enough for "done", not for
        # a "late" or a new name (a comment may be deleted, a name taken since).
        read.pages.stale |= set(read.pages.pks)
        return read
    return CommentRead.newer_than(decoded, reported=reported, stop=stop)


_R = PostRead.__table__


def kept_columns(read: CommentRead) -> dict[str, Any]:
    """A read's post_reads columns but its times (`keep_reads` adds them): an unfinished
    one to go on from, a finished one as the base of the next, newer-only read (its
    summary: newest comment, head cursor, distinct comments, count). Pure work (the
    state is ~100 kB of JSON at a thousand members): `Verifier._pure` runs it."""
    values: dict[str, Any] = {"state": json.dumps(read.to_state()), "finished": read.finished}
    if read.finished:
        pages = read.pages
        reported = read.result().reported
        if read.resumed and reported is not None and len(pages.ids) < reported:
            # Short after a pause: the threads it had read may have grown since, so
            # its gap may be its own, not hidden comments: no count to build on.
            reported = None
        values.update(newest_pk=pages.newest_pk, newest_at=pages.newest_at,
                      head_cursor=pages.head, seen=len(pages.ids), reported=reported)
    return values


async def keep_reads(session: AsyncSession, reads: list[tuple[int, dict[str, Any]]],
                     now: datetime) -> None:
    """Each post's read as it stands (`kept_columns`), with its verdicts (the caller's
    transaction)."""
    if not reads:
        return
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    connection = await session.connection()
    for submission_id, kept in reads:
        values = {**kept, "read_at": now}
        if kept["finished"]:
            values["exhausted_at"] = now
        statement = insert(_R).values(submission_id=submission_id, **values)
        await connection.execute(statement.on_conflict_do_update(
            index_elements=["submission_id"], set_=values))


_S = Submission.__table__
LOCK_POSTS = (
    select(_S.c.id).where(_S.c.id.in_(bindparam("ids", expanding=True)),
                          _S.c.status.in_(READ_STATUSES))
    .order_by(_S.c.id).with_for_update()  # in id order: two batches never deadlock
)


async def mark_posts(session: AsyncSession, posts: list[tuple[int, dict[str, Any]]]
                     ) -> set[int]:
    """Lock the posts still being read (PostgreSQL: their rows, in id order) and write
    each one's columns (one statement per set of columns: at most four); returns the
    posts locked. A post withdrawn or taken out meanwhile is left alone."""
    touched = set((await session.scalars(LOCK_POSTS, {"ids": [i for i, _ in posts]})).all())
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for submission_id, values in posts:
        if submission_id in touched and values:
            by_columns.setdefault(tuple(sorted(values)), []).append(
                {"post": submission_id, **{f"new_{c}": v for c, v in values.items()}})
    connection = await session.connection()
    for columns, rows in by_columns.items():
        await connection.execute(
            _S.update().where(_S.c.id == bindparam("post"))
            .values({c: bindparam(f"new_{c}", type_=_S.c[c].type) for c in columns}), rows)
    return touched


# A verdict only moves up this order; a "missing" read again is written again (its
# time says whether it was read after the comment deadline).
RANK = {"unknown": 0, "missing": 1, "late": 2, "done": 3, "coauthor": 4}


def _rank(column: str) -> str:
    return "CASE " + " ".join(f"WHEN {column} = '{k}' THEN {v}" for k, v in RANK.items()) + \
        " ELSE 0 END"


def _replaces(new: str, old: str | None) -> bool:
    return old is None or RANK[new] > RANK.get(old, 0) or (new == old == "missing")


UPSERT_POSTGRESQL = text(
    "INSERT INTO user_action_verification (member_id, submission_id, status, checked_at) "
    "SELECT member, post, verdict, CAST(:now AS TIMESTAMP) "
    "FROM unnest(CAST(:posts AS INTEGER[]), CAST(:members AS INTEGER[]), "
    "CAST(:verdicts AS VARCHAR[])) AS given(post, member, verdict) "
    "ON CONFLICT (submission_id, member_id) DO UPDATE "
    "SET status = excluded.status, checked_at = excluded.checked_at "
    f"WHERE {_rank('excluded.status')} > {_rank('user_action_verification.status')} "
    "OR (excluded.status = 'missing' AND user_action_verification.status = 'missing')"
).bindparams(bindparam("now", type_=UTCDateTime()))
_VT = Verification.__table__
# The rows among the given (post, member, verdict) that keep theirs (`_replaces` false):
# only the pairs written are looked at, by the table's unique index. (Reading every
# settled row of the posts instead meant a thousand rows a post in a thousand-member
# week, on the event loop, to find the few that matter.)
KEPT_ROWS = text(
    "SELECT given.post, given.member, v.status "
    "FROM unnest(CAST(:posts AS INTEGER[]), CAST(:members AS INTEGER[]), "
    "CAST(:verdicts AS VARCHAR[])) AS given(post, member, verdict) "
    "JOIN user_action_verification v "
    "ON v.submission_id = given.post AND v.member_id = given.member "
    "WHERE v.status IN ('missing', 'late', 'done', 'coauthor') "
    f"AND {_rank('given.verdict')} <= {_rank('v.status')} "
    "AND NOT (given.verdict = 'missing' AND v.status = 'missing')")


_INSERT = sqlite.insert(_VT)
SQLITE_UPSERT = _INSERT.on_conflict_do_update(
    index_elements=["submission_id", "member_id"],
    set_={"status": _INSERT.excluded.status, "checked_at": _INSERT.excluded.checked_at},
)


def _pairs(owed: Mapping[int, str]) -> Iterator[tuple[int, str]]:
    return owed.pairs() if isinstance(owed, Owers) else iter(owed.items())


async def upsert_verdicts(session: AsyncSession, verdicts: dict[int, dict[int, str]],
                          now: datetime) -> dict[int, dict[int, str]]:
    """Insert or update posts' verdicts (post id -> member id -> verdict), each only
    upwards (RANK); returns, per post, the members whose row kept its verdict, with it.
    The caller holds the posts' row locks, so nobody else writes their verdicts
    meanwhile. PostgreSQL looks up, among the rows given, those that keep theirs (none
    in a week's first check), then gets the rest as three arrays in one statement (a
    batch of thousand-member posts at once); SQLite reads the posts' rows and writes the
    changed ones in one executemany."""
    if not any(verdicts.values()):
        return {}
    kept: dict[int, dict[int, str]] = {}
    if session.bind.dialect.name == "postgresql":
        posts: list[int] = []
        members: list[int] = []
        statuses: list[str] = []
        for post, owed in verdicts.items():
            posts += [post] * len(owed)
            members += owed
            statuses += owed.values()
        given = {"posts": posts, "members": members, "verdicts": statuses}
        for post, member, status in (await session.execute(KEPT_ROWS, given)).all():
            kept.setdefault(post, {})[member] = status
        if kept:  # only these few rows one by one (a week's first check has none)
            rows = [(post, member, verdict) for post, member, verdict
                    in zip(posts, members, statuses, strict=True)
                    if member not in kept.get(post, ())]
            given = {"posts": [r[0] for r in rows], "members": [r[1] for r in rows],
                     "verdicts": [r[2] for r in rows]}
        if given["posts"]:
            await session.execute(UPSERT_POSTGRESQL, {"now": now, **given})
        return kept
    existing = {(post, member): status for post, member, status in (await session.execute(
        select(_VT.c.submission_id, _VT.c.member_id, _VT.c.status)
        .where(_VT.c.submission_id.in_(list(verdicts))))).all()}
    changed = []
    for post, owed in verdicts.items():
        for member, verdict in owed.items():
            before = existing.get((post, member))
            if _replaces(verdict, before):
                if before != verdict or verdict == "missing":
                    changed.append({"member_id": member, "submission_id": post,
                                    "status": verdict, "checked_at": now})
            else:
                kept.setdefault(post, {})[member] = before  # type: ignore[assignment]
    if changed:
        connection = await session.connection()
        await connection.execute(SQLITE_UPSERT, changed)
    return kept
