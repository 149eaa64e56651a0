"""Soak: many KakaoTalk users at once, mixed with uploads and an Instagram login.

The bot runs as it does in production, `autogram run` in its own process, on a fresh
PostgreSQL database (created on the server `--server` names, dropped afterwards; its
members have their posts of last week and this week and every verdict on them, so a
status lists a real to-do list), with
its Kakao skill endpoint and Telegram pointed at the local Bot API emulator. This
process drives it: `--requests` Kakao skill requests from `--users` members spread over
`--seconds` (status, results, /me, /help, a link, a bad link), while Telegram users send
Instagram export uploads and one user logs in to Instagram (which cannot be reached
from here, so the login fails, the way a slow or absent Instagram does).

It prints what was seeded (members, their posts of each week, the verdicts, last week's
record), the requests sent and answered, how many answers only said the result comes
later (past the reply budget: without a callback URL the result waits for the member's
next message), the answers that were not valid skill responses (must be 0), the uploads
answered, and the latency p50 / p99 / max against Kakao's 5-second budget (goal: p99
under 4.5 s), overall and for each kind of request. The same driver runs, smaller, in the
test suite (tests/test_soak.py), which asserts nothing lost and every answer valid.

    .venv/bin/python benchmarks/kakao_soak.py [--users 100] [--requests 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from handlers.i18n import t  # noqa: E402

BOT_ID = "5ae9b76d7409b11ec845b746"
SECRET = "soak-secret"
UTTERANCES = ("내 현황", "결과", "/me", "/help", "LINK", "https://naver.com/not-instagram")
LATER = {t(language, "kakao.working_no_callback") for language in ("ko", "en")}


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max of some latencies (0 for none)."""
    ordered = sorted(latencies) or [0.0]
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            ordered[-1])


@dataclass
class SoakFigures:
    sent: int = 0
    answered: int = 0
    invalid: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    # Valid answers that only said the result comes later (past the reply budget).
    later: int = 0
    by_kind: dict[str, list[float]] = field(default_factory=dict)

    def line(self) -> str:
        p50, p99, most = percentiles(self.latencies)
        return (f"requests {self.sent} · answered {self.answered} ({self.later} of them "
                f"\"the result comes later\") · invalid {len(self.invalid)} · p50 {p50:.3f}s · "
                f"p99 {p99:.3f}s · max {most:.3f}s · goal p99 < 4.5s: "
                f"{'met' if p99 < 4.5 else 'MISSED'}")

    def kinds(self) -> list[str]:
        """A line per kind of request: where the time goes."""
        lines = []
        for kind, latencies in sorted(self.by_kind.items()):
            p50, p99, most = percentiles(latencies)
            lines.append(f"  {kind:<13} {len(latencies):>5} · p50 {p50:.3f}s · p99 {p99:.3f}s"
                         f" · max {most:.3f}s")
        return lines


def skill_request(user: str, utterance: str) -> dict[str, Any]:
    return {"bot": {"id": BOT_ID, "name": "soak"},
            "intent": {"id": "i", "name": "폴백 블록"},
            "action": {"id": "a", "name": "skill", "params": {}, "detailParams": {},
                       "clientExtra": {}},
            "userRequest": {"block": {"id": "b", "name": "폴백 블록"},
                            "user": {"id": user, "type": "botUserKey", "properties": {}},
                            "utterance": utterance, "params": {}, "lang": "ko",
                            "timezone": "Asia/Seoul"}}


def later(body: Any) -> bool:
    """An answer that only says the result comes later (the callback, or the next message)."""
    if not isinstance(body, dict):
        return False
    if body.get("useCallback"):
        return True
    outputs = (body.get("template") or {}).get("outputs") or []
    texts = {str(o.get("simpleText", {}).get("text")) for o in outputs}
    return bool(texts & LATER)


def valid(status: int, body: Any) -> bool:
    if status != 200 or not isinstance(body, dict) or body.get("version") != "2.0":
        return False
    if body.get("useCallback"):
        return True
    outputs = (body.get("template") or {}).get("outputs") or []
    return bool(outputs) and all(isinstance(o.get("simpleText", {}).get("text"), str)
                                 for o in outputs)


