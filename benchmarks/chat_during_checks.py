"""Chat while the week is checked: Kakao and Telegram latency idle and during a check.

The bot is `autogram run`'s own `bot.app.run` in a process of its own (Telegram polling
the local Bot API emulator with the 30/s send cap on, the Kakao skill endpoint and the
web pages on one aiohttp app, the scheduler), on a fresh copy of a seeded week
(benchmarks/seed_week.py: every member's verdict rows present), with one difference
from production: Instagram is the simulated one (`WeekInstagram`), each request
taking 0.3-1 s, and read by helpers (the production hourly budget; one helper per ten
members, at least four, so the check outlasts the measurement). The checks are the
product's jobs: the final check of last week, left due in the database, which the
scheduler starts as the bot starts (its catch-up), or the daily refresh
(`WeeklyJobs.refresh`, as the scheduler calls it), started through the bot process's
standard input. The helper pool is loaded first, as in a process that has checked once
since it started (until then a link's author is never read at submission).

Each run measures, one after another: Kakao (open-loop requests at `--kakao-rate` a
second: 내 현황, /status, /help, a link), then Telegram at 5, 15 and 30 messages a
second (the same four, each user with one message out at a time). A link is a new post
of the member's, handed in on the production path (WEEKLY_MAX_POSTS raised so every
link is accepted): the author is read at once when a helper is free (`author reads`
says how many were). Runs alternate idle / final check / refresh (the order turned
each round) on a fresh database each; figures are the median over the runs of each
run's p99. Goal: p99 during a check at most 1.5x the idle p99 (and, for Kakao, no
answer past Kakao's 5 s and none through the callback).

    .venv/bin/python benchmarks/chat_during_checks.py --members 50 [--database-url URL]
        [--runs 2] [--seconds 8] [--json out.json]

`--scale` instead measures, per community size, one `autogram run` process's peak
memory (VmHWM) through a day of chat and a final check, and /status's cost (Kakao,
one member after another, with their verdicts present): see `scale`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.databases import ThrowAwayDatabases  # noqa: E402
from benchmarks.seed_week import (  # noqa: E402
    WeekInstagram,
    finish_last_week,
    kakao_user,
    seed,
    telegram_user,
)
from storage import crypto  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402

BOT_ID = "5ae9b76d7409b11ec845b746"
SECRET = "bench-secret"
GOAL = 1.5  # p99 during a check over the idle p99
KAKAO_LIMIT = 5.0  # seconds: Kakao gives up on a skill that answers later
TELEGRAM_RATES = (5, 15, 30)
LATENCY = (0.3, 1.0)
UTTERANCES = ("내 현황", "/status", "/help", "LINK")
MODES = ("idle", "final", "refresh")


def helpers_for(members: int) -> int:
    return max(4, members // 10)


def p99(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# --- the bot process ---------------------------------------------------------------


def process_status() -> dict[str, str]:
    """/proc/self/status (a read of a memory file: nothing to wait for)."""
    with open("/proc/self/status") as status:
        return dict(line.split(":", 1) for line in status)


async def serve(members: int, helpers: int, latency: tuple[float, float]) -> None:
    """`bot.app.run` with the week's simulated Instagram, driven by lines on stdin:
    `refresh` starts that job, `pool` loads the helper pool, `state` prints one JSON
    line, `stop` ends. The final check needs no command: on a database where last
    week's is due, the scheduler starts it as the bot starts (its catch-up)."""
    import bot.app as app_module
    from bot.config import load_settings
    from jobs.weekly_loop import WeeklyJobs
    from services.instagram.runtime import Instagram

    settings = load_settings()
    sim = WeekInstagram(members, helpers, latency)
    instagram = Instagram(sim, hourly_budget=settings.helper_hourly_budget)
    held: dict[str, Any] = {}
    production = app_module.open_services

    @asynccontextmanager
    async def with_week(settings: Any, _instagram: Any = None) -> AsyncIterator[Any]:
        async with production(settings, instagram) as services:
            held["services"] = services
            yield services

    app_module.open_services = with_week  # type: ignore[assignment]
    stop = asyncio.Event()
    app = asyncio.create_task(app_module.run(settings, stop))
    check: asyncio.Task[None] | None = None
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    jobs: WeeklyJobs | None = None

    async def state() -> dict[str, Any]:
        nonlocal jobs
        services = held["services"]
        jobs = jobs or WeeklyJobs(services, services.delivery)
        if check is not None:
            status = "running" if not check.done() else \
                "failed" if check.exception() is not None else "done"
        else:  # the final check, which the scheduler starts when it finds it due
            status = await jobs.runs.status("final", jobs.finished_week().label) or "none"
        fields = process_status()
        return {"check": status, "requests": sim.requests(), "author_reads": sim.author_reads,
                "check_s": (time.monotonic() - started) if started else 0.0,
                "peak_kb": int(fields["VmHWM"].split()[0]),
                "rss_kb": int(fields["VmRSS"].split()[0])}

    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "refresh":
            services = held["services"]
            jobs = jobs or WeeklyJobs(services, services.delivery)
            started = time.monotonic()
            check = asyncio.create_task(jobs.refresh())
            print("started", flush=True)
        elif line == "pool":  # as in a process that has checked once since it started
            async with held["services"].transaction() as tx:
                await tx.helpers.load_pool()
            print(json.dumps(await state()), flush=True)
        elif line == "state":
            print(json.dumps(await state()), flush=True)
        elif line in ("stop", ""):
            figures = await state()
            if check is not None and not check.done():
                check.cancel()
            stop.set()
            await asyncio.wait({app}, timeout=60)
            print(json.dumps(figures), flush=True)
            return


