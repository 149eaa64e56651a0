"""Chat while the week is checked: Kakao and Telegram latency idle and during a check.

The bot is `autogram run`'s own `bot.app.run` in a process of its own (Telegram
polling the local Bot API emulator with the 30/s send cap on, the Kakao skill endpoint
and the web pages on one aiohttp app, the scheduler), on a fresh copy of a seeded week
(benchmarks/seed_week.py `seed_read`: both weeks as the product's own reads left them,
with comments made since, so the checks have open debts to read), with one difference
from production: Instagram is the simulated one (`WeekInstagram`), each request
taking 0.3-1 s, the posts it is read built in a process of its own (Instagram's work
is not the bot's: on the bot's loop it was most of a thousand-member check's first
minute), read by helpers paced as in production (the hourly budget and the
token bucket's burst; one helper per ten members, at least four). The checks are the
product's jobs: the final check of last week, left due in the database, which the
scheduler starts as the bot starts (its catch-up), or the daily refresh
(`WeeklyJobs.refresh`, as the scheduler calls it, on a copy where last week's final
check was made), started through the bot process's standard input. The helper pool
is loaded first, as in a process that has checked once since it started. Each phase
records the check's requests during it, whether it was still running at its end and
the event loop's longest stall.

Each run measures, one after another: Kakao (open-loop requests at `--kakao-rate` a
second: 내 현황, /status, /help, a link), then Telegram at 5, 15 and 30 messages a
second (the same four, each user with one message out at a time). A link is a new post
of the member's, handed in on the production path (WEEKLY_MAX_POSTS raised so every
link is accepted): the author is read at once when a helper is free (`author reads`
says how many were). Runs alternate idle / final check / refresh (the order turned
each round) on a fresh database each; figures are the median over the runs of each
run's p99. Goal: p99 during a check at most 1.5x the idle p99 (and, for Kakao, a p99
under 1 s, no answer past Kakao's 5 s and none through the callback). A Telegram
answer is the first message after the one sent that is not a link's "looking at
Instagram…" (a /status or 내 현황: the one with its buttons); a latency is never
negative (asserted).

    .venv/bin/python benchmarks/chat_during_checks.py --members 50 [--database-url URL]
        [--runs 2] [--seconds 8] [--json out.json] [--keep | --reuse DUE CHECKED ANCHOR]

Memory and /status's cost per community size are benchmarks/scale.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
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
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.bot_process import start_bot  # noqa: E402
from benchmarks.databases import ThrowAwayDatabases  # noqa: E402
from benchmarks.seed_week import (  # noqa: E402
    WeekInstagram,
    check_last_week,
    finish_last_week,
    kakao_user,
    more_helpers,
    read_state,
    reseal_helpers,
    seed,
    seed_read,
    telegram_user,
)
from handlers.messages.ko import MESSAGES as KO  # noqa: E402
from storage import crypto  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402

BOT_ID = "5ae9b76d7409b11ec845b746"
SECRET = "bench-secret"
GOAL = 1.5  # p99 during a check over the idle p99
KAKAO_P99 = 1.0  # seconds: Kakao's p99 in every mode
SUBMISSIONS_UNTIL = "SUN 23:30"  # the bot's submission deadline: links are accepted
WARNING_AT = "SUN 23:20"  # the Sunday warning: after the benchmark (on a Sunday)
LOOKING = KO["submit.checking"]  # a link's first message while its author is read
KAKAO_LIMIT = 5.0  # seconds: Kakao gives up on a skill that answers later
TELEGRAM_RATES = (5, 15, 30)
LATENCY = (0.3, 1.0)
UTTERANCES = ("내 현황", "/status", "/help", "LINK")
MODES = ("idle", "final", "refresh")
PHASES = ("kakao", *(f"telegram_{r}" for r in TELEGRAM_RATES))


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


async def serve(members: int, helpers: int, latency: tuple[float, float], anchor: datetime,
                paced: bool) -> None:
    """`bot.app.run` with the week's simulated Instagram (its comments timed from
    `anchor`, the moment the week was seeded as of), driven by lines on stdin:
    `refresh` starts that job, `pool` loads the helper pool, `state` prints one JSON
    line, `stop` ends. The final check needs no command: on a database where last
    week's is due, the scheduler starts it as the bot starts (its catch-up). `paced`:
    each helper's token bucket as in production (HELPER_BURST), else the hour alone."""
    from bot.config import load_settings
    from jobs.weekly_loop import WeeklyJobs
    from services.instagram.runtime import Instagram

    settings = load_settings()
    # The simulated Instagram builds the posts it is asked for in a process of its own:
    # a thousand-member post takes it ~20 ms of CPU, Instagram's work, which the real
    # one does elsewhere (on the bot's loop it was most of a check's first minute).
    builder = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    await asyncio.get_running_loop().run_in_executor(builder, int)  # started
    sim = WeekInstagram(members, helpers, latency, anchor=anchor, builder=builder)
    bot = start_bot(settings, Instagram(sim, hourly_budget=settings.helper_hourly_budget,
                                        burst=settings.helper_burst if paced else None))
    check: asyncio.Task[None] | None = None
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    jobs: WeeklyJobs | None = None
    lags: list[float] = []  # the event loop's stalls since the last `state`
    watcher = asyncio.create_task(watch_lag(lags))

    async def state() -> dict[str, Any]:
        nonlocal jobs
        services = bot.services
        jobs = jobs or WeeklyJobs(services, services.delivery)
        if check is not None:
            status = "running" if not check.done() else \
                "failed" if check.exception() is not None else "done"
        else:  # the final check, which the scheduler starts when it finds it due
            status = await jobs.runs.status("final", jobs.finished_week().label) or "none"
        fields = process_status()
        stalls = sorted(lags)
        lags.clear()
        return {"lag_max": stalls[-1] if stalls else 0.0,
                "lags_over_100ms": sum(1 for lag in stalls if lag > 0.1),
                "check": status, "requests": sim.requests(),
                "check_requests": sim.check_requests(), "author_reads": sim.author_reads,
                "check_s": (time.monotonic() - started) if started else 0.0,
                "peak_kb": int(fields["VmHWM"].split()[0]),
                "rss_kb": int(fields["VmRSS"].split()[0])}

    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "refresh":
            services = bot.services
            jobs = jobs or WeeklyJobs(services, services.delivery)
            started = time.monotonic()
            check = asyncio.create_task(jobs.refresh())
            print("started", flush=True)
        elif line == "pool":  # as in a process that has checked once since it started
            await bot.load_pool()
            print(json.dumps(await state()), flush=True)
        elif line == "state":
            print(json.dumps(await state()), flush=True)
        elif line in ("stop", ""):
            figures = await state()
            watcher.cancel()
            if check is not None and not check.done():
                check.cancel()
            await bot.stop()
            builder.shutdown(cancel_futures=True)
            print(json.dumps(figures), flush=True)
            return