async def drive_kakao(url: str, users: list[str], requests: int, seconds: float,
                      seed: int = 7) -> SoakFigures:
    """`requests` skill requests from `users`, started evenly over `seconds`, each
    checked to be a valid skill response."""
    figures = SoakFigures()
    chance = random.Random(seed)
    start = time.monotonic()

    async def one(n: int, http: aiohttp.ClientSession) -> None:
        await asyncio.sleep(max(0.0, start + seconds * n / requests - time.monotonic()))
        user = chance.choice(users)
        utterance = chance.choice(UTTERANCES)
        kind = "link" if utterance == "LINK" else utterance
        if utterance == "LINK":
            utterance = f"https://www.instagram.com/p/SOAK{n:06d}x/"
        figures.sent += 1
        began = time.monotonic()
        try:
            async with http.post(url, data=json.dumps(skill_request(user, utterance)),
                                 headers={"X-Skill-Secret": SECRET,
                                          "Content-Type": "application/json"}) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            figures.invalid.append(f"{utterance}: {type(exc).__name__}")
            return
        figures.latencies.append(time.monotonic() - began)
        figures.by_kind.setdefault(kind, []).append(figures.latencies[-1])
        if valid(status, body):
            figures.answered += 1
            figures.later += later(body)
        else:
            figures.invalid.append(f"{utterance}: {status} {str(body)[:120]}")

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=200)) as http:
        await asyncio.gather(*(one(n, http) for n in range(requests)))
    return figures


# --- the benchmark: `autogram run` in its own process on PostgreSQL -------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def add_kakao_members(services: Any, user_ids: list[str]) -> None:
    """A member for each Kakao user id, linked to it (no invite needed)."""
    from storage.models import ChatAccount, Member

    async with services.transaction() as tx:
        for n, user in enumerate(user_ids):
            member = Member(instagram_username=f"soak.member.{n:03d}")
            tx.session.add(member)
            await tx.session.flush()
            tx.session.add(ChatAccount(platform="kakao", platform_user_id=user,
                                       member_id=member.id, language="ko"))


async def seed(url: str, users: int) -> list[str]:
    """The members on a fresh database, each with their posts of last week and this
    week and every verdict on them (benchmarks/seed_week.py), last week's final check
    done; returns their Kakao user ids. Their to-do lists are real: /status and 내 현황
    list what a member of a community this size has to do."""
    from benchmarks.seed_week import finish_last_week, kakao_user
    from benchmarks.seed_week import seed as seed_week

    await seed_week(url, users)
    await finish_last_week(url)
    return [kakao_user(n) for n in range(1, users + 1)]


async def seeded(url: str) -> str:
    """What the members have, said with the figures (the soak is only as real as its
    to-do lists): members, their posts of each week, the verdicts, last week's record."""
    from sqlalchemy import distinct, func, select

    from storage.db import create_engine
    from storage.models import Member, Submission, Verification, WeekRecordEntry

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            members = await conn.scalar(select(func.count()).select_from(Member))
            weeks = (await conn.execute(
                select(Submission.week_start, func.count(),
                       func.count(distinct(Submission.member_id)))
                .group_by(Submission.week_start).order_by(Submission.week_start))).all()
            verdicts = await conn.scalar(select(func.count()).select_from(Verification))
            owed = await conn.scalar(select(func.count()).select_from(WeekRecordEntry))
    finally:
        await engine.dispose()
    posts = "; ".join(f"week of {start}: {count:,} posts by {by:,} members"
                      for start, count, by in weeks)
    return (f"seeded: {members:,} members; {posts}; {verdicts:,} verdicts; last week "
            f"recorded with {owed:,} owed comments")