@dataclass
class Bot:
    """The bot process, seen from the driver."""

    process: asyncio.subprocess.Process
    base: str

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()
        answer = (await self.process.stdout.readline()).decode().strip()
        return json.loads(answer) if answer.startswith("{") else {"answer": answer}

    async def stop(self) -> dict[str, Any]:
        figures = await self.ask("stop")
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return figures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def bot_process(url: str, key: str, members: int, helpers: int, telegram: Any,
                      latency: tuple[float, float]) -> AsyncIterator[Bot]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_PORT": str(port), "ENCRYPTION_KEYS": key,
           "KAKAO_BOT_ID": BOT_ID, "KAKAO_SKILL_SECRET": SECRET,
           "KAKAO_CALLBACK_HOSTS": "127.0.0.1", "TELEGRAM_TOKEN": telegram.token,
           "TELEGRAM_API_URL": telegram.url, "TELEGRAM_POLL_TIMEOUT": "1",
           "TELEGRAM_MAX_RATE": "30", "WEEKLY_MAX_POSTS": "60", "LOG_LEVEL": "ERROR"}
    errors = tempfile.TemporaryFile()  # the bot's log, shown if it does not start
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--members", str(members), "--helpers",
        str(helpers), "--latency", str(latency[0]), str(latency[1]), cwd=ROOT, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
    bot = Bot(process, f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
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


# --- the chat ----------------------------------------------------------------------


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    links: list[float] = field(default_factory=list)  # the latencies of link submissions
    sent: int = 0
    callbacks: int = 0  # Kakao answers that fell back to the callback URL
    failed: list[str] = field(default_factory=list)
    skipped: int = 0  # Telegram arrivals with every user still waiting for an answer

    def summary(self) -> dict[str, Any]:
        return {"sent": self.sent, "answered": len(self.latencies),
                "p50": p50(self.latencies), "p99": p99(self.latencies),
                "p99_no_links": p99([x for x in self.latencies if x not in self.links]),
                "p99_links": p99(self.links),
                "max": max(self.latencies, default=0.0),
                "over_5s": sum(1 for x in self.latencies if x > KAKAO_LIMIT),
                "callbacks": self.callbacks, "failed": len(self.failed),
                "skipped": self.skipped}


def utterance(n: int, member: int, serial: itertools.count[int]) -> str:
    said = UTTERANCES[n % len(UTTERANCES)]
    if said == "LINK":
        return f"https://www.instagram.com/p/N{member:05d}x{next(serial)}/"
    return said


def kakao_request(user: str, said: str, callback: str) -> dict[str, Any]:
    return {"bot": {"id": BOT_ID, "name": "bench"},
            "intent": {"id": "i", "name": "폴백 블록"},
            "action": {"id": "a", "name": "skill", "params": {}, "detailParams": {},
                       "clientExtra": {}},
            "userRequest": {"block": {"id": "b", "name": "폴백 블록"},
                            "user": {"id": user, "type": "botUserKey", "properties": {}},
                            "utterance": said, "params": {}, "lang": "ko",
                            "timezone": "Asia/Seoul", "callbackUrl": callback}}


async def kakao_phase(base: str, callback: str, members: int, rate: float, seconds: float,
                      serial: itertools.count[int], first: int = 0) -> Figures:
    """Open loop: a request every 1/rate s, members in turn, whatever the answers do."""
    figures = Figures()
    count = int(rate * seconds)
    start = time.monotonic()

    async def one(n: int, http: aiohttp.ClientSession) -> None:
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        member = 1 + (first + n) % members
        said = utterance(first + n, member, serial)
        figures.sent += 1
        began = time.monotonic()
        try:
            async with http.post(f"{base}/kakao/skill",
                                 data=json.dumps(kakao_request(kakao_user(member), said,
                                                               callback)),
                                 headers={"X-Skill-Secret": SECRET,
                                          "Content-Type": "application/json"}) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            figures.failed.append(f"{said}: {type(exc).__name__}")
            return
        figures.latencies.append(time.monotonic() - began)
        if said.startswith("https://"):
            figures.links.append(figures.latencies[-1])
        if isinstance(body, dict) and body.get("useCallback"):
            figures.callbacks += 1
        elif not (isinstance(body, dict) and body.get("version") == "2.0"):
            figures.failed.append(f"{said}: {str(body)[:100]}")

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     connector=aiohttp.TCPConnector(limit=500)) as http:
        await asyncio.gather(*(one(n, http) for n in range(count)))
    return figures