async def watch_lag(lags: list[float], every: float = 0.05) -> None:
    """How late the event loop wakes a 50 ms sleep (what a chat answer waits behind)."""
    while True:
        began = time.monotonic()
        await asyncio.sleep(every)
        lags.append(max(0.0, time.monotonic() - began - every))


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
                      latency: tuple[float, float], anchor: datetime, *, paced: bool = True
                      ) -> AsyncIterator[Bot]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_PORT": str(port), "ENCRYPTION_KEYS": key,
           "KAKAO_BOT_ID": BOT_ID, "KAKAO_SKILL_SECRET": SECRET,
           "KAKAO_CALLBACK_HOSTS": "127.0.0.1", "TELEGRAM_TOKEN": telegram.token,
           "TELEGRAM_API_URL": telegram.url, "TELEGRAM_POLL_TIMEOUT": "1",
           "TELEGRAM_MAX_RATE": "30", "WEEKLY_MAX_POSTS": "60", "LOG_LEVEL": "ERROR",
           # Links are handed in all Sunday too (the default deadline is 12:00), and the
           # Sunday warning is not due as the bot starts (its catch-up would send it:
           # the week's results for every member, in every run).
           "SUBMISSION_DEADLINE": SUBMISSIONS_UNTIL, "SUBMISSION_WARNING_AT": WARNING_AT}
    errors = tempfile.TemporaryFile()  # the bot's log, shown if it does not start
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--members", str(members), "--helpers",
        str(helpers), "--latency", str(latency[0]), str(latency[1]), "--anchor",
        anchor.isoformat(), *(["--paced"] if paced else []), cwd=ROOT, env=env,
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
        try:
            yield bot
        except (ConnectionError, json.JSONDecodeError):  # the bot process ended: its log
            errors.seek(0)
            print("the bot process ended:\n" + errors.read().decode(errors="replace")[-3000:],
                  file=sys.stderr, flush=True)
            raise
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
    earlier: int = 0  # Telegram messages sent before the message waited on (not answers)
    earlier_texts: list[str] = field(default_factory=list)  # the first few, to tell what

    def took(self, latency: float, said: str) -> None:
        """One answer's latency (seconds on one monotonic clock: never negative)."""
        assert latency >= 0, f"a negative latency ({latency:.3f} s) for {said!r}: a clock fault"
        self.latencies.append(latency)
        if said.startswith("https://"):
            self.links.append(latency)

    def summary(self) -> dict[str, Any]:
        return {"sent": self.sent, "answered": len(self.latencies),
                "p50": p50(self.latencies), "p99": p99(self.latencies),
                "p99_no_links": p99([x for x in self.latencies if x not in self.links]),
                "p99_links": p99(self.links),
                "max": max(self.latencies, default=0.0),
                "over_5s": sum(1 for x in self.latencies if x > KAKAO_LIMIT),
                "callbacks": self.callbacks, "failed": len(self.failed),
                "skipped": self.skipped, "earlier": self.earlier,
                "earlier_texts": self.earlier_texts}


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
        figures.took(time.monotonic() - began, said)
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

    async def answer(user: int, said: str, began: float) -> dict[str, Any]:
        """The bot's answer to what `user` said at `began`: the first message to them
        sent since, but a link's "looking at Instagram…" (its answer follows once the
        author is read) and the first half of a /status or 내 현황 answer (the answer
        is the one with its buttons). Messages sent before `began` are not answers to
        it (the rest of an earlier answer, or what the bot sent on its own, such as a
        check's results); they are counted apart. Both times are this process's
        monotonic clock (the emulator stamps each message as it arrives)."""
        while True:
            (reply,) = await emulator.wait_for(user, timeout=60)
            if reply["received_at"] < began:
                figures.earlier += 1
                if len(figures.earlier_texts) < 3:
                    figures.earlier_texts.append(str(reply.get("text"))[:80])
                continue
            if reply.get("text") == LOOKING:
                continue
            if said in ("/status", "내 현황") and not reply.get("reply_markup"):
                continue
            return reply

    async def one(n: int, member: int, said: str) -> None:
        user = telegram_user(member)
        began = time.monotonic()
        try:
            await emulator.send_text(user, said)
            reply = await answer(user, said, began)
        except AssertionError:  # the emulator's wait ran out
            figures.failed.append(f"{said}: no answer in 60 s")
            return
        finally:
            waiting.discard(member)
        figures.took(reply["received_at"] - began, said)

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

    async def templates(self, members: int, helpers: int, *, read: bool = True
                        ) -> dict[str, str]:
        """The seeded week twice: "due" (last week's final check not run yet) and
        "checked" (last week's final check made, the week recorded, its job done);
        "anchor": the moment both are seeded as of. `read`: the weeks as the product's
        own reads left them, with open debts to read (`seed_read`); else every verdict
        written at once, all settled (`seed`)."""
        now = datetime.now(UTC)
        due = f"autogram_chat_{members}_{uuid.uuid4().hex[:6]}"
        if self.server:
            await self._admin(f'CREATE DATABASE "{due}"')
            self.made.append(due)
        await asyncio.to_thread(upgrade, self.url(due))
        if read:
            await seed_read(self.url(due), members, helpers, now)
        else:
            await seed(self.url(due), members, helpers, now=now)
        await self._analyze(due)
        checked = await self.fresh(due)
        if read:
            await check_last_week(self.url(checked), members, helpers, now)
            for name in (due, checked):
                await more_helpers(self.url(name), helpers, now)
        else:
            await finish_last_week(self.url(checked), now)
        await self._analyze(checked)
        return {"due": due, "checked": checked, "anchor": now.isoformat()}

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
    anchor = datetime.fromisoformat(templates["anchor"])
    row: dict[str, Any] = {"mode": mode}
    try:
        async with BotApiEmulator() as emulator, bot_process(
                databases.url(name), key, members, helpers, emulator, LATENCY, anchor) as bot:
            await bot.ask("pool")
            # Warm up: every path once on each transport, before anything is measured.
            await kakao_phase(bot.base, callback, members, 4, 1, serial, first=10**6)
            await telegram_phase(emulator, members, 4, 1, serial, first=10**6)
            if mode == "refresh":
                await bot.ask(mode)
            await asyncio.sleep(3)  # the check's reads under way (the final's since start)
            before = state = await bot.ask("state")

            async def measured(phase: str, figures: Figures) -> None:
                """The phase's figures, with the check's requests sent during it and
                whether it was still running at its end."""
                nonlocal state
                now = await bot.ask("state")
                row[phase] = figures.summary() | {
                    "check_requests": now["check_requests"] - state["check_requests"],
                    "check": now["check"], "lag_max": now["lag_max"],
                    "lags_over_100ms": now["lags_over_100ms"]}
                state = now

            await measured("kakao", await kakao_phase(bot.base, callback, members,
                                                      kakao_rate, seconds, serial))
            for rate in TELEGRAM_RATES:
                await measured(f"telegram_{rate}", await telegram_phase(
                    emulator, members, rate, seconds, serial))
            after = await bot.stop()
    finally:
        await receiver.cleanup()
        await databases.drop(name)
    row.update(check_before=before["check"], check=after["check"],
               check_requests=after["check_requests"] - before["check_requests"],
               check_s=after["check_s"],
               author_reads=after["author_reads"] - before["author_reads"],
               peak_mb=after["peak_kb"] / 1024)
    return row