async def side_traffic(emulator: Any, uploads: int, seconds: float) -> tuple[int, int]:
    """Telegram users upload Instagram exports, one logs in; how many got an answer."""
    from testkit.instagram_export_builder import export_zip

    following = [f"account.{n:05d}" for n in range(20_000)]
    data = export_zip(following[:12_000], following, kind="html")
    answered = 0
    for n in range(uploads):
        await asyncio.sleep(seconds / (uploads + 1))
        user = 7_000_000 + n
        await emulator.send_document(user, "instagram.zip", data)
        try:
            await emulator.wait_for(user, count=2, timeout=60)
            answered += 1
        except AssertionError:
            pass
    login = 7_100_000
    try:  # a bot too busy to answer is a figure of the soak, not the end of it
        await emulator.send_text(login, "/unfollowlogin")
        await emulator.wait_for(login, timeout=30)
        await emulator.send_text(login, "someone.kim")
        await emulator.wait_for(login, timeout=30)
        await emulator.send_text(login, "a-password")
        logged = len(await emulator.wait_for(login, count=2, timeout=120))
    except AssertionError:
        logged = -len(emulator.messages_to(login))  # negative: the login went unanswered
    return answered, logged


async def main(server: str, users: int, requests: int, seconds: float, uploads: int,
               out: str = "") -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy.engine import make_url

    from benchmarks.databases import admin_execute
    from storage.db import async_url
    from storage.migrations import upgrade
    from testkit.telegram_emulator import BotApiEmulator

    name = f"autogram_soak_{uuid.uuid4().hex[:8]}"
    await admin_execute(server, f'CREATE DATABASE "{name}"')
    url = make_url(async_url(server)).set(database=name).render_as_string(hide_password=False)
    process = None
    try:
        await asyncio.to_thread(upgrade, url)
        kakao_users = await seed(url, users)
        print(await seeded(url), flush=True)
        port = free_port()
        async with BotApiEmulator() as emulator:
            env = {**os.environ, "DATABASE_URL": url, "WEB_PORT": str(port),
                   "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                   "KAKAO_BOT_ID": BOT_ID, "KAKAO_SKILL_SECRET": SECRET,
                   "TELEGRAM_TOKEN": emulator.token, "TELEGRAM_API_URL": emulator.url,
                   "TELEGRAM_POLL_TIMEOUT": "1", "TELEGRAM_MAX_RATE": "1000",
                   "INSTAGRAM_CALL_TIMEOUT_SECONDS": "5", "LOG_LEVEL": "WARNING"}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(f"{base}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            print(f"autogram run (pid {process.pid}) on PostgreSQL {name}; {users} Kakao users, "
                  f"{requests} requests over {seconds:.0f}s, {uploads} uploads and a login",
                  flush=True)
            kakao, side = await asyncio.gather(
                drive_kakao(f"{base}/kakao/skill", kakao_users, requests, seconds),
                side_traffic(emulator, uploads, seconds))
        print("kakao:  " + kakao.line())
        print("\n".join(kakao.kinds()))
        login = (f"the login answered ({side[1]} messages)" if side[1] >= 0 else
                 f"the login NOT answered in time ({-side[1]} messages before it stopped)")
        print(f"telegram: uploads answered {side[0]}/{uploads} · {login}")
        for problem in kakao.invalid[:10]:
            print("  invalid:", problem)
        if out:
            p50, p99, most = percentiles(kakao.latencies)
            await asyncio.to_thread(Path(out).write_text, json.dumps({
                "users": users, "requests": requests, "seconds": seconds,
                "sent": kakao.sent, "answered": kakao.answered, "invalid": len(kakao.invalid),
                "later": kakao.later, "p50": p50, "p99": p99,
                "kinds": {kind: [len(values), *percentiles(values)]
                          for kind, values in kakao.by_kind.items()},
                "max": most, "goal_p99": 4.5, "uploads": uploads,
                "uploads_answered": side[0], "login_messages": abs(side[1]),
                "login_answered": side[1] >= 0}))
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
        await admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@localhost/postgres"))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    options = parser.parse_args()
    asyncio.run(main(options.server, options.users, options.requests, options.seconds,
                     options.uploads, options.json))