async def telegram_phase(emulator: Any, members: int, rate: float, seconds: float,
                         serial: itertools.count[int], first: int = 0) -> Figures:
    """Open loop at `rate` messages a second; each goes to the next member with no
    message out (an answer is its last message: /status's has the buttons)."""
    figures = Figures()
    count = int(rate * seconds)
    start = time.monotonic()
    waiting: set[int] = set()
    turn = itertools.count(first)
    tasks = []

    async def one(n: int, member: int, said: str) -> None:
        user = telegram_user(member)
        began = time.monotonic()
        try:
            await emulator.send_text(user, said)
            (reply,) = await emulator.wait_for(user, timeout=60)
            while said in ("/status", "내 현황") and not reply.get("reply_markup"):
                (reply,) = await emulator.wait_for(user, timeout=60)
            figures.latencies.append(reply["received_at"] - began)
            if said.startswith("https://"):
                figures.links.append(figures.latencies[-1])
        except AssertionError:
            figures.failed.append(f"{said}: no answer in 60 s")
        finally:
            waiting.discard(member)

    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        figures.sent += 1
        for _ in range(members):
            position = next(turn)
            member = 1 + position % members
            if member not in waiting:
                break
        else:
            figures.skipped += 1
            continue
        waiting.add(member)
        tasks.append(asyncio.create_task(one(n, member, utterance(position, member, serial))))
    await asyncio.gather(*tasks)
    return figures


async def callback_receiver() -> tuple[str, Any]:
    """A local stand-in for Kakao's callback URL (answers 200, keeps nothing)."""
    from aiohttp import web

    async def take(_request: web.Request) -> web.Response:
        return web.json_response({"taskId": "bench", "status": "SUCCESS"})

    app = web.Application()
    app.router.add_post("/callback", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}/callback", runner


# --- databases ---------------------------------------------------------------------


