"""The board under load must not slow the chat: members send `내 현황` over the Kakao
skill endpoint while `--readers` readers fetch `/week` of a 300-member week at once.

One web app (as `autogram run` serves it: the Kakao skill endpoint and the web pages)
on a local port over the chosen database (SQLite unless `--database-url`), with the
week of benchmarks/web_board.py (300 members, 750 posts, about 224,000 verdicts).
`--members` Kakao members each send `내 현황`, wait for the answer and send again after
`--pause` seconds, for `--seconds` per phase (defaults: 4 members, 0.25 s):

- idle: no readers;
- uncached: the readers (in a process of their own, as phones are), each fetching
  `/week` again `--reader-pause` seconds after it has it, every fetch computing the
  board (as before the cache: no entry, no shared computation);
- cached: the same readers with the cache on (`--cache-seconds`, 30 by default).

Printed: the Kakao latency p50 / p99 / max of each phase, each p99 against the idle
one (a ratio) and against the goal (p99 under 1 s), the pages the readers got and the
board computations the phase cost.

    .venv/bin/python benchmarks/web_board_load.py [--readers 100] [--seconds 20]
        [--database-url postgresql://postgres@localhost/postgres] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from sqlalchemy import insert

from benchmarks.kakao_soak import BOT_ID, SECRET, skill_request, valid
from benchmarks.web_board import NOW, _server, fresh_services, seed
from bot.config import load_settings
from bot.kakao import KakaoSkill
from bot.web import build_web_app
from bot.web_pages import WebPages
from handlers.dispatcher import Dispatcher
from services.web.board import BoardService
from services.web.board_cache import Entry
from services.web.links import WebLinks
from services.week.calendar import Week
from storage.models import ChatAccount

GOAL_P99_S = 1.0


def p99(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def readers_process(base: str, readers: int, seconds: float, pause: float, out: Any
                    ) -> None:
    """The readers, in a process of their own (phones are not in the bot's process):
    each fetches `/week` (gzip accepted, as a phone does), looks at it `pause` seconds
    and fetches it again (a full fetch each time, no revalidation: the harder case)."""
    async def run() -> list[int]:
        stop = time.monotonic() + seconds
        pages = [0, 0]  # got, failed

        async def reader(http: aiohttp.ClientSession) -> None:
            while time.monotonic() < stop:
                try:
                    async with http.get(f"{base}/week", auto_decompress=False) as got:
                        await got.read()
                        pages[0 if got.status == 200 else 1] += 1
                except (aiohttp.ClientError, TimeoutError):
                    pages[1] += 1
                await asyncio.sleep(pause)

        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=0)) as http:
            await asyncio.gather(*(reader(http) for _ in range(readers)))
        return pages

    out.put(asyncio.run(run()))


async def phase(base: str, users: list[str], readers: int, seconds: float,
                pause: float, reader_pause: float) -> dict[str, Any]:
    """Kakao members asking for their status, with `readers` fetching the board."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    invalid: list[str] = []
    results: Any = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=readers_process, args=(base, readers, seconds, reader_pause, results)
    ) if readers else None
    if process is not None:
        process.start()

    async def member(user: str, http: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            began = time.monotonic()
            try:
                async with http.post(f"{base}/kakao/skill",
                                     data=json.dumps(skill_request(user, "내 현황")),
                                     headers={"X-Skill-Secret": SECRET,
                                              "Content-Type": "application/json"}) as got:
                    body = await got.json(content_type=None)
                    if not valid(got.status, body):
                        invalid.append(f"{got.status} {str(body)[:100]}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                invalid.append(type(exc).__name__)
            latencies.append(time.monotonic() - began)
            await asyncio.sleep(pause)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(
            limit=0)) as http:
        await asyncio.gather(*(member(user, http) for user in users))
    pages = [0, 0]
    if process is not None:
        pages = await asyncio.to_thread(results.get)
        await asyncio.to_thread(process.join)
    return {"requests": len(latencies), "invalid": invalid[:5], "invalid_count": len(invalid),
            "p50_s": statistics.median(latencies), "p99_s": p99(latencies),
            "max_s": max(latencies), "pages": pages[0], "pages_failed": pages[1]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=4, help="Kakao members asking")
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--pause", type=float, default=0.25)
    parser.add_argument("--reader-pause", type=float, default=1.0,
                        help="seconds a reader looks at the page before fetching it again")
    parser.add_argument("--cache-seconds", type=float, default=30.0)
    parser.add_argument("--no-uncached", action="store_true",
                        help="skip the phase with the cache off")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    name, engine, services = await fresh_services(args.database_url, "load")
    week = Week.containing(NOW, services.rules.timezone)
    owed = await seed(services, 300, week)
    users = [f"load{n:04d}" + "0" * 56 for n in range(args.members)]
    async with services.transaction() as tx:
        await tx.session.execute(insert(ChatAccount), [
            {"platform": "kakao", "platform_user_id": user, "member_id": n + 1,
             "language": "ko", "created_at": NOW} for n, user in enumerate(users)])
    computed = [0]
    original = BoardService.board

    async def counted(self: BoardService, of: Week) -> Any:
        computed[0] += 1
        return await original(self, of)

    BoardService.board = counted  # type: ignore[method-assign]
    settings = load_settings(kakao_bot_id=BOT_ID, kakao_skill_secret=SECRET,
                             database_url=engine.url.render_as_string(hide_password=False))
    app = build_web_app([])
    KakaoSkill(settings, Dispatcher(services), services).add_routes(app)
    pages = WebPages(services, WebLinks("http://127.0.0.1"), args.cache_seconds)
    pages.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    database = "postgresql" if args.database_url else "sqlite"
    runs: dict[str, dict[str, Any]] = {}
    cached_get = pages.cache.get

    async def uncached_get(key: Any, week_start: Any, compute: Any) -> Any:
        return Entry(await compute(), 'W/"off"', NOW, 0, 0.0)
    try:
        await phase(base, users, 1, 2.0, args.pause, 0.0)  # warm up: statements, templates
        plan = [("idle", 0, args.cache_seconds), ("uncached", args.readers, 0.0),
                ("cached", args.readers, args.cache_seconds)]
        for label, readers, cache in plan:
            if label == "uncached" and args.no_uncached:
                continue
            pages.cache.seconds = cache
            pages.cache._entries.clear()
            # Off: every reader computes the board, as before the cache (no sharing).
            pages.cache.get = cached_get if cache else uncached_get  # type: ignore[method-assign]
            computed[0] = 0
            runs[label] = await phase(base, users, readers, args.seconds, args.pause,
                                     args.reader_pause)
            runs[label]["board_computed"] = computed[0]
            runs[label]["cache_seconds"] = cache
            runs[label]["readers"] = readers
    finally:
        await runner.cleanup()
        await engine.dispose()
        if args.database_url:
            await _server(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    idle = runs["idle"]["p99_s"]
    print(f"300 members, {owed:,} verdicts ({database}); {args.members} Kakao members "
          f"sending 내 현황 (pause {args.pause}s), {args.readers} /week readers "
          f"(each again after {args.reader_pause}s), "
          f"{args.seconds:.0f}s a phase")
    for label, run in runs.items():
        run["ratio_to_idle"] = run["p99_s"] / idle
        run["met"] = run["p99_s"] < GOAL_P99_S
        print(f"{label:9} kakao {run['requests']:5} requests (invalid {run['invalid_count']})"
              f" p50 {run['p50_s']:.3f}s p99 {run['p99_s']:.3f}s max {run['max_s']:.3f}s "
              f"· p99 {run['ratio_to_idle']:5.1f}x idle · goal p99 < {GOAL_P99_S:.0f}s: "
              f"{'met' if run['met'] else 'MISSED'} · pages {run['pages']}"
              f" (failed {run['pages_failed']}) · boards computed {run['board_computed']}")
        for problem in run["invalid"]:
            print("   invalid:", problem)
    if args.json:
        result = {"database": database, "members": 300, "owed": owed,
                  "kakao_members": args.members, "readers": args.readers,
                  "seconds": args.seconds, "goal_p99_s": GOAL_P99_S, "phases": runs}
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
