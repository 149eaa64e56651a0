"""The benchmarks' bot: `autogram run` itself (`bot.app.run`: Telegram, the Kakao endpoint,
the web pages, the scheduler), in the benchmark's process, on the Instagram it gives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from services.container import Services
from services.instagram.runtime import Instagram


@dataclass
class RunningBot:
    """The bot as it runs: its container once it is built, and a way to stop it."""

    held: dict[str, Services]
    stopping: asyncio.Event
    task: asyncio.Task[None]

    @property
    def services(self) -> Services:
        return self.held["services"]

    async def load_pool(self) -> None:
        """The helper pool, as in a process that has checked once since it started."""
        async with self.services.transaction() as tx:
            await tx.helpers.load_pool()

    async def stop(self) -> None:
        """Ask the bot to stop as SIGTERM would, and give it a minute to."""
        self.stopping.set()
        await asyncio.wait({self.task}, timeout=60)


def start_bot(settings: Any, instagram: Instagram) -> RunningBot:
    """`bot.app.run` with `instagram` in place of the configured one (the composition
    root is the production one; only its Instagram argument is the benchmark's)."""
    import bot.app as app_module

    held: dict[str, Services] = {}
    production = app_module.open_services

    @asynccontextmanager
    async def with_instagram(settings: Any, _instagram: Any = None) -> AsyncIterator[Any]:
        async with production(settings, instagram) as services:
            held["services"] = services
            yield services

    app_module.open_services = with_instagram  # type: ignore[assignment]
    stopping = asyncio.Event()
    return RunningBot(held, stopping, asyncio.create_task(app_module.run(settings, stopping)))