class Databases(ThrowAwayDatabases):
    """The seeded week once, copied fresh for every run."""

    def __init__(self, server: str) -> None:
        super().__init__(server, "autogram-chat-bench-")

    async def templates(self, members: int, helpers: int) -> dict[str, str]:
        """The seeded week twice: "due" (last week's final check not run yet) and
        "checked" (last week recorded, its final job done)."""
        due = f"autogram_chat_{members}_{uuid.uuid4().hex[:6]}"
        if self.server:
            await self._admin(f'CREATE DATABASE "{due}"')
            self.made.append(due)
        await asyncio.to_thread(upgrade, self.url(due))
        await seed(self.url(due), members, helpers)
        await self._analyze(due)
        checked = await self.fresh(due)
        await finish_last_week(self.url(checked))
        await self._analyze(checked)
        return {"due": due, "checked": checked}

    async def _analyze(self, name: str) -> None:
        if self.server:
            engine = create_engine(self.url(name))
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
            await engine.dispose()

    async def fresh(self, template: str) -> str:
        name = f"autogram_chatrun_{uuid.uuid4().hex[:8]}"
        if self.server:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            self.made.append(name)
        else:
            await asyncio.to_thread(shutil.copy, self.folder / f"{template}.sqlite3",
                                    self.folder / f"{name}.sqlite3")
        return name

    async def drop(self, name: str) -> None:
        if self.server:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.made.remove(name)
        else:
            (self.folder / f"{name}.sqlite3").unlink(missing_ok=True)


# --- one run -----------------------------------------------------------------------


async def one_run(databases: Databases, templates: dict[str, str], key: str, members: int,
                  mode: str, seconds: float, kakao_rate: float) -> dict[str, Any]:
    from testkit.telegram_emulator import BotApiEmulator

    name = await databases.fresh(templates["due" if mode == "final" else "checked"])
    helpers = helpers_for(members)
    serial = itertools.count(1)
    callback, receiver = await callback_receiver()
    try:
        async with BotApiEmulator() as emulator, bot_process(
                databases.url(name), key, members, helpers, emulator, LATENCY) as bot:
            await bot.ask("pool")
            # Warm up: every path once on each transport, before anything is measured.
            await kakao_phase(bot.base, callback, members, 4, 1, serial, first=10**6)
            await telegram_phase(emulator, members, 4, 1, serial, first=10**6)
            if mode == "refresh":
                await bot.ask(mode)
            await asyncio.sleep(3)  # the check's reads under way (the final's since start)
            before = await bot.ask("state")
            row: dict[str, Any] = {"mode": mode}
            row["kakao"] = (await kakao_phase(bot.base, callback, members, kakao_rate,
                                              seconds, serial)).summary()
            for rate in TELEGRAM_RATES:
                row[f"telegram_{rate}"] = (await telegram_phase(
                    emulator, members, rate, seconds, serial)).summary()
            after = await bot.stop()
    finally:
        await receiver.cleanup()
        await databases.drop(name)
    row.update(check_before=before["check"], check=after["check"],
               check_requests=after["requests"] - before["requests"], check_s=after["check_s"],
               author_reads=after["author_reads"] - before["author_reads"],
               peak_mb=after["peak_kb"] / 1024)
    return row


