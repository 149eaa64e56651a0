"""The week board's speed: `/week` of a 300-member community from a warm process, and
the week's picture.

A 300-member week (750 posts, about 224,000 owed comments, every one with a verdict:
the board after the final check) on the chosen database, served by the product's web
app on a local port and fetched over HTTP. Each round asks, alternating:

- `/week` on the live week (a grouped count of the verdicts), and `/week/<label>` of
  the same week once recorded (its record's entries, as a finished week is shown);
- `/healthz` (the same web app answering one `SELECT 1`): the baseline, so the ratio
  says what the board costs over the web app's own round trip on this machine;
- `/week/<label>.png`: the picture (Pillow, off the event loop).

Printed: median and spread (min-max) in milliseconds over the rounds, after warm-up,
and each against its goal: the board under 200 ms, the picture under 2 s.

    .venv/bin/python benchmarks/web_board.py [--members 300] [--rounds 30]
        [--database-url postgresql://postgres@localhost/postgres] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web import build_web_app, database_check
from bot.web_pages import WebPages
from services.container import Services
from services.rules import CommunityRules
from services.web.links import WebLinks
from services.week.calendar import Week
from services.week.record import WeekRecords
from storage import crypto
from storage.db import async_url, create_engine, session_factory
from storage.migrations import upgrade
from storage.models import Member, Submission, Verification

GOALS = {"board_ms": 200.0, "picture_ms": 2000.0}
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # a Wednesday in Seoul


async def seed(services: Services, members: int, week: Week) -> int:
    """Members, two or three posts each, and a verdict on every owed pair."""
    chance = random.Random(7)
    joined, at = NOW - timedelta(days=60), week.at("MON 09:00")
    async with services.transaction() as tx:
        await tx.session.execute(insert(Member), [
            {"id": n + 1, "instagram_username": f"member_{n:03d}", "status": "active",
             "display_name": f"회원 {n}", "joined_at": joined, "created_at": joined}
            for n in range(members)])
        posts = [(n + 1, k) for n in range(members) for k in range(2 + n % 2)]
        await tx.session.execute(insert(Submission), [
            {"id": i + 1, "member_id": m, "week_start": week.start,
             "shortcode": f"B{m:04d}x{k}", "url": f"https://www.instagram.com/p/B{m:04d}x{k}/",
             "source": "chat", "submitted_at": at + timedelta(minutes=i), "created_at": at,
             "status": "active"} for i, (m, k) in enumerate(posts)])
    verdicts = [{"member_id": m, "submission_id": i + 1, "checked_at": NOW,
                 "status": chance.choices(("done", "missing", "unknown"), (7, 2, 1))[0]}
                for i, (owner, _) in enumerate(posts) for m in range(1, members + 1)
                if m != owner]
    for start in range(0, len(verdicts), 20_000):
        async with services.transaction() as tx:
            await tx.session.execute(insert(Verification), verdicts[start:start + 20_000])
    return len(verdicts)


async def _server(url: str, statement: str) -> None:
    """A statement outside any transaction (creating or dropping the run's database)."""
    admin = create_engine(url)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await admin.dispose()


async def timed_get(client: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    async with client.get(url) as response:
        body = await response.read()
        assert response.status == 200, (url, response.status)
    return (time.perf_counter() - started) * 1000, len(body)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


async def fresh_services(database_url: str, kind: str
                         ) -> tuple[str, AsyncEngine, Services]:
    """A new migrated database (a throw-away PostgreSQL database on `database_url`, or
    a SQLite file) and the services on it; returns the database's name (to drop)."""
    name = f"autogram_{kind}_{uuid.uuid4().hex[:8]}"
    if database_url:
        await _server(database_url, f'CREATE DATABASE "{name}"')
        url = make_url(async_url(database_url)).set(database=name).render_as_string(
            hide_password=False)
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"autogram-{kind}-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'board.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    crypto.configure_keys([Fernet.generate_key().decode()])
    engine = create_engine(url)
    return name, engine, Services(session_factory(engine), CommunityRules(), lambda: NOW,
                                  serialize=url.startswith("sqlite"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    name, engine, services = await fresh_services(args.database_url, "web")
    week = Week.containing(NOW, services.rules.timezone)
    last = week.previous()
    owed = await seed(services, args.members, week)
    # The same community a week earlier, recorded as a finished week is.
    async with services.transaction() as tx:
        rows = (await tx.session.execute(select(Submission.id))).scalars().all()
    await _copy_week(services, week, last, len(rows))
    async with services.transaction() as tx:
        await WeekRecords(tx.session, services.rules).record(last, NOW)
    app = build_web_app([database_check(services)])
    # The board's cache off: each fetch computes the board, the cost measured here (a
    # crowd of readers is benchmarks/web_board_load.py).
    WebPages(services, WebLinks("http://127.0.0.1"), cache_seconds=0).add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    paths = {"board_live": "/week", "board_recorded": f"/week/{last.label}",
             "baseline": "/healthz", "picture": f"/week/{week.label}.png"}
    times: dict[str, list[float]] = {key: [] for key in paths}
    sizes: dict[str, int] = {}
    try:
        async with aiohttp.ClientSession() as client:
            for path in paths.values():  # warm up: templates, fonts, statements
                await timed_get(client, base + path)
            for _ in range(args.rounds):
                for key, path in paths.items():
                    elapsed, sizes[key] = await timed_get(client, base + path)
                    times[key].append(elapsed)
    finally:
        await runner.cleanup()
        await engine.dispose()
        if args.database_url:
            await _server(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    database = "postgresql" if args.database_url else "sqlite"
    baseline = statistics.median(times["baseline"])
    result: dict[str, Any] = {"database": database, "members": args.members, "owed": owed,
                              "rounds": args.rounds, "goals": GOALS, "rows": []}
    print(f"{args.members} members, {owed:,} owed comments with verdicts ({database}); "
          f"{args.rounds} rounds, ms median (min-max)")
    for key, values in times.items():
        goal = GOALS["picture_ms" if key == "picture" else "board_ms"] \
            if key != "baseline" else None
        median = statistics.median(values)
        met = None if goal is None else median < goal
        result["rows"].append({"what": key, "path": paths[key], "ms": values,
                               "bytes": sizes[key], "ratio": median / baseline,
                               "goal_ms": goal, "met": met})
        verdict = "" if goal is None else f"goal < {goal:.0f} ms: " + (
            "met" if met else "MISSED")
        print(f"{key:15} {spread(values)}  {sizes[key] / 1024:7.1f} KB  "
              f"{median / baseline:6.1f}x baseline  {verdict}")
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(result))


async def _copy_week(services: Services, week: Week, last: Week, posts: int) -> None:
    """Last week as a copy of this one (posts and verdicts), to be recorded."""
    rows = []
    async with services.sessions() as session:
        for row in (await session.execute(select(Submission).where(
                Submission.week_start == week.start))).scalars():
            rows.append({"id": row.id + posts, "member_id": row.member_id,
                         "week_start": last.start, "url": row.url, "shortcode": row.shortcode,
                         "source": "chat", "submitted_at": row.submitted_at - timedelta(days=7),
                         "created_at": row.created_at, "status": row.status})
        verdicts = [{"member_id": m, "submission_id": s + posts, "status": v, "checked_at": at}
                    for m, s, v, at in (await session.execute(select(
                        Verification.member_id, Verification.submission_id,
                        Verification.status, Verification.checked_at))).all()]
    async with services.transaction() as tx:
        await tx.session.execute(insert(Submission), rows)
    for start in range(0, len(verdicts), 20_000):
        async with services.transaction() as tx:
            await tx.session.execute(insert(Verification), verdicts[start:start + 20_000])


if __name__ == "__main__":
    asyncio.run(main())
