"""The two bots the Telegram benchmark measures, each run alone in this process.

- product: `autogram`'s Telegram transport with its handlers and services, wired as
  `autogram run` wires them (bot.wiring.open_services), on the given database.
- peer: a plain python-telegram-bot bot written here that does the database work a chat
  bot needs for each update and no more: it looks up the person's chat account, reads
  and writes their conversation row, does the path's own work (a link: insert the
  submission; /status: read the week's submissions and the person's verdicts, and list
  as many posts as the product does, in as many messages) and answers with the same
  kind of keyboard. Same PTB settings (rate limiter, concurrency,
  polling) and the same database.

Protocol: prints `ready` once polling, runs until a line `stop` arrives on standard
input, then prints one JSON line: CPU seconds since ready and the peak memory (VmHWM).

    .venv/bin/python benchmarks/telegram_bots.py --bot peer --api URL --database-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import re
import resource
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

from bot.config import load_settings
from bot.telegram import TelegramTransport
from bot.wiring import open_services
from handlers.dispatcher import Dispatcher
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import ChatAccount, ConversationState, Submission, Verification

TOKEN = "123456:TEST-TOKEN"
MAX_RATE = 100_000.0  # Telegram's 30/s would cap both bots alike and hide their cost
CONCURRENCY = 64
SHORTCODE = re.compile(r"instagram\.com/p/([A-Za-z0-9_-]+)")
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("🔄 지금 확인", callback_data="/check"),
                                  InlineKeyboardButton("링크 제출", callback_data="/submit")]])
STATUS_LINES = 100  # posts /status lists, as the product does (handlers/member_week.py)
HELP = "\n".join(["📖 사용할 수 있는 명령", *(f"/command{n} — 설명이 들어가는 한 줄입니다"
                                              for n in range(14)), "", "키워드도 됩니다"])


def peak_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


def _chunks(text: str, limit: int = 4096) -> list[str]:
    """Telegram's message limit: whole lines to a message."""
    chunks, current = [], ""
    for line in text.split("\n"):
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    return [*chunks, current]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_peer(api: str, database_url: str, stopped: asyncio.Event) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    insert = sqlite.insert if is_sqlite(database_url) else postgresql.insert
    one_writer = asyncio.Lock() if is_sqlite(database_url) else None

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        text, now = message.text or "", datetime.now(UTC)
        async with one_writer or _nothing(), sessions() as session, session.begin():
            member_id = await session.scalar(select(ChatAccount.member_id).where(
                ChatAccount.platform == "telegram", ChatAccount.platform_user_id == str(user.id)))
            state = await session.scalar(select(ConversationState).where(
                ConversationState.platform == "telegram",
                ConversationState.platform_user_id == str(user.id)))
            if state is None:
                session.add(ConversationState(
                    platform="telegram", platform_user_id=str(user.id), flow="menu",
                    step="idle", data={}, expires_at=now + timedelta(minutes=30),
                    updated_at=now))
            else:
                state.updated_at, state.data = now, {"last": text[:32]}
            week = (now + timedelta(hours=9)).date()
            week -= timedelta(days=week.weekday())
            found = SHORTCODE.search(text)
            if found and member_id is not None:
                await session.execute(insert(Submission).values(
                    member_id=member_id, week_start=week, url=text, shortcode=found.group(1),
                    source="chat", submitted_at=now, created_at=now, status="active",
                ).on_conflict_do_nothing(index_elements=["week_start", "shortcode"]))
                reply, keyboard = f"✅ 제출했어요: {text}", KEYBOARD
            elif text == "/status" and member_id is not None:
                posts = (await session.execute(select(Submission.id, Submission.url).where(
                    Submission.week_start == week))).all()
                done = (await session.execute(select(Verification.submission_id).where(
                    Verification.member_id == member_id))).all()
                reply = f"📋 이번 주 내 현황: {len(done)} / {len(posts)}\n" + "\n".join(
                    f"⏳ {url}" for _, url in posts[:STATUS_LINES])
                keyboard = KEYBOARD
            else:
                reply, keyboard = HELP, None
        chunks = _chunks(reply)  # as long a list as the product's, in as many messages
        for chunk in chunks[:-1]:
            await message.reply_text(chunk)
        await message.reply_text(chunks[-1], reply_markup=keyboard)

    app = (Application.builder().token(TOKEN).base_url(f"{api}/bot")
           .rate_limiter(AIORateLimiter(overall_max_rate=MAX_RATE, max_retries=5))
           .concurrent_updates(CONCURRENCY).build())
    app.add_handler(MessageHandler(filters.TEXT, answer))
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    try:
        await _ready_until(stopped)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await engine.dispose()


async def run_product(api: str, database_url: str, stopped: asyncio.Event) -> None:
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=api, telegram_poll_timeout=1,
        telegram_max_rate=MAX_RATE, telegram_concurrent_updates=CONCURRENCY,
        database_url=database_url, encryption_keys=Fernet.generate_key().decode())
    async with open_services(settings) as services:
        transport = TelegramTransport(settings, Dispatcher(services))
        await transport.start()
        try:
            await _ready_until(stopped)
        finally:
            await transport.stop()


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_exc: object) -> None:
        return None


READY_CPU = [0.0]  # CPU seconds spent before polling began (imports, start-up)


async def _ready_until(stopped: asyncio.Event) -> None:
    READY_CPU[0] = cpu_seconds()
    print("ready", flush=True)
    await stopped.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bot", choices=("product", "peer"), required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        loop.call_soon_threadsafe(stopped.set)

    waiting = loop.run_in_executor(None, wait_for_stop)
    runner = run_product if args.bot == "product" else run_peer
    profile = os.environ.get("BENCH_PROFILE")  # a file: where this bot's profile goes
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    await runner(args.api, args.database_url, stopped)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{args.bot}")
    await waiting
    print(json.dumps({"cpu": cpu_seconds() - READY_CPU[0], "peak_kb": peak_kb()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
