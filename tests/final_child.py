"""One bot process running the week's final job, writing each message it sends to a
file, one line each, `pause` seconds apart: the test kills it (SIGKILL) mid-way through
the private results and starts another. Run as a separate OS process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.delivery import resolve
from bot.demo import fill_simulation
from jobs import weekly_loop as weekly
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.messaging.notifier import Delivered, Say
from services.rules import CommunityRules
from storage import crypto
from storage.db import create_engine, session_factory
from tests.leader_child import AFTER_DEADLINE


class SlowFileDelivery:
    def __init__(self, path: Path, pause: float) -> None:
        self.path, self.pause = path, pause

    def _write(self, line: str) -> None:
        with self.path.open("a") as out:
            out.write(line + "\n")

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        for member_id, what in texts.items():
            self._write(f"member\t{member_id}\t{resolve(what)('ko').splitlines()[0]}")
            await asyncio.sleep(self.pause)
        return Delivered(reached=list(texts))

    async def to_groups(self, what: Say, start_for: list[str] | None = None,
                        picture: object = None) -> int:
        self._write(f"group\t{resolve(what)('ko').splitlines()[0]}")
        return 1

    async def to_admins(self, what: Say, buttons: object = None) -> None:
        self._write(f"admin\t{resolve(what)('en').splitlines()[0]}")


async def main(url: str, key: str, out: Path, pause: float) -> None:
    crypto.configure_keys([key])
    engine = create_engine(url)
    sim = SimulatedInstagram()
    services = Services(session_factory(engine), CommunityRules(), lambda: AFTER_DEADLINE,
                        serialize=url.startswith("sqlite"), instagram=Instagram(sim))
    weekly.SEND_BATCH = 1  # each private result recorded as it goes out
    try:
        await fill_simulation(services, sim)
        await WeeklyJobs(services, SlowFileDelivery(out, pause),
                         clock=lambda: AFTER_DEADLINE).final()
        print("finished", flush=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])))