def verdicts(members: int, database: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (transport, rate) x busy mode: median p99 over runs against idle."""
    rows = []
    for phase in PHASES:
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
            met = ratio <= GOAL and (phase != "kakao" or (
                counts["over_5s"] + counts["callbacks"] == 0
                and statistics.median(busy) < KAKAO_P99))
            rows.append({"members": members, "database": database, "phase": phase,
                         "mode": mode, "p99": statistics.median(busy), "p99s": busy,
                         "p50": statistics.median(r[phase]["p50"] for r in mine),
                         "ratio": ratio, "met": met,
                         # The check during this phase: still running at its end in
                         # every run, and its requests sent during it (median).
                         "check_running": all(r[phase]["check"] == "running" for r in mine),
                         "check_requests": statistics.median(r[phase]["check_requests"]
                                                             for r in mine),
                         **counts})
    return rows


def _counts(phase: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    medians = {key: statistics.median(r[phase][key] for r in runs)
               for key in ("p99_no_links", "p99_links")}
    return medians | {key: sum(r[phase][key] for r in runs)
            for key in ("sent", "answered", "over_5s", "callbacks", "failed", "skipped",
                        "earlier")} | {
        "author_reads": sum(r["author_reads"] for r in runs),
        "lag_max": statistics.median(r[phase]["lag_max"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs)}


async def chat(members: int, server: str, runs: int, seconds: float,
               kakao_rate: float, reuse: list[str] | None = None, keep: bool = False
               ) -> dict[str, Any]:
    """`reuse`: the due and checked templates of an earlier run, left on the server,
    and their anchor (a thousand-member week takes half an hour to seed on a busy
    machine); they are left there."""
    databases = Databases(server)
    key = Fernet.generate_key().decode()
    crypto.configure_keys([key])
    database = "PostgreSQL" if server else "SQLite"
    done: list[dict[str, Any]] = []
    try:
        began = time.monotonic()
        if reuse:
            templates = dict(zip(("due", "checked", "anchor"), reuse, strict=True))
            for kind in ("due", "checked"):  # this process's key
                await reseal_helpers(databases.url(templates[kind]))
        else:
            templates = await databases.templates(members, helpers_for(members))
            if keep and server:
                for kind in ("due", "checked"):
                    databases.made.remove(templates[kind])
                print(f"  kept: --reuse {templates['due']} {templates['checked']} "
                      f"{templates['anchor']}", flush=True)
        print(f"{members} members on {database}: seeded in {time.monotonic() - began:.0f} s; "
              f"{helpers_for(members)} helpers, Instagram {LATENCY[0]}-{LATENCY[1]} s a "
              f"request, paced as in production", flush=True)
        for kind in ("due", "checked"):
            print(f"  {kind}: {await read_state(databases.url(templates[kind]))}", flush=True)
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
                      f"{row['check']} ({row['check_requests']} requests: " + " / ".join(
                          f"{row[p]['check_requests']} {row[p]['check']}" for p in PHASES)
                      + f" a phase) · author reads {row['author_reads']} · earlier "
                      f"messages {sum(row[p]['earlier'] for p in PHASES)} "
                      f"{[t for p in PHASES for t in row[p]['earlier_texts']][:2]} · loop "
                      f"stalls max " + " / ".join(f"{row[p]['lag_max']:.2f}" for p in PHASES)
                      + " s · peak "
                      f"{row['peak_mb']:.0f} MB", flush=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[50])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (throw-away "
                        "databases are made on it); default: SQLite files")
    parser.add_argument("--runs", type=int, default=2, help="rounds of idle, final, refresh")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds a phase")
    parser.add_argument("--kakao-rate", type=float, default=5.0)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--helpers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, nargs=2, default=list(LATENCY),
                        help=argparse.SUPPRESS)
    parser.add_argument("--anchor", default="", help=argparse.SUPPRESS)
    parser.add_argument("--reuse", nargs=3, metavar=("DUE", "CHECKED", "ANCHOR"),
                        help="templates an earlier run left (and their anchor, ISO)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the templates on the server (for --reuse)")
    parser.add_argument("--paced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.members[0], args.helpers, tuple(args.latency),
                          datetime.fromisoformat(args.anchor), args.paced))
        return
    result = {"sizes": [asyncio.run(chat(members, args.database_url, args.runs,
                                         args.seconds, args.kakao_rate, args.reuse, args.keep))
                        for members in args.members]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