def verdicts(members: int, database: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (transport, rate) x busy mode: median p99 over runs against idle."""
    rows = []
    for phase in ("kakao", *(f"telegram_{r}" for r in TELEGRAM_RATES)):
        idle = [r[phase]["p99"] for r in runs if r["mode"] == "idle"]
        idle_p99 = statistics.median(idle)
        rows.append({"members": members, "database": database, "phase": phase,
                     "mode": "idle", "p99": idle_p99, "p99s": idle, "ratio": 1.0,
                     "p50": statistics.median(r[phase]["p50"] for r in runs
                                              if r["mode"] == "idle"),
                     **_counts(phase, [r for r in runs if r["mode"] == "idle"])})
        for mode in MODES[1:]:
            mine = [r for r in runs if r["mode"] == mode]
            busy = [r[phase]["p99"] for r in mine]
            ratio = statistics.median(busy) / idle_p99 if idle_p99 else float("inf")
            counts = _counts(phase, mine)
            met = ratio <= GOAL and (phase != "kakao" or
                                     counts["over_5s"] + counts["callbacks"] == 0)
            rows.append({"members": members, "database": database, "phase": phase,
                         "mode": mode, "p99": statistics.median(busy), "p99s": busy,
                         "p50": statistics.median(r[phase]["p50"] for r in mine),
                         "ratio": ratio, "met": met,
                         "check_running": all(r["check"] == "running" for r in mine),
                         "check_requests": statistics.median(r["check_requests"]
                                                             for r in mine),
                         **counts})
    return rows


def _counts(phase: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    medians = {key: statistics.median(r[phase][key] for r in runs)
               for key in ("p99_no_links", "p99_links")}
    return medians | {key: sum(r[phase][key] for r in runs)
            for key in ("sent", "answered", "over_5s", "callbacks", "failed", "skipped")} | {
        "author_reads": sum(r["author_reads"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs)}


async def chat(members: int, server: str, runs: int, seconds: float,
               kakao_rate: float) -> dict[str, Any]:
    databases = Databases(server)
    key = Fernet.generate_key().decode()
    crypto.configure_keys([key])
    database = "PostgreSQL" if server else "SQLite"
    done: list[dict[str, Any]] = []
    try:
        began = time.monotonic()
        templates = await databases.templates(members, helpers_for(members))
        print(f"{members} members on {database}: seeded in {time.monotonic() - began:.0f} s; "
              f"{helpers_for(members)} helpers, Instagram {LATENCY[0]}-{LATENCY[1]} s a "
              f"request", flush=True)
        for n in range(runs):
            order = MODES[n % 3:] + MODES[:n % 3]
            for mode in order:
                row = await one_run(databases, templates, key, members, mode, seconds,
                                    kakao_rate)
                done.append(row)
                print(f"  {mode:>7}: kakao p99 {row['kakao']['p99']:.3f} s "
                      f"(callbacks {row['kakao']['callbacks']}, > 5 s "
                      f"{row['kakao']['over_5s']}) · telegram p99 " + " / ".join(
                          f"{row[f'telegram_{r}']['p99']:.3f}" for r in TELEGRAM_RATES)
                      + f" s at {'/'.join(map(str, TELEGRAM_RATES))} a s · check "
                      f"{row['check']} ({row['check_requests']} requests) · author reads "
                      f"{row['author_reads']} · peak {row['peak_mb']:.0f} MB", flush=True)
    finally:
        await databases.close()
    rows = verdicts(members, database, done)
    for row in rows:
        if row["mode"] != "idle":
            print(f"  {row['phase']:>11} {row['mode']:>7}: p99 {row['p99']:.3f} s, "
                  f"{row['ratio']:.2f}x idle (goal <= {GOAL}x): "
                  f"{'met' if row['met'] else 'MISSED'}")
    return {"members": members, "database": database, "runs": runs, "seconds": seconds,
            "kakao_rate": kakao_rate, "helpers": helpers_for(members), "latency": LATENCY,
            "goal": GOAL, "rows": rows, "raw": done}


# --- scaling: memory and /status cost ----------------------------------------------


async def scale_one(members: int, server: str, calls: int, check_seconds: float
                    ) -> dict[str, Any]:
    """One size: the seeded week (95% compliance, verdicts present), one bot process;
    /status `calls` times over Kakao, one member after another (its latency), the
    week page, a little Telegram, then the daily refresh (every post has an open debt:
    the 5% who comment on nothing) on an Instagram without latency, for up to
    `check_seconds`; the process's VmHWM at the end."""
    from testkit.telegram_emulator import BotApiEmulator

    databases = Databases(server)
    key = Fernet.generate_key().decode()
    crypto.configure_keys([key])
    helpers = helpers_for(members)
    try:
        templates = await databases.templates(members, helpers)
        async with BotApiEmulator() as emulator, bot_process(
                databases.url(templates["checked"]), key, members, helpers, emulator,
                (0.0, 0.0)) as bot:
            idle = await bot.ask("pool")
            latencies: list[float] = []
            async with aiohttp.ClientSession() as http:
                for n in range(calls + 5):
                    member = 1 + (n * 7) % members
                    began = time.monotonic()
                    async with http.post(
                            f"{bot.base}/kakao/skill",
                            data=json.dumps(kakao_request(kakao_user(member), "/status",
                                                          "")),
                            headers={"X-Skill-Secret": SECRET,
                                     "Content-Type": "application/json"}) as response:
                        await response.read()
                    if n >= 5:  # the first few warm the process
                        latencies.append(time.monotonic() - began)
                pages = []
                for path in ("/week", "/week", "/healthz"):
                    began = time.monotonic()
                    async with http.get(f"{bot.base}{path}") as response:
                        await response.read()
                        assert response.status == 200, (path, response.status)
                    pages.append(time.monotonic() - began)
            await telegram_phase(emulator, members, 10, 2, itertools.count(1))
            chat_state = await bot.ask("state")
            await bot.ask("refresh")
            deadline = time.monotonic() + check_seconds
            state = await bot.ask("state")
            while state["check"] == "running" and time.monotonic() < deadline:
                await asyncio.sleep(1)
                state = await bot.ask("state")
            after = await bot.stop()
    finally:
        await databases.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {"members": members, "database": "PostgreSQL" if server else "SQLite",
            "helpers": helpers, "status_p50_ms": cuts[49] * 1000,
            "status_p99_ms": cuts[98] * 1000, "calls": calls, "week_ms": pages[0] * 1000,
            "idle_mb": idle["rss_kb"] / 1024, "chat_peak_mb": chat_state["peak_kb"] / 1024,
            "peak_mb": after["peak_kb"] / 1024, "check": after["check"],
            "check_s": after["check_s"], "check_requests": after["requests"]}


async def scale(sizes: list[int], server: str, calls: int, check_seconds: float
                ) -> dict[str, Any]:
    rows = []
    print(f"{'members':>7} {'/status p50 ms':>14} {'p99 ms':>7} {'idle MB':>7} "
          f"{'chat MB':>7} {'peak MB':>7} {'/week ms':>8} refresh")
    for members in sizes:
        row = await scale_one(members, server, calls, check_seconds)
        rows.append(row)
        print(f"{members:>7} {row['status_p50_ms']:>14.1f} {row['status_p99_ms']:>7.1f} "
              f"{row['idle_mb']:>7.0f} {row['chat_peak_mb']:>7.0f} {row['peak_mb']:>7.0f} "
              f"{row['week_ms']:>8.0f} "
              f"{row['check']} after {row['check_s']:.0f} s ({row['check_requests']:,} "
              f"requests, {row['helpers']} helpers)", flush=True)
    return {"rows": rows, "calls": calls, "check_seconds": check_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[50])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (throw-away "
                        "databases are made on it); default: SQLite files")
    parser.add_argument("--runs", type=int, default=2, help="rounds of idle, final, refresh")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds a phase")
    parser.add_argument("--kakao-rate", type=float, default=5.0)
    parser.add_argument("--scale", action="store_true",
                        help="memory and /status cost at each --members size instead")
    parser.add_argument("--calls", type=int, default=300, help="--scale: /status calls")
    parser.add_argument("--check-seconds", type=float, default=60.0,
                        help="--scale: how long the final check may run")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--helpers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, nargs=2, default=list(LATENCY),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.members[0], args.helpers, tuple(args.latency)))
        return
    if args.scale:
        result: dict[str, Any] = asyncio.run(scale(args.members, args.database_url,
                                                   args.calls, args.check_seconds))
    else:
        result = {"sizes": [asyncio.run(chat(members, args.database_url, args.runs,
                                             args.seconds, args.kakao_rate))
                            for members in args.members]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
