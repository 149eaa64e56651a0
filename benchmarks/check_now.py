"""A member's "check now" and the daily refresh in a settled 1,000-member week.

The world is the stress week late on: 1,000 members, two or three posts each (2,500
posts, about 2.5 million verdict rows), nearly every verdict already "done". What is
still open: on the week's 40 newest posts about a tenth of the members are "missing" or
"unknown" (about four debts a member), and the last 3 posts, handed in on Sunday, were
never read (no verdict rows). A member's "check now" (`Checks.member`, as /status calls
it) reads that member's handful of open posts; the refresh (`Checks.week` with
`only_open`, as the daily job calls it) reads the 43 posts someone still owes.

Instagram is the product's simulated one, in the process, with no latency: what is
measured is the product's own cost (the database reads, the verdicts, the writes). Each
scenario runs in a fresh process against the one seeded PostgreSQL database: the
services are built, the helper pool loaded and the process's peak reset (Linux
`clear_refs`) before the clock starts; the figures are real seconds and the peak RSS
above that idle process. Every scenario also checks that it read exactly the posts
the world says are open (a member's own, or all with an open debt).

- one: one member's check now;
- four: four members' check now at once;
- refresh: the refresh of the open debts.

Goals: one check now under 2 s and under 100 MB above the idle process; four at once
under 500 MB; the refresh under 100 MB.

    .venv/bin/python benchmarks/check_now.py [--database-url postgresql://...] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimConfig, SimulatedInstagram
from services.rules import CommunityRules
from services.sample_community import member_names
from services.week.calendar import Week
from storage import crypto
from storage.db import create_engine, session_factory
from storage.migrations import upgrade
from storage.models import Helper, Member, Submission

ROOT = Path(__file__).resolve().parent.parent
WEEK_OF = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # Sunday afternoon in Seoul
MEMBERS = 1000
RECENT = 40  # newest read posts with open debts
UNREAD = 3  # the very newest posts, never read
HELPERS = 4
GOALS = {"one_s": 2.0, "one_mb": 100.0, "four_mb": 500.0, "refresh_mb": 100.0}
SCENARIOS = {"one": 1, "four": 4, "refresh": 0}


def is_open(member_id: int, post_id: int) -> bool:
    """A debt on a recent post (the same rule in Python and in the seeding SQL)."""
    return (member_id * 7 + post_id * 13) % 10 == 0


OPEN_SQL = "(m.id * 7 + s.id * 13) % 10 = 0"


async def seed(url: str) -> dict[str, Any]:
    """The week in the database; returns what the scenarios need to rebuild Instagram."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    week = Week.containing(WEEK_OF, CommunityRules().timezone)
    names = member_names(MEMBERS)
    joined = week.at("MON 00:00") - timedelta(days=7)
    sim = SimulatedInstagram()
    async with sessions() as session, session.begin():
        members = [Member(instagram_username=n, display_name=n, joined_at=joined) for n in names]
        session.add_all(members)
        await session.flush()
        posts = []
        for index, member in enumerate(members):
            posts += [(member, n) for n in range(2 + index % 2)]
        posts.sort(key=lambda p: (p[1], p[0].id))
        start = week.at("MON 09:00")
        step = (week.at("SUN 12:00") - start) / len(posts)
        rows = [Submission(member_id=m.id, week_start=week.start,
                           url=f"https://www.instagram.com/p/B{k:05d}x/", shortcode=f"B{k:05d}x",
                           submitted_at=start + step * k, status="active")
                for k, (m, _) in enumerate(posts)]
        session.add_all(rows)
        await session.flush()
        helpers = [f"helper.{n + 1}" for n in range(HELPERS)]
        for name in helpers:
            sim.add_account(name)
            session.add(Helper(instagram_username=name, session=sim.session_for(name),
                               status="ready"))
        unread = [r.id for r in rows[-UNREAD:]]
        recent = [r.id for r in rows[-UNREAD - RECENT:-UNREAD]]
        await session.execute(text(
            "INSERT INTO user_action_verification (member_id, submission_id, status, "
            "checked_at) SELECT m.id, s.id, CASE WHEN s.id = ANY(:recent) AND "
            f"{OPEN_SQL} THEN CASE WHEN m.id % 2 = 0 THEN 'missing' ELSE 'unknown' END "
            "ELSE 'done' END, :now FROM sns_raise_user m CROSS JOIN request_by_week s "
            "WHERE m.id <> s.member_id AND NOT s.id = ANY(:unread)"),
            {"recent": recent, "unread": unread, "now": NOW.replace(tzinfo=None)})
        by_id = {m.id: m.instagram_username for m in members}
        owner = {r.id: r.member_id for r in rows}
        code = {r.id: r.shortcode for r in rows}
        sessions_of = {h.instagram_username: h.session for h in
                       (await session.scalars(select(Helper))).all()}
    await engine.dispose()
    # The posts a read may reach: their commenters now (a third of the open debts paid).
    world: dict[str, Any] = {"posts": {}, "helpers": sessions_of, "open": {}}
    for post in recent + unread:
        commenters, owing = [], []
        for member_id, name in by_id.items():
            if member_id == owner[post]:
                continue
            owes = post in unread or is_open(member_id, post)
            if owes:
                owing.append(member_id)
            if not owes or member_id % 3 == 0:
                commenters.append(name)
        world["posts"][code[post]] = [by_id[owner[post]], commenters]
        for member_id in owing:
            world["open"].setdefault(str(member_id), []).append(code[post])
    return world


