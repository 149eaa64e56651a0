"""The Telegram benchmark's load: the local Bot API emulator and the simulated users, in a
process of their own, so the bots measured do not share their CPU or event loop with it.

Protocol on standard input/output (driven by benchmarks/telegram_throughput.py): prints
`URL <api root>`, waits for a line `go`, then sends the messages (each user the next one
after the reply to the last), prints one JSON line with the rate and the latencies, and
exits after a line `bye` (once the bot has stopped: its last poll still reaches us).

    .venv/bin/python benchmarks/telegram_load.py --users 50 --per-user 8 --path help
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.telegram_emulator import BotApiEmulator

FIRST_USER = 10_000


def message(path: str, user: int, n: int) -> str:
    """What user `user` sends the `n`-th time on `path`."""
    if path == "help":
        return "/help"
    if path == "status":
        return "/status"
    return f"https://www.instagram.com/p/B{user}x{n:04d}/"  # a link submission


async def drive(emulator: BotApiEmulator, users: int, per_user: int, path: str,
                first: int = 0) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def person(user_id: int) -> None:
        for n in range(per_user):
            sent = time.monotonic()
            await emulator.send_text(user_id, message(path, user_id, first + n))
            (reply,) = await emulator.wait_for(user_id, timeout=120)
            while path == "status" and not reply.get("reply_markup"):
                # A long to-do list comes in several messages, the buttons on the last.
                (reply,) = await emulator.wait_for(user_id, timeout=120)
            latencies.append(reply["received_at"] - sent)

    started = time.monotonic()
    await asyncio.gather(*(person(FIRST_USER + u) for u in range(users)))
    return len(latencies) / (time.monotonic() - started), latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--per-user", type=int, required=True)
    parser.add_argument("--path", choices=("help", "link", "status"), required=True)
    args = parser.parse_args()
    async with BotApiEmulator() as emulator:
        print(f"URL {emulator.url}", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go": the bot is polling
        await drive(emulator, min(args.users, 5), 1, args.path, first=9000)  # warm up
        rate, latencies = await drive(emulator, args.users, args.per_user, args.path)
        print(json.dumps({"rate": rate, "latencies": latencies}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "bye": the bot has stopped polling


if __name__ == "__main__":
    asyncio.run(main())
