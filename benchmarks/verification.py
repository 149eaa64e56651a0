"""Weekly verification on the simulated Instagram: requests made and time taken.

For 50, 150 and 300 members (two posts each, 70 % of members commenting on each post)
with 1 and 3 helper accounts, prints side by side:

- requests: requests the verification made (each post's info and its comment pages);
- minimum: one info request and one request per page of comments per post (the least
  any check that also reads the post's author can make);
- per pair: what checking each (member, post) pair on its own would need;
- wall / ideal: the time Instagram was being read, against requests / (helpers x allowed
  rate), where the allowed rate is one request per `--latency` seconds per helper (the
  simulated Instagram answers each request after that long, like a paced helper).

Targets: requests within 5 % of the minimum; wall time within 1.3x of the ideal. Each
post's verdicts are written as its read finishes, so the wall time includes the writes.

    .venv/bin/python benchmarks/verification.py [--latency 0.003]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet

from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import COMMENTS_PAGE, SimConfig, SimulatedInstagram
from services.rules import CommunityRules
from services.sample_community import build
from services.verification import CommenterCache, Verifier
from services.weeks import Week
from storage import crypto
from storage.db import create_engine, session_factory
from storage.migrations import upgrade

WEEK_OF = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


async def measure(members: int, helpers: int, latency: float, folder: Path) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{folder / f'bench-{members}-{helpers}.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sim = SimulatedInstagram(SimConfig(latency=latency, calls_per_hour=1_000_000))
    instagram = Instagram(sim, hourly_budget=1_000_000, max_wait=60)
    rules = CommunityRules()
    services = Services(session_factory(engine), rules, serialize=True, instagram=instagram)
    week = Week.containing(WEEK_OF, rules.timezone)
    try:
        async with services.transaction() as tx:
            community = await build(tx.session, sim, week, members=members, posts_each=2,
                                    helpers=helpers, comment_rate=0.7)
            await tx.helpers.load_pool()
        sim.calls.clear()
        verifier = Verifier(services.sessions, instagram, CommenterCache(),
                            write_lock=asyncio.Lock())
        started = time.perf_counter()
        report = await verifier.run(week, rules)
        wall = time.perf_counter() - started
    finally:
        await engine.dispose()
    requests = len(sim.calls)
    assert requests == report.requests
    pages = {code: 1 + max(1, -(-len(commenters) // COMMENTS_PAGE))
             for code, (_, commenters) in community.posts.items()}
    minimum = sum(pages.values())
    per_pair = sum(pages[code] * (members - 1) for code in community.posts)
    ideal = requests * latency / helpers
    return {"members": members, "helpers": helpers, "posts": report.posts,
            "requests": requests, "minimum": minimum, "per_pair": per_pair,
            "wall": wall, "ideal": ideal}


async def main(latency: float) -> None:
    crypto.configure_keys([Fernet.generate_key().decode()])
    print(f"simulated latency {latency * 1000:.1f} ms a request (one helper's allowed rate)")
    print(f"{'members':>7} {'helpers':>7} {'posts':>5} {'requests':>8} {'minimum':>7} "
          f"{'req/min':>7} {'per pair':>8} {'wall s':>7} {'ideal s':>7} {'wall/ideal':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for members in (50, 150, 300):
            for helpers in (1, 3):
                r = await measure(members, helpers, latency, Path(folder))
                print(f"{r['members']:>7} {r['helpers']:>7} {r['posts']:>5} "
                      f"{r['requests']:>8} {r['minimum']:>7} "
                      f"{r['requests'] / r['minimum']:>7.3f} {r['per_pair']:>8} "
                      f"{r['wall']:>7.2f} {r['ideal']:>7.2f} {r['wall'] / r['ideal']:>10.2f}",
                      flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.003)
    asyncio.run(main(parser.parse_args().latency))
