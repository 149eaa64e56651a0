"""One deployment by community size: a whole `autogram run`'s memory and /status's cost,
on a week as it looks mid-way.

Per size, one `autogram run` process (`bot.app.run`: Telegram polling the Bot API
emulator, the Kakao endpoint and the web pages on one app, the scheduler), on a week
seeded as a real one looks on the day of a refresh:

- last week recorded, every verdict present (benchmarks/seed_week.py);
- this week's posts read once already, by the product's own check as of the last
  refresh (`MidWeek.last_read`): its verdicts ("done" for those seen, "missing" for the
  rest: a to-do before the cutoff) and the reads it keeps (`post_reads`), from which the
  next read asks only what is newer;
- on Instagram (`MidWeekInstagram`, the simulated one, 0.3-1 s a request) each owed
  member's comment has a time and a pk fixed by the post and the member (the same in
  every process): 70 % of the debts were commented before that read, 10 % since, 15 %
  will be by the deadline, 5 % never (the members who comment on nothing).

The process starts with the helper pool loaded (the helpers a week of that size needs,
from benchmarks/week.py, with the production hourly budget and burst); then /status
over Kakao `--calls` times, one member after another (its latency); the week page; a
little Telegram; then the daily refresh (`WeeklyJobs.refresh`, as the scheduler calls
it), for up to `--check-seconds`. Memory: the process's VmHWM after each phase. The
refresh's own report (posts, reads, requests, paused) is read from its job run.

    .venv/bin/python benchmarks/scale.py --members 20 30 50 100 300 1000
        --database-url postgresql://... [--helpers 2 2 3 11 95 1035] [--calls 300]
        [--check-seconds 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import delete, func, insert, select  # noqa: E402
from sqlalchemy.exc import TimeoutError as PoolTimeout  # noqa: E402

from benchmarks.bot_process import start_bot  # noqa: E402
from benchmarks.chat_during_checks import (  # noqa: E402
    BOT_ID,
    LATENCY,
    SECRET,
    Bot,
    Databases,
    free_port,
    kakao_request,
    process_status,
    telegram_phase,
)
from benchmarks.seed_week import (  # noqa: E402
    OWNER,
    WeekInstagram,
    compliant,
    finish_last_week,
    helper_names,
    helper_session,
    kakao_user,
    seed,
    username,
    weeks_at,
)
from services.container import Services  # noqa: E402
from services.instagram.names import name_key  # noqa: E402
from services.instagram.runtime import Instagram  # noqa: E402
from services.instagram.simulated import SimPost  # noqa: E402
from services.rules import CommunityRules  # noqa: E402
from services.week.calendar import Week  # noqa: E402
from storage import crypto  # noqa: E402
from storage.db import create_engine, is_sqlite, session_factory  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.models import Helper, JobRun, PostRead, Submission, Verification  # noqa: E402

# Of every debt of this week: commented before the last refresh, since, later (by the
# deadline); the rest (5 %: the members who comment on nothing) never.
BEFORE, SINCE = 0.70, 0.10
OWED_SHARE = 0.95  # the compliant members' share of the debts
# Helpers a week of each size needs (benchmarks/week.py), as the scale table in
# docs/benchmarks.md was measured: 300 and 1,000 with the bounds' estimate, which the
# 300-member week then bettered (82 held).
HELPERS = {20: 2, 30: 2, 50: 3, 100: 11, 300: 95, 1000: 1035}
# The earlier read (the seed, not measured) uses at most this many of them: the product
# reads with every usable helper at once, and on a loaded machine a hundred reads at
# once can wait for the database's connection pool longer than its 30 s checkout (which
# ends the run). Without latency a few helpers read as fast.
SEED_HELPERS = 8
TEXT = "좋아요!"
MEMBER = re.compile(r"^member\.(\d{5})$")  # seed_week's usernames


@dataclass(frozen=True)
class MidWeek:
    """The timeline of this week's comments, fixed when the week is seeded."""

    seeded: datetime  # "now" of the seed: the refresh comes after it
    handed: datetime  # this week's links (seed_week hands them in half-way to `seeded`)
    last_read: datetime  # the earlier refresh whose reads and verdicts are seeded
    cutoff: datetime  # the comment deadline

    @classmethod
    def at(cls, seeded: datetime) -> MidWeek:
        week = weeks_at(seeded).current
        start = week.at("MON 00:00")
        handed = start + (seeded - start) / 2
        cutoff = CommunityRules().comment_cutoff(week)
        assert cutoff is not None
        return cls(seeded, handed, handed + (seeded - handed) * 0.75, cutoff)

    @property
    def week(self) -> Week:
        return weeks_at(self.seeded).current

    def comment_time(self, code: str, member: int) -> datetime | None:
        """When `member` comments on this week's post `code` (None: never)."""
        if not compliant(member):
            return None
        share = zlib.crc32(f"{code}:{member}".encode()) / 2**32 * OWED_SHARE
        where = zlib.crc32(f"{member}:{code}".encode()) / 2**32
        if share < BEFORE:
            return self.handed + (self.last_read - self.handed) * where
        if share < BEFORE + SINCE:
            return self.last_read + (self.seeded - self.last_read) * where
        later = self.seeded + timedelta(minutes=1)
        return later + (self.cutoff - later - timedelta(minutes=1)) * where

    def to_json(self) -> str:
        return json.dumps({k: v.isoformat() for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> MidWeek:
        return cls(**{k: datetime.fromisoformat(v) for k, v in json.loads(text).items()})


def comment_pk(at: datetime, member: int) -> int:
    """A comment pk that grows with time (as Instagram's), unique on a post."""
    return 18_000_000_000_000_000 + int(at.timestamp() * 1000) * 10_000 + member


class MidWeekInstagram(WeekInstagram):
    """The seeded week's Instagram with this week's comments arriving over the week:
    a post shows the comments made by `as_of` (None: the wall clock), each with its
    time and its pk; last week's posts and the ones handed in during the run are
    WeekInstagram's."""

    def __init__(self, members: int, helpers: int, plan: MidWeek,
                 latency: tuple[float, float] = (0.0, 0.0),
                 as_of: datetime | None = None) -> None:
        super().__init__(members, helpers, latency)
        self.members, self.plan, self.as_of = members, plan, as_of

    def pk(self, username: str) -> str:
        """A member's pk from their number, the same in every process (the simulated
        Instagram's own are given on first sight: the seed's read and the bot's would
        disagree, and the bot would take every member for renamed)."""
        found = MEMBER.match(name_key(username))
        if found is None:
            return super().pk(username)
        return str(17_800_000_000 + int(found.group(1)))

    def _post(self, shortcode: str) -> SimPost:
        found = OWNER.match(shortcode)
        if found is None or not shortcode.startswith("C") or shortcode in self.posts:
            return super()._post(shortcode)
        owner = int(found.group(2))  # OWNER: (kind letter, owner number, post number)
        now = self.as_of or datetime.now(UTC)
        post = BuiltPost(username(owner), shortcode, self.plan.handed, "", [])
        made = []
        for member in range(1, self.members + 1):
            at = self.plan.comment_time(shortcode, member) if member != owner else None
            if at is not None and at <= now:
                made.append((comment_pk(at, member), username(member), at))
        for pk, name, at in sorted(made):
            post.comments.append((name, TEXT, at))
            post.comment_pks[(name, TEXT, at, 1)] = pk
        return post

    def _listed(self, post: SimPost) -> list[tuple[int, int, tuple[str, ...]]]:
        """A post built above is listed once (it is built afresh for each read): the
        simulated Instagram would sort its thousand comments again for every page."""
        if not isinstance(post, BuiltPost):
            return super()._listed(post)
        if post.listed is None:
            post.listed = super()._listed(post)
        return post.listed


@dataclass
class BuiltPost(SimPost):
    """This week's post as of one read."""

    listed: list[tuple[int, int, tuple[str, ...]]] | None = None


# --- the seeded week -----------------------------------------------------------------


async def read_earlier(url: str, members: int, helpers: int, plan: MidWeek
                       ) -> dict[str, Any]:
    """This week as the earlier refresh left it: its seeded verdicts and reads replaced
    by the product's own check of every post as of `plan.last_read` (no pacing: this is
    the seed, not the measurement)."""
    engine = create_engine(url)
    try:
        week = plan.week
        posts = select(Submission.id).where(Submission.week_start == week.start)
        async with engine.begin() as conn:
            await conn.execute(delete(Verification).where(
                Verification.submission_id.in_(posts)))
            await conn.execute(delete(PostRead).where(PostRead.submission_id.in_(posts)))
        sim = MidWeekInstagram(members, helpers, plan, as_of=plan.last_read)
        services = Services(session_factory(engine), CommunityRules(),
                            clock=lambda: plan.last_read, serialize=is_sqlite(url),
                            instagram=Instagram(sim, hourly_budget=10**9))
        async with services.transaction() as tx:
            await tx.helpers.load_pool()
        for attempt in range(3):  # a failed run is taken up again where it stopped
            try:
                report = await services.checks.week(week, only_open=True)
                break
            except PoolTimeout:
                if attempt == 2:
                    raise
        assert not report.paused and report.fetched == report.posts, report.as_summary()
        async with engine.connect() as conn:
            posts = await conn.scalar(select(func.count()).select_from(PostRead).where(
                PostRead.finished.is_(True)))
        return {"posts": posts, "requests": sim.requests()}
    finally:
        await engine.dispose()


async def mid_week(databases: Databases, members: int, helpers: int
                   ) -> tuple[str, MidWeek, dict[str, Any]]:
    """A database holding the week mid-way (see the module's docstring)."""
    name = f"autogram_scale_{members}_{uuid.uuid4().hex[:6]}"
    if databases.server:
        await databases._admin(f'CREATE DATABASE "{name}"')
        databases.made.append(name)
    url = databases.url(name)
    await asyncio.to_thread(upgrade, url)
    plan = MidWeek.at(datetime.now(UTC))
    await seed(url, members, min(helpers, SEED_HELPERS), now=plan.seeded)
    earlier = await read_earlier(url, members, min(helpers, SEED_HELPERS), plan)
    if helpers > SEED_HELPERS:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(insert(Helper), [
                {"instagram_username": name, "session": helper_session(name),
                 "status": "ready", "created_at": plan.seeded}
                for name in helper_names(helpers)[SEED_HELPERS:]])
        await engine.dispose()
    await finish_last_week(url, plan.seeded)
    await databases._analyze(name)
    return name, plan, earlier


async def refresh_report(url: str, plan: MidWeek) -> dict[str, Any]:
    """The refresh's own summary (its job run, when it finished), and this week's posts:
    how many, how many it read (a read advanced after the seed)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            summary = await conn.scalar(select(JobRun.summary).where(JobRun.job == "refresh"))
            posts = await conn.scalar(select(func.count()).select_from(Submission).where(
                Submission.week_start == plan.week.start, Submission.shortcode.like("C%")))
            read = await conn.scalar(select(func.count()).select_from(PostRead).where(
                PostRead.read_at > plan.seeded))
        return {"summary": summary or {}, "posts": posts, "posts_read": read}
    finally:
        await engine.dispose()


# --- the bot process -----------------------------------------------------------------


async def serve(members: int, helpers: int, plan: MidWeek) -> None:
    """`bot.app.run` with the mid-week Instagram (production budget and burst), driven
    by lines on stdin: `pool` loads the helper pool, `refresh` starts that job, `state`
    prints one JSON line, `stop` ends."""
    from bot.config import load_settings
    from jobs.weekly_loop import WeeklyJobs

    settings = load_settings()
    sim = MidWeekInstagram(members, helpers, plan, LATENCY)
    bot = start_bot(settings, Instagram(sim, hourly_budget=settings.helper_hourly_budget,
                                        burst=settings.helper_burst))
    check: asyncio.Task[None] | None = None
    started = time.monotonic()
    loop = asyncio.get_running_loop()

    def state() -> dict[str, Any]:
        status = "none" if check is None else "running" if not check.done() else \
            "failed" if check.exception() is not None else "done"
        failure = repr(check.exception())[:500] if status == "failed" and check else ""
        fields = process_status()
        return {"check": status, "failure": failure, "requests": sim.requests(),
                "check_s": time.monotonic() - started,
                "peak_kb": int(fields["VmHWM"].split()[0]),
                "rss_kb": int(fields["VmRSS"].split()[0])}

    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "refresh":
            services = bot.services
            started = time.monotonic()
            check = asyncio.create_task(WeeklyJobs(services, services.delivery).refresh())
            print("started", flush=True)
        elif line == "pool":
            await bot.load_pool()
            print(json.dumps(state()), flush=True)
        elif line == "state":
            print(json.dumps(state()), flush=True)
        elif line in ("stop", ""):
            figures = state()
            if check is not None and not check.done():
                check.cancel()
            await bot.stop()
            print(json.dumps(figures), flush=True)
            return


@asynccontextmanager
async def bot_process(url: str, key: str, members: int, helpers: int, plan: MidWeek,
                      telegram: Any) -> AsyncIterator[Bot]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_PORT": str(port), "ENCRYPTION_KEYS": key,
           "KAKAO_BOT_ID": BOT_ID, "KAKAO_SKILL_SECRET": SECRET,
           "KAKAO_CALLBACK_HOSTS": "127.0.0.1", "TELEGRAM_TOKEN": telegram.token,
           "TELEGRAM_API_URL": telegram.url, "TELEGRAM_POLL_TIMEOUT": "1",
           "TELEGRAM_MAX_RATE": "30", "WEEKLY_MAX_POSTS": "60", "LOG_LEVEL": "ERROR"}
    errors = tempfile.TemporaryFile()  # the bot's log, shown if it does not start
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--members", str(members), "--helpers",
        str(helpers), "--plan", plan.to_json(), cwd=ROOT, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, limit=2**20)
    bot = Bot(process, f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):
                try:
                    async with http.get(f"{bot.base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.returncode is not None:
                    errors.seek(0)
                    raise SystemExit("the bot process ended at start:\n"
                                     + errors.read().decode(errors="replace")[-3000:])
                await asyncio.sleep(0.1)
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        errors.close()


# --- one size ------------------------------------------------------------------------


async def status_calls(base: str, members: int, calls: int) -> list[float]:
    """/status over Kakao, one member after another; the first five warm the process."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        for n in range(calls + 5):
            member = 1 + (n * 7) % members
            began = time.monotonic()
            async with http.post(
                    f"{base}/kakao/skill",
                    data=json.dumps(kakao_request(kakao_user(member), "/status", "")),
                    headers={"X-Skill-Secret": SECRET,
                             "Content-Type": "application/json"}) as response:
                await response.read()
                assert response.status == 200, response.status
            if n >= 5:
                latencies.append(time.monotonic() - began)
    return latencies


async def week_page(base: str) -> float:
    """The week page's first fetch (a computation; later ones are cached), seconds."""
    async with aiohttp.ClientSession() as http:
        began = time.monotonic()
        async with http.get(f"{base}/week") as response:
            await response.read()
            assert response.status == 200, response.status
        return time.monotonic() - began


async def scale_one(members: int, helpers: int, server: str, calls: int,
                    check_seconds: float) -> dict[str, Any]:
    from testkit.telegram_emulator import BotApiEmulator

    databases = Databases(server)
    key = Fernet.generate_key().decode()
    crypto.configure_keys([key])
    try:
        began = time.monotonic()
        name, plan, earlier = await mid_week(databases, members, helpers)
        seeded_s = time.monotonic() - began
        async with BotApiEmulator() as emulator, bot_process(
                databases.url(name), key, members, helpers, plan, emulator) as bot:
            idle = await bot.ask("pool")
            latencies = await status_calls(bot.base, members, calls)
            week_s = await week_page(bot.base)
            await telegram_phase(emulator, members, 10, 2, itertools.count(1))
            chat = await bot.ask("state")
            await bot.ask("refresh")
            deadline = time.monotonic() + check_seconds
            state = await bot.ask("state")
            while state["check"] == "running" and time.monotonic() < deadline:
                await asyncio.sleep(1)
                state = await bot.ask("state")
            after = await bot.stop()
        refreshed = await refresh_report(databases.url(name), plan)
    finally:
        await databases.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {"members": members, "database": "PostgreSQL" if server else "SQLite",
            "helpers": helpers, "seeded_s": seeded_s, "earlier_read": earlier,
            "status_p50_ms": cuts[49] * 1000, "status_p99_ms": cuts[98] * 1000,
            "calls": calls, "week_ms": week_s * 1000,
            "idle_mb": idle["peak_kb"] / 1024, "chat_peak_mb": chat["peak_kb"] / 1024,
            "peak_mb": after["peak_kb"] / 1024, "check": after["check"],
            "check_s": after["check_s"], "check_requests": after["requests"] - chat["requests"],
            "failure": after["failure"],
            "refresh": refreshed["summary"], "posts": refreshed["posts"],
            "posts_read": refreshed["posts_read"]}


async def scale(sizes: list[int], helpers: list[int], server: str, calls: int,
                check_seconds: float) -> dict[str, Any]:
    rows = []
    for members, count in zip(sizes, helpers, strict=True):
        row = await scale_one(members, count, server, calls, check_seconds)
        rows.append(row)
        refresh = row["refresh"]
        print(f"{members:>5} members, {count} helpers ({row['database']}, seeded in "
              f"{row['seeded_s']:.0f} s; earlier read {row['earlier_read']['requests']:,} "
              f"requests): /status p50 {row['status_p50_ms']:.0f} ms, p99 "
              f"{row['status_p99_ms']:.0f} ms; /week {row['week_ms']:.0f} ms; MB idle "
              f"{row['idle_mb']:.0f} / chat {row['chat_peak_mb']:.0f} / refresh "
              f"{row['peak_mb']:.0f}; refresh {row['check']} after {row['check_s']:.0f} s, "
              f"{row['check_requests']:,} requests, {row['posts_read']} of {row['posts']} posts "
              f"read; report {refresh} {row['failure']}", flush=True)
    return {"rows": rows, "calls": calls, "check_seconds": check_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[20, 30, 50, 100])
    parser.add_argument("--helpers", type=int, nargs="*", default=None,
                        help="helpers per size (default: what benchmarks/week.py found)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (throw-away "
                        "databases are made on it); default: SQLite files")
    parser.add_argument("--calls", type=int, default=300, help="/status calls")
    parser.add_argument("--check-seconds", type=float, default=300.0,
                        help="how long the refresh may run before the process stops")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plan", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.members[0], args.helpers[0], MidWeek.from_json(args.plan)))
        return
    helpers = args.helpers or [HELPERS.get(m, max(2, m // 10)) for m in args.members]
    result = asyncio.run(scale(args.members, helpers, args.database_url, args.calls,
                               args.check_seconds))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
