"""Open-chat import speed: the product against a plain importer written here, side by side.

The workload is an Android export (the most common phone in Korea) of a community of 300
members over as many weeks as the lines take: each member hands in two or three links a
week (the link and a `이름 (n/3)` line), chats, and the open chat's bot and joins add
system lines; a few links go over the quota. Most links are accepted.

- product: what the bot does with an uploaded export: `read_digest_off_loop` (decode, the
  layout detected, every line parsed, in the upload worker process) and
  `OpenChatImporter.run` (attribution, quota, repost and deadline rules, one bulk INSERT)
  in one transaction.
- peer: a plain importer: one regex over the lines, continuation lines appended, the
  `@id` of the nickname, the shortcodes found by a second regex, and one
  `INSERT ... ON CONFLICT DO NOTHING` of every row; no rules, no report.

Both write to the same table of the same database (emptied before each run, untimed).
Runs alternate, five of each by default; the medians, their spread, lines per second and
the ratio product / peer are printed, with the goal (within 2x of the peer) met or not.

    .venv/bin/python benchmarks/kakao_import.py [--lines 20000 100000] [--runs 5]
        [--database-url postgresql://postgres@localhost/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from services.container import Services
from services.members.queries import MemberRepo
from services.open_chat.importer import read_digest_off_loop
from services.rules import CommunityRules
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrations import upgrade
from storage.models import AuditEntry, Member, Submission
from testkit.kakao_export_builder import ExportBuilder

ZONE = ZoneInfo("Asia/Seoul")
MEMBERS = [f"member_{n:03d}" for n in range(300)]
GOAL = 2.0  # the product within 2x of the peer's time


def build(lines: int) -> tuple[str, int]:
    """The export and how many links it holds."""
    export = ExportBuilder("android", title="sns키우기")
    week = datetime(2025, 1, 6, 8, 0)  # a Monday
    links = 0
    n = 0
    while len(export.lines) < lines:
        moment = week
        for member_no, member in enumerate(MEMBERS):
            share = 2 + (member_no + n) % 2 + (1 if member_no % 37 == 0 else 0)  # some go over
            for k in range(share):
                export.message(moment, f"이름{member_no} @{member}",
                               f"https://www.instagram.com/p/C{n:04d}{member_no:03d}{k}x/"
                               f"?igsh=MTc4MmM1YmI2Ng==\n이름{member_no} ({k + 1}/3)")
                links += 1
                moment += timedelta(seconds=97)
            if member_no % 5 == 0:
                export.message(moment, f"이름{member_no} @{member}",
                               "댓글 다 달았어요 👍\n오늘도 화이팅\n감사합니다")
            if member_no % 50 == 0:
                export.system(moment, "bot")
                export.system(moment, "join")
            if len(export.lines) >= lines:
                break
        week += timedelta(days=7)
        n += 1
    return export.text(), links


LINE = re.compile(r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일 (오전|오후) (\d{1,2}):(\d{2}), "
                  r"(.+?) : (.*)$")
SHORTCODE = re.compile(r"instagram\.com/(?:p|reel)/([A-Za-z0-9_-]+)")


def peer_rows(body: str, members: dict[str, int]) -> list[dict[str, object]]:
    """The plain importer's parse: a regex a line, the links of each message."""
    messages: list[list[object]] = []
    for line in body.split("\n"):
        match = LINE.match(line)
        if match:
            y, mo, d, half, h, mi, nickname, words = match.groups()
            hour = int(h) % 12 + (12 if half == "오후" else 0)
            when = datetime(int(y), int(mo), int(d), hour, int(mi), tzinfo=ZONE)
            messages.append([when, nickname, words])
        elif messages:
            messages[-1][2] = f"{messages[-1][2]}\n{line}"
    rows: list[dict[str, object]] = []
    now = datetime.now(UTC)
    for when, nickname, words in messages:
        assert isinstance(when, datetime) and isinstance(nickname, str)
        member_id = members.get(nickname.rsplit("@", 1)[-1].strip().lower())
        if member_id is None:
            continue
        local = when.date()
        for code in SHORTCODE.findall(str(words)):
            rows.append({"member_id": member_id, "week_start": local - timedelta(local.weekday()),
                         "url": f"https://www.instagram.com/p/{code}/", "shortcode": code,
                         "source": "kakao", "submitted_at": when, "created_at": now,
                         "status": "active"})
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (a throw-away database is made on it); "
                             "default: a SQLite file")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    figures: list[dict[str, object]] = []
    url, drop = await _database(args.database_url)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    services = Services(session_factory(engine), CommunityRules(),
                        lambda: datetime(2027, 1, 1, tzinfo=UTC), serialize=is_sqlite(url))
    async with services.transaction() as tx:
        for name in MEMBERS:
            await MemberRepo(tx.session).add(name, joined_at=datetime(2024, 1, 1, tzinfo=UTC))
        rows = await tx.session.execute(select(Member.instagram_username, Member.id))
        members = dict(rows.all())
    dialect_insert = sqlite.insert if is_sqlite(url) else postgresql.insert
    warm, _ = build(10)
    await read_digest_off_loop(warm.encode(), "x.txt", ZONE, None)  # the worker started

    async def empty() -> None:
        async with services.transaction() as tx:
            await tx.session.execute(delete(Submission))
            await tx.session.execute(delete(AuditEntry))

    async def product(data: bytes) -> int:
        found = await read_digest_off_loop(data, "KakaoTalkChats.txt", ZONE, None)
        async with services.transaction() as tx:
            report = await tx.open_chat.run(found, None, "KakaoTalkChats.txt")
        return report.added

    async def peer(data: bytes) -> int:
        rows = peer_rows(data.decode("utf-8-sig"), members)
        async with services.transaction() as tx:
            await tx.session.execute(dialect_insert(Submission).on_conflict_do_nothing(
                index_elements=["week_start", "shortcode"]), rows)
        return len(rows)

    print(f"database: {'SQLite' if is_sqlite(url) else 'PostgreSQL'}; {args.runs} alternating "
          f"runs each; medians (min-max)")
    print(f"{'lines':>8} {'links':>7} {'added':>7} {'peer s':>18} {'product s':>18} "
          f"{'product lines/s':>16} {'ratio':>6}  goal <= {GOAL}x")
    for lines in args.lines:
        body, links = build(lines)
        data = body.encode()
        times: dict[str, list[float]] = {"peer": [], "product": []}
        added = 0
        for _ in range(args.runs):
            for name, run in (("peer", peer), ("product", product)):
                await empty()
                started = time.perf_counter()
                count = await run(data)
                times[name].append(time.perf_counter() - started)
                if name == "product":
                    added = count
        peer_s, product_s = (statistics.median(times[k]) for k in ("peer", "product"))
        ratio = product_s / peer_s
        print(f"{lines:>8} {links:>7} {added:>7} {_spread(times['peer']):>18} "
              f"{_spread(times['product']):>18} {lines / product_s:>16,.0f} {ratio:>6.2f}  "
              f"{'met' if ratio <= GOAL else 'MISSED'}")
        figures.append({"lines": lines, "links": links, "added": added, "peer": times["peer"],
                     "product": times["product"], "lines_per_s": lines / product_s,
                     "ratio": ratio, "met": ratio <= GOAL})
    await engine.dispose()
    await drop()
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps({
            "database": "SQLite" if is_sqlite(url) else "PostgreSQL", "runs": args.runs,
            "goal": GOAL, "rows": figures}, indent=1))


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


async def _database(server: str):  # type: ignore[no-untyped-def]
    """A fresh database: a SQLite file, or a throw-away one on the PostgreSQL server."""
    if not server:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

        async def nothing() -> None:
            return None

        return url, nothing
    import uuid

    from sqlalchemy.engine import make_url

    from storage.db import async_url

    name = f"autogram_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(async_url(server)).set(database="postgres")
                          .render_as_string(hide_password=False))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(async_url(server)).set(database=name).render_as_string(
        hide_password=False), drop


if __name__ == "__main__":
    asyncio.run(main())
