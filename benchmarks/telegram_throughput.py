"""Telegram throughput: the product against a plain PTB bot doing the same database work.

Each run has three processes: the load (benchmarks/telegram_load.py: the Bot API
emulator and the simulated users, each sending the next message after the reply to the
last), one bot (benchmarks/telegram_bots.py: the product, or the peer written there),
and this one, which prepares a fresh database for the run (members, their Telegram
accounts, this week's posts and every member's verdicts on them) and collects the
figures. The bots alternate, at least five runs each, on the same database kind, for
every path and number of users:

- paths: `/help` (a read), a link submission (a write), `/status` (the week's to-do list);
- users: 1, 50, 500 and 1,000.

Printed per bot: updates per second and p99 update-to-reply latency as median
(min-max) over the runs, CPU seconds and peak memory (VmHWM) of the bot's process;
then the ratios product / peer against the goals: throughput at least 0.8x the peer's,
p99 at most 1.5x.

    .venv/bin/python benchmarks/telegram_throughput.py [--users 1 50 500 1000]
        [--paths help link status] [--runs 5] [--messages 300] [--database-url URL]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from benchmarks.databases import ThrowAwayDatabases
from benchmarks.seed_week import add_verdicts
from services.week.calendar import Week
from storage.db import create_engine, is_sqlite
from storage.migrations import upgrade
from storage.models import ChatAccount, Member, Submission

ROOT = Path(__file__).resolve().parent.parent
FIRST_USER = 10_000  # as benchmarks/telegram_load.py numbers its users
GOALS = {"throughput": 0.8, "p99": 1.5}


async def seed(url: str, users: int) -> None:
    """Members with linked Telegram accounts, two posts each this week, and every
    member's verdict on every other member's post (the week as after a check: 95% of
    the members "done", the rest "missing"), so /status reads what it reads in a real
    week."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo("Asia/Seoul")).date()
    week = local - timedelta(days=local.weekday())
    async with engine.begin() as conn:
        await conn.execute(insert(Member), [
            {"id": n + 1, "instagram_username": f"member_{n:04d}", "status": "active",
             "joined_at": now - timedelta(days=60), "created_at": now} for n in range(users)])
        await conn.execute(insert(ChatAccount), [
            {"platform": "telegram", "platform_user_id": str(FIRST_USER + n),
             "display_name": f"User {n}", "language": "ko", "member_id": n + 1,
             "reachable": True, "created_at": now} for n in range(users)])
        await conn.execute(insert(Submission), [
            {"member_id": n + 1, "week_start": week, "shortcode": f"S{n:04d}x{k}",
             "url": f"https://www.instagram.com/p/S{n:04d}x{k}/", "source": "chat",
             "submitted_at": now, "created_at": now, "status": "active"}
            for n in range(users) for k in range(2)])
        await add_verdicts(conn, Week(week, ZoneInfo("Asia/Seoul")), now)
    await engine.dispose()


class Databases(ThrowAwayDatabases):
    """A seeded database per number of users, copied fresh for every run."""

    def __init__(self, server: str) -> None:
        super().__init__(server, "autogram-tg-bench-")

    async def template(self, users: int) -> str:
        name = f"autogram_tpl_{users}_{uuid.uuid4().hex[:6]}"
        if self.server:
            await self._admin(f'CREATE DATABASE "{name}"')
            self.made.append(name)
        url = self.url(name)
        await asyncio.to_thread(upgrade, url)
        await seed(url, users)
        return name

    async def fresh(self, template: str) -> str:
        name = f"autogram_run_{uuid.uuid4().hex[:8]}"
        if self.server:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            self.made.append(name)
        else:
            shutil.copy(self.folder / f"{template}.sqlite3", self.folder / f"{name}.sqlite3")
        return self.url(name)


