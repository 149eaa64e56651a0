"""The week's verification through the instagrapi adapter against a fake Instagram.

Each configuration runs in its own process: a fresh database (SQLite file, or a new
PostgreSQL database), a week of 30, 300 or 1,000 members with two or three posts each
(benchmarks/fake_instagram.py builds it and knows its truth), helpers with sessions,
and the product's own check service (`Checks.week`, as the final job calls it), over
instagrapi's HTTP to the fake server in another process, with the production hourly
budget (HELPER_HOURLY_BUDGET), pacing (the gateway's pause before each request:
instagrapi's request_timeout and INSTAGRAM_DELAY_*), its threads as in production, and
cooldowns on a virtual clock (benchmarks/virtual_clock.py).

- requests: counted by the fake server, every one (429s too), over every run;
- minimum: from the truth, per post its info, each page of comments, each page of each
  thread longer than its previews;
- runs: the final check, then a re-check of the open debts an hour later (as often as
  needed) until every verdict that can be settled is; verdicts are compared with the
  truth (a wrong one fails the benchmark). A post with hidden comments (counted by
  Instagram, never listed) leaves its unseen debts unknown by design: counted apart;
- helpers: the fewest that finish the final check within its window (WINDOW, an hour
  after the deadline check starts): first as many as the hourly budget needs (the
  refused requests included); when the final check with them ran past the window or
  paused (cooldowns after 429s stretch it), again with proportionally more, then
  halving the gap to the most that did not fit, up to search_tries() runs (the
  stress week: one); the row is the fewest that fit, and says so when none did;
- helper-hours a week: the final check plus one refresh a day (REFRESH_TIMES), each
  reading at most what the final check reads;
- peak memory of the process, which holds the product alone (the world and its judge
  live in the fake server), and the time verdict writes were under way (real
  seconds with at least one verdict transaction open, BEGIN to COMMIT, and how many
  transactions; "asked s" also counts the posts waiting to join one), beside the
  final check's own real seconds.

Goals: requests at most 1.05x the minimum without faults and 1.3x with 5 %; the
1,000-member week under 1 GB peak and its verdicts written within 60 s on PostgreSQL.

    .venv/bin/python benchmarks/verification.py [--members 30 300 1000] [--faults 0 0.05 0.2]
        [--database-url postgresql://...] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import resource
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from cryptography.fernet import Fernet
from instagrapi import Client
from sqlalchemy.engine import make_url

from benchmarks.virtual_clock import VirtualClock
from bot.config import Settings
from services.container import Services
from services.instagram.instagrapi_adapter import InstagrapiGateway
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from services.week.calendar import Week
from storage import crypto
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrations import upgrade
from storage.models import Helper, Member, Submission

ROOT = Path(__file__).resolve().parent.parent
WEEK_OF = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WINDOW = 3600.0  # seconds the final check may take: the results go out the same night
DEFAULTS = {name: field.default for name, field in Settings.model_fields.items()}
BUDGET = int(DEFAULTS["helper_hourly_budget"])
REFRESHES_A_WEEK = 7 * len(str(DEFAULTS["refresh_times"]).split(","))
GOALS = {"0": 1.05, "0.05": 1.3}


def search_tries(members: int) -> int:
    """Final checks tried per configuration in the search for the fewest helpers: a run
    of 30 members takes a second, of 300 minutes, of 1,000 ten."""
    return 8 if members <= 100 else 3 if members < 1000 else 1


class LocalInstagram(requests.adapters.HTTPAdapter):
    """instagrapi's requests to i.instagram.com, sent to the fake server instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = (request.url or "").replace("https://i.instagram.com", self.base, 1)
        return super().send(request, **kwargs)


class FakeServerGateway(InstagrapiGateway):
    """The product's adapter with production pacing; only the address differs (and the
    transport: `requests`, as instagrapi's default curl cannot be pointed elsewhere)."""

    def __init__(self, base: str) -> None:
        super().__init__(transport="requests",
                         delay_range=(DEFAULTS["instagram_delay_min_seconds"],
                                      DEFAULTS["instagram_delay_max_seconds"]),
                         call_timeout=DEFAULTS["instagram_call_timeout_seconds"])
        self.base = base

    def new_client(self, settings: dict[str, Any] | None = None) -> Client:
        client = super().new_client(settings)
        client.private.mount("https://i.instagram.com", LocalInstagram(self.base))
        return client


