"""Telegram throughput: the product's handlers against a bare PTB echo bot, side by side.

N simulated users (default 1, 50, 500) each send messages one after another (the next
after the reply), over real HTTP through the local Bot API emulator, to two bots run in
the same process one after the other with the same PTB settings (rate limiter, concurrency):

- echo:    a bare PTB Application that answers each text with the same text;
- product: the Autogram Telegram transport with its handlers on a fresh SQLite file
           (every update: identify the account, load the flow state, answer /help).

It prints updates/s and p50/p99 update-to-reply latency for both, and the product's ratio
to the echo bot. Both bots share the emulator's process and CPU, so the ratio is what to
read, not the absolute figures. Telegram's own 30 messages/s limit is lifted for both
(TELEGRAM_MAX_RATE): it would cap both at the same number and hide the handlers' cost.

    .venv/bin/python benchmarks/telegram_throughput.py [--users 1 50 500] [--messages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

from bot.config import load_settings
from bot.telegram import TelegramTransport
from bot.wiring import rules_from
from handlers.dispatcher import Dispatcher
from services.container import Services
from storage.db import create_engine, session_factory
from storage.migrations import upgrade
from tests.telegram_emulator import BotApiEmulator

MAX_RATE = 100_000.0
CONCURRENCY = 64
Starter = Callable[[BotApiEmulator], Awaitable[Callable[[], Awaitable[None]]]]


async def start_echo(emulator: BotApiEmulator) -> Callable[[], Awaitable[None]]:
    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = (
        Application.builder()
        .token(emulator.token)
        .base_url(f"{emulator.url}/bot")
        .rate_limiter(AIORateLimiter(overall_max_rate=MAX_RATE, max_retries=5))
        .concurrent_updates(CONCURRENCY)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()

    async def stop() -> None:
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    return stop


async def start_product(emulator: BotApiEmulator) -> Callable[[], Awaitable[None]]:
    folder = tempfile.mkdtemp(prefix="autogram-bench-")
    url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    await asyncio.to_thread(upgrade, url)
    settings = load_settings(
        telegram_token=emulator.token,
        telegram_api_url=emulator.url,
        telegram_poll_timeout=1,
        telegram_max_rate=MAX_RATE,
        telegram_concurrent_updates=CONCURRENCY,
        database_url=url,
    )
    engine = create_engine(url)
    services = Services(session_factory(engine), rules_from(settings), serialize=True)
    transport = TelegramTransport(settings, Dispatcher(services))
    await transport.start()

    async def stop() -> None:
        await transport.stop()
        await engine.dispose()

    return stop


async def drive(emulator: BotApiEmulator, users: int, per_user: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def person(user_id: int) -> None:
        for _ in range(per_user):
            sent = time.monotonic()
            await emulator.send_text(user_id, "/help")
            (reply,) = await emulator.wait_for(user_id, timeout=60)
            latencies.append(reply["received_at"] - sent)

    started = time.monotonic()
    await asyncio.gather(*(person(10_000 + n) for n in range(users)))
    return len(latencies) / (time.monotonic() - started), latencies


async def measure(start: Starter, users: int, per_user: int) -> tuple[float, float, float]:
    async with BotApiEmulator() as emulator:
        stop = await start(emulator)
        try:
            await drive(emulator, min(users, 5), 1)  # warm up: connections, first contact
            rate, latencies = await drive(emulator, users, per_user)
        finally:
            await stop()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return rate, cuts[49] * 1000, cuts[98] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 50, 500])
    parser.add_argument("--messages", type=int, default=400, help="messages per round, about")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    print(f"{'users':>6} {'bot':>8} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for users in args.users:
        per_user = max(2, args.messages // users)
        echo = await measure(start_echo, users, per_user)
        product = await measure(start_product, users, per_user)
        for name, (rate, p50, p99) in (("echo", echo), ("product", product)):
            print(f"{users:>6} {name:>8} {rate:>10.1f} {p50:>8.1f} {p99:>8.1f}")
        print(
            f"{users:>6} {'ratio':>8} {product[0] / echo[0]:>10.2f} {product[1] / echo[1]:>8.2f} "
            f"{product[2] / echo[2]:>8.2f}   (product / echo; target at 500 users: "
            "throughput >= 0.5, p99 <= 3.0)"
        )


if __name__ == "__main__":
    asyncio.run(main())