async def one_run(bot: str, url: str, users: int, per_user: int, path: str) -> dict[str, Any]:
    python = sys.executable
    load = await asyncio.create_subprocess_exec(
        python, str(ROOT / "benchmarks/telegram_load.py"), "--users", str(users),
        "--per-user", str(per_user), "--path", path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert load.stdin is not None and load.stdout is not None
    api = (await load.stdout.readline()).decode().split()[1]
    runner = await asyncio.create_subprocess_exec(
        python, str(ROOT / "benchmarks/telegram_bots.py"), "--bot", bot, "--api", api,
        "--database-url", url, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert runner.stdin is not None and runner.stdout is not None
    ready = await runner.stdout.readline()
    assert ready.strip() == b"ready", ready
    load.stdin.write(b"go\n")
    await load.stdin.drain()
    measured = json.loads(await load.stdout.readline())
    runner.stdin.write(b"stop\n")
    await runner.stdin.drain()
    process = json.loads(await runner.stdout.readline())
    await runner.wait()
    load.stdin.write(b"bye\n")
    await load.stdin.drain()
    await load.wait()
    latencies = sorted(measured["latencies"])
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"rate": measured["rate"], "p50": cuts[49] * 1000, "p99": cuts[98] * 1000,
            "cpu": process["cpu"], "peak_mb": process["peak_kb"] / 1024}


def spread(values: list[float], digits: int = 1) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 50, 500, 1000])
    parser.add_argument("--paths", nargs="+", default=["help", "link", "status"],
                        choices=("help", "link", "status"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300, help="messages per run, about")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (throw-away "
                        "databases are made on it); default: SQLite files")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    databases = Databases(args.database_url)
    kind = "SQLite" if not args.database_url or is_sqlite(args.database_url) else "PostgreSQL"
    print(f"database: {kind}; {args.runs} alternating runs per bot; medians (min-max)")
    print(f"{'users':>5} {'path':>6} {'bot':>8} {'updates/s':>20} {'p99 ms':>22} "
          f"{'CPU s':>6} {'peak MB':>8}")
    results: list[dict[str, Any]] = []
    try:
        for users in args.users:
            template = await databases.template(users)
            per_user = max(2, args.messages // users)
            for path in args.paths:
                runs: dict[str, list[dict[str, Any]]] = {"peer": [], "product": []}
                for n in range(args.runs):
                    for bot in (("peer", "product") if n % 2 == 0 else ("product", "peer")):
                        url = await databases.fresh(template)
                        runs[bot].append(await one_run(bot, url, users, per_user, path))
                row = summarize(users, path, runs)
                results.append(row)
                for bot in ("peer", "product"):
                    figures = runs[bot]
                    print(f"{users:>5} {path:>6} {bot:>8} "
                          f"{spread([f['rate'] for f in figures]):>20} "
                          f"{spread([f['p99'] for f in figures]):>22} "
                          f"{statistics.median(f['cpu'] for f in figures):>6.2f} "
                          f"{statistics.median(f['peak_mb'] for f in figures):>8.0f}")
                print(f"{users:>5} {path:>6} {'ratio':>8} {row['throughput_ratio']:>20.2f} "
                      f"{row['p99_ratio']:>22.2f}   goals: >= {GOALS['throughput']}, <= "
                      f"{GOALS['p99']}: {'met' if row['met'] else 'MISSED'}")
    finally:
        await databases.close()
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(
            {"database": kind, "runs": args.runs, "goals": GOALS, "rows": results}, indent=1))


def summarize(users: int, path: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(bot: str, key: str) -> float:
        return statistics.median(f[key] for f in runs[bot])

    throughput = median("product", "rate") / median("peer", "rate")
    p99 = median("product", "p99") / median("peer", "p99")
    return {"users": users, "path": path, "runs": runs, "throughput_ratio": throughput,
            "p99_ratio": p99,
            "met": throughput >= GOALS["throughput"] and p99 <= GOALS["p99"]}


if __name__ == "__main__":
    asyncio.run(main())