class Busy:
    """Real seconds with at least one call of a wrapped coroutine under way."""

    def __init__(self) -> None:
        self.seconds, self.calls, self._open, self._since = 0.0, 0, 0, 0.0

    def wrap(self, call: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def timed(*args: Any) -> None:
            if not self._open:
                self._since = time.perf_counter()
            self._open += 1
            self.calls += 1
            try:
                await call(*args)
            finally:
                self._open -= 1
                if not self._open:
                    self.seconds += time.perf_counter() - self._since
        return timed


def helper_sessions(count: int) -> list[dict[str, Any]]:
    base = Client().get_settings()
    return [{**base, "authorization_data": {"ds_user_id": str(7_000_000 + n),
                                            "sessionid": f"{7_000_000 + n}%3Abench%3A1"}}
            for n in range(count)]


def fewest_helpers(minimum: int, faults: float) -> int:
    """Helpers whose hourly budgets cover the final check within its window, when a
    share `faults` of the requests is refused and has to be sent again: the least that
    could finish in time, where the search for the fewest that do starts."""
    return max(1, math.ceil(minimum / (1 - faults) / (BUDGET * WINDOW / 3600)))


def fits(row: dict[str, Any]) -> bool:
    """Whether this run's final check finished within its window."""
    return not row["final_paused"] and row["final_hours"] * 3600 <= WINDOW


def more_helpers(row: dict[str, Any]) -> int:
    """The next try for a final check that ran past its window: proportionally more
    helpers (a paused check, which never ended, a half more)."""
    stretch = 1.5 if row["final_paused"] else row["final_hours"] * 3600 / WINDOW
    return max(row["helpers"] + 1, math.ceil(row["helpers"] * stretch))


async def seed(services: Services, world: dict[str, Any], week: Week, helpers: int) -> None:
    joined = week.at("MON 00:00") - timedelta(days=7)
    submitted = week.at("MON 09:00")
    async with services.transaction() as tx:
        rows = {name: Member(instagram_username=name, display_name=name, joined_at=joined)
                for name in world["members"]}
        tx.session.add_all(rows.values())
        await tx.session.flush()
        tx.session.add_all(
            Submission(member_id=rows[owner].id, week_start=week.start,
                       url=f"https://www.instagram.com/p/{code}/", shortcode=code,
                       submitted_at=submitted, status="active")
            for code, owner in world["posts"])
        tx.session.add_all(Helper(instagram_username=world["helpers"][n], session=session,
                                  status="ready")
                           for n, session in enumerate(helper_sessions(helpers)))


def bench_call(base: str, door: str = "", **query: object) -> dict[str, Any]:
    """The fake server's benchmark door: `` (faults, counts), `world`, `judge`."""
    url = f"{base}/_bench{'/' + door if door else ''}?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=600) as answer:
        return json.loads(answer.read())


async def measure(args: argparse.Namespace, clock: VirtualClock) -> dict[str, Any]:
    """One configuration, in this process."""
    logging.getLogger("instagrapi").setLevel(logging.ERROR)  # each 429 is counted, not logged
    crypto.configure_keys([Fernet.generate_key().decode()])
    base = f"http://127.0.0.1:{args.port}"
    world = bench_call(base, "world")
    minimum = world["minimum"]
    helpers = args.helpers or fewest_helpers(minimum, args.faults)
    url = args.url
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    clock.watch(engine)
    instagram = Instagram(FakeServerGateway(base), hourly_budget=BUDGET, clock=clock.wall)
    services = Services(session_factory(engine), CommunityRules(), serialize=is_sqlite(url),
                        instagram=instagram)
    checks = services.checks
    week = Week.containing(WEEK_OF, services.rules.timezone)
    asked, writing = Busy(), Busy()  # a post's write asked for; a write transaction open
    verifier = checks.verifier
    verifier._write_post = asked.wrap(verifier._write_post)  # type: ignore[method-assign]
    verifier._write_batch = writing.wrap(verifier._write_batch)  # type: ignore[method-assign]
    try:
        await seed(services, world, week, helpers)
        bench_call(base, faults=args.faults, seed=args.members)
        started, real = clock.monotonic(), time.perf_counter()
        report = await checks.week(week)
        final_s, final_real = clock.monotonic() - started, time.perf_counter() - real
        print(f"final: {report.requests} requests, paused {report.paused}, failed "
              f"{sorted(set(report.failed.values()))} {len(report.failed)}", file=sys.stderr)
        final_requests = bench_call(base)["requests"]
        runs, tally = 1, bench_call(base, "judge", url=url)
        while tally["open"] and runs < args.max_runs:
            await asyncio.sleep(3600)  # the next re-check, an hour on
            again = await checks.week(week, only_open=True)
            print(f"run {runs + 1}: {again.requests} requests, paused {again.paused}, "
                  f"failed {len(again.failed)}", file=sys.stderr)
            runs, tally = runs + 1, bench_call(base, "judge", url=url)
        real = time.perf_counter() - real
        stats = bench_call(base)
    finally:
        await engine.dispose()
    return {
        "members": args.members, "posts": len(world["posts"]), "pairs": world["pairs"],
        "database": make_url(url).get_backend_name(), "faults": args.faults,
        "helpers": helpers, "minimum": minimum, "requests": stats["requests"],
        "refused": stats["refused"], "repeated": stats["repeated"],
        "final_requests": final_requests,
        "ratio": stats["requests"] / minimum, "runs": runs, **tally,
        "per_settled": stats["requests"] / max(1, tally["settled"]),
        "final_hours": final_s / 3600, "final_paused": report.paused,
        "helper_hours_week": final_requests * (1 + REFRESHES_A_WEEK) / BUDGET,
        "write_s": writing.seconds, "asked_s": asked.seconds, "writes": writing.calls,
        "final_real_s": final_real, "real_s": real,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def database_for(server: str | None, folder: Path, name: str) -> tuple[str, str | None]:
    """A fresh database: (its URL, the PostgreSQL database to drop after, if any)."""
    if server is None:
        return f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}", None
    database = f"bench_verify_{uuid.uuid4().hex[:8]}"
    admin = make_url(server).set(drivername="postgresql")
    subprocess.run(["psql", admin.render_as_string(hide_password=False), "-qc",
                    f"CREATE DATABASE {database}"], check=True)
    return admin.set(database=database).render_as_string(hide_password=False), database


def drop(server: str, database: str) -> None:
    admin = make_url(server).set(drivername="postgresql")
    subprocess.run(["psql", admin.render_as_string(hide_password=False), "-qc",
                    f"DROP DATABASE IF EXISTS {database}"], check=False)


def run_one(members: int, faults: float, server: str | None, folder: Path, port: int,
            max_runs: int, helpers: int = 0) -> dict[str, Any]:
    url, database = database_for(server, folder, f"verify-{members}-{faults}-{helpers}")
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--one", "--members", str(members), "--faults",
             str(faults), "--url", url, "--port", str(port), "--max-runs", str(max_runs),
             "--helpers", str(helpers)],
            capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"verification run failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if server is not None and database is not None:
            drop(server, database)


