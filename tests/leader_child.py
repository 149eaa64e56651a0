"""One bot instance for the two-instance test: it tries to lead, runs the week's final
job if it leads, and writes what it posted to a file. Run as a separate OS process."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.delivery import resolve
from bot.demo import fill_simulation
from jobs.leader import Leader
from jobs.schedule import JobRunner, Schedule
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.messaging.notifier import Delivered, Say
from services.rules import CommunityRules
from storage import crypto
from storage.db import create_engine, session_factory

AFTER_DEADLINE = datetime(2026, 11, 29, 15, 10, tzinfo=UTC)


class FileDelivery:
    """Writes every message it would send to a file, one line each."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, kind: str, text: str) -> None:
        with self.path.open("a") as out:
            out.write(f"{kind}\t{text.splitlines()[0]}\n")

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        for what in texts.values():
            self._write("member", resolve(what)("ko"))
        return Delivered(reached=list(texts))

    async def to_groups(self, what: Say, start_for: list[str] | None = None,
                        picture: object = None) -> int:
        self._write("group", resolve(what)("ko"))
        return 1

    async def to_admins(self, what: Say, buttons: object = None) -> None:
        self._write("admin", resolve(what)("en"))


async def main(url: str, key: str, out: Path, hold: float) -> None:
    crypto.configure_keys([key])
    engine = create_engine(url)
    sim = SimulatedInstagram()
    services = Services(session_factory(engine), CommunityRules(), lambda: AFTER_DEADLINE,
                        serialize=url.startswith("sqlite"), instagram=Instagram(sim))
    try:
        await fill_simulation(services, sim)
        jobs = WeeklyJobs(services, FileDelivery(out), clock=lambda: AFTER_DEADLINE)
        runner = JobRunner(jobs, Leader(engine), Schedule())
        await runner.watch()  # the leader catches up on the missed final check
        await runner.guarded("final", jobs.final)  # the scheduled trigger, on both
        print("leader" if runner.leader.leading else "standby", flush=True)
        await asyncio.sleep(hold)  # keep the lock while the other one tries
        await runner.leader.release()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])))
