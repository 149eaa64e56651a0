"""Open-chat import speed: a 10,000-line export, against reading the same lines in one run.

Prints the time to parse the file, to import it into a fresh SQLite database, and to
re-import it (all duplicates), each as a ratio to a baseline measured side by side:
splitting the same text into lines and matching each against the message pattern.

    .venv/bin/python benchmarks/kakao_import.py [--lines 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.container import Services
from services.kakao_export import PHONE_MESSAGE, parse_export
from services.rules import CommunityRules
from storage.db import create_engine, session_factory
from storage.migrations import upgrade
from storage.repositories.members import MemberRepo
from tests.kakao_export_builder import ExportBuilder

MEMBERS = [f"member_{n:03d}" for n in range(60)]


def build(lines: int) -> str:
    """Weeks of chat: links with counters, chatter, multi-line messages, system lines."""
    export = ExportBuilder("phone")
    moment = datetime(2025, 9, 1, 8, 0)
    n = 0
    while len(export.lines) < lines:
        member = MEMBERS[n % len(MEMBERS)]
        if n % 4 == 0:
            export.message(moment, f"이름{n % 60} @{member}",
                           f"https://www.instagram.com/p/POST{n:06d}/?igsh=x\n이름 ({n % 3 + 1}/3)")
        elif n % 4 == 1:
            export.message(moment, f"이름{n % 60} / {member}", "댓글 완료했어요 👍\n오늘도 화이팅")
        elif n % 4 == 2:
            export.message(moment, "오픈채팅봇", "오늘의 과제는 오늘 해결하기!")
        else:
            export.system(moment, f"이름{n}님이 들어왔습니다.")
        moment += timedelta(minutes=7)
        n += 1
    return export.text()


def timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    text = build(args.lines)
    zone = ZoneInfo("Asia/Seoul")

    baseline = timed(lambda: [PHONE_MESSAGE.match(line) for line in text.split("\n")])
    parse = timed(lambda: parse_export(text, zone))

    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    services = Services(session_factory(engine), CommunityRules(),
                        lambda: datetime(2026, 1, 1, tzinfo=UTC), serialize=True)
    async with services.transaction() as tx:
        for name in MEMBERS:
            await MemberRepo(tx.session).add(name)

    async def run_import() -> tuple[float, int]:
        started = time.perf_counter()
        async with services.transaction() as tx:
            report = await tx.open_chat.import_file(text.encode(), "bench.txt", tx.now(), None)
        return time.perf_counter() - started, report.added

    first, added = await run_import()
    again, _ = await run_import()
    await engine.dispose()
    print(f"{args.lines} lines, {added} submissions added")
    print(f"{'step':<22} {'seconds':>8} {'x baseline':>11}")
    for name, seconds in (("baseline (split+match)", baseline), ("parse", parse),
                          ("import (SQLite)", first), ("re-import (no-op)", again)):
        print(f"{name:<22} {seconds:>8.3f} {seconds / baseline:>11.1f}")


if __name__ == "__main__":
    asyncio.run(main())