def fewest_that_fit(members: int, faults: float, server: str | None, folder: Path,
                    port: int, max_runs: int) -> dict[str, Any]:
    """The run with the fewest helpers found whose final check fits its window: more
    helpers until one fits, then halving the gap to the most that did not, as far as
    the configuration's tries go (a bigger week's run takes minutes)."""
    tries = search_tries(members)
    row = run_one(members, faults, server, folder, port, max_runs)
    tried, best = [row["helpers"]], row if fits(row) else None
    too_few = 0 if best else row["helpers"]
    while len(tried) < tries:
        if best is None:
            count = more_helpers(row)
        elif best["helpers"] - too_few > 1 and too_few:
            count = (best["helpers"] + too_few) // 2
        else:
            break
        row = run_one(members, faults, server, folder, port, max_runs, count)
        tried.append(count)
        if fits(row):
            best = row if best is None or count < best["helpers"] else best
        else:
            too_few = max(too_few, count)
    chosen = best or row
    return {**chosen, "helpers_tried": tried, "fits": best is not None}


def fake_server(members: int) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "fake_instagram.py"),
                               "--members", str(members)], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    line = server.stdout.readline() if server.stdout else ""
    if not line.startswith("ready"):
        server.kill()
        raise SystemExit("the fake Instagram did not start")
    return server, int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[30, 300, 1000])
    parser.add_argument("--faults", type=float, nargs="+", default=[0.0, 0.05, 0.2])
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server to make fresh databases on (default SQLite)")
    parser.add_argument("--stress-faults", type=float, nargs="+", default=[0.0],
                        help="fault shares for the 1,000-member week (it takes minutes a run)")
    parser.add_argument("--max-runs", type=int, default=24)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--helpers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        args.members, args.faults = args.members[0], args.faults[0]
        clock = VirtualClock()
        print(json.dumps(clock.run(measure(args, clock))))
        return
    import tempfile

    rows = []
    print(f"{'members':>7} {'db':>10} {'faults':>6} {'helpers':>7} {'requests':>8} "
          f"{'minimum':>8} {'ratio':>6} {'runs':>4} {'settled':>8} {'wrong':>5} "
          f"{'hidden':>6} {'final h':>7} {'helper-h/wk':>11} {'write s':>7} {'asked s':>7} "
          f"{'writes':>6} {'final s':>7} {'peak MB':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for members in args.members:
            server, port = fake_server(members)
            try:
                for faults in args.stress_faults if members >= 1000 else args.faults:
                    row = fewest_that_fit(members, faults, args.database_url, Path(folder),
                                          port, args.max_runs)
                    rows.append(row)
                    print(f"{row['members']:>7} {row['database']:>10} {row['faults']:>6.2f} "
                          f"{row['helpers']:>7} {row['requests']:>8} {row['minimum']:>8} "
                          f"{row['ratio']:>6.3f} {row['runs']:>4} {row['settled']:>8} "
                          f"{row['wrong']:>5} {row['hidden']:>6} {row['final_hours']:>7.2f} "
                          f"{row['helper_hours_week']:>11.1f} {row['write_s']:>7.1f} "
                          f"{row['asked_s']:>7.1f} {row['writes']:>6} {row['final_real_s']:>7.1f} "
                          f"{row['peak_mb']:>7.0f}  helpers tried {row['helpers_tried']}"
                          f"{'' if row['fits'] else ': none fit the window'}", flush=True)
            finally:
                server.kill()
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "goals": GOALS, "budget": BUDGET,
                                         "window_s": WINDOW}))
    if any(row["wrong"] for row in rows):
        raise SystemExit("a verdict differs from the truth")


if __name__ == "__main__":
    main()