def reset_peak() -> None:
    """The process's peak RSS starts again from its current size (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def rss() -> tuple[float, float]:
    """(current, peak) resident MB of this process."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").open())
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


async def scenario(url: str, name: str, world: dict[str, Any]) -> dict[str, Any]:
    """One scenario in this (fresh) process."""
    crypto.configure_keys([world["key"]])
    sim = SimulatedInstagram(SimConfig(calls_per_hour=10**9))
    for helper, session in world["helpers"].items():
        sim.add_account(helper)
        sim.accept_session(session)
    for code, (owner, commenters) in world["posts"].items():
        if owner not in sim.accounts:
            sim.add_account(owner)
        sim.add_post(owner, code, commenters)
    engine = create_engine(url)
    instagram = Instagram(sim, hourly_budget=10**9)
    services = Services(session_factory(engine), CommunityRules(), lambda: NOW,
                        instagram=instagram)
    checks = services.checks
    checks.check_now_allowance = 10**9  # measured reading every open post, as the budget
    week = Week.containing(NOW, services.rules.timezone)
    try:
        async with services.transaction() as tx:  # warm: connections, statements
            await tx.session.execute(select(Member.id).limit(1))
            await tx.helpers.load_pool()
        members = sorted(world["open"], key=int)[:SCENARIOS[name]]
        gc.collect()
        reset_peak()
        idle, _ = rss()
        started = time.perf_counter()
        if name == "refresh":
            reports = [await checks.week(week, only_open=True)]
        else:
            reports = [c.report for c in await asyncio.gather(
                *(checks.member(int(m), NOW) for m in members))]
        seconds = time.perf_counter() - started
        _, peak = rss()
    finally:
        await engine.dispose()
    expected = ([len(world["open"][m]) for m in members] if members
                else [len(world["posts"])])
    return {"scenario": name, "seconds": seconds, "idle_mb": idle, "above_mb": peak - idle,
            "posts": [r.posts for r in reports], "expected": expected,
            "fetched": [r.fetched for r in reports],
            "verdicts": [r.verdicts for r in reports]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@localhost/postgres")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        world = json.loads(args.world.read_text())
        print(json.dumps(asyncio.run(scenario(args.url, args.one, world))))
        return
    import tempfile

    admin = make_url(args.database_url).set(drivername="postgresql")
    database = f"bench_checks_{uuid.uuid4().hex[:8]}"
    server = admin.render_as_string(hide_password=False)
    subprocess.run(["psql", server, "-qc", f"CREATE DATABASE {database}"], check=True)
    url = admin.set(database=database).render_as_string(hide_password=False)
    rows = []
    try:
        upgrade(url)
        key = Fernet.generate_key().decode()
        crypto.configure_keys([key])
        started = time.perf_counter()
        world = asyncio.run(seed(url))
        world["key"] = key
        subprocess.run(["psql", admin.set(database=database).render_as_string(
            hide_password=False), "-qc", "VACUUM ANALYZE"], check=True)
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            file.write(json.dumps(world))
            file.flush()
            print(f"{'scenario':>8} {'s':>6} {'idle MB':>8} {'above MB':>8} posts / expected")
            for name in SCENARIOS:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", name, "--url", url, "--world",
                     file.name], capture_output=True, text=True, check=False, cwd=ROOT)
                if done.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{name:>8} {row['seconds']:>6.2f} {row['idle_mb']:>8.0f} "
                      f"{row['above_mb']:>8.0f} {row['posts']} / {row['expected']}",
                      flush=True)
    finally:
        subprocess.run(["psql", server, "-qc", f"DROP DATABASE IF EXISTS {database}"],
                       check=False)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "goals": GOALS,
                                         "members": MEMBERS}))
    if any(row["posts"] != row["expected"] for row in rows):
        raise SystemExit("a check read other posts than the open ones")


if __name__ == "__main__":
    main()
