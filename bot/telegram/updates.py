"""The record of Telegram updates: each one is written to the database before Telegram
is told it arrived, polled batches are acknowledged only then, and updates a crashed
instance left unfinished are taken up again.

A polled text or button is recorded by the very transaction that handles it (one
transaction an update, not two; a crash before its commit leaves it unacknowledged, so
Telegram sends it again); anything else, or one still waiting after `commit_wait`, is
recorded first. An update handled already is not run again; one recorded but not
finished (a crash, a restart) is taken up again once its claim is stale
(`stale_after`), by one instance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import Application, ContextTypes

from bot.telegram.api import PLATFORM
from bot.telegram.update_record import storable_id
from services.container import Services

log = logging.getLogger(__name__)
# Sends an answer a crashed instance queued and never sent (row id, answer, now).
Resend = Callable[[int, dict[str, Any], datetime], Awaitable[None]]


class UpdateFeed:
    """Updates in, recorded before they are acknowledged, each run once."""

    def __init__(self, app: Application, services: Services, resend: Resend, *,
                 poll_timeout: int, stale_after: float, commit_wait: float) -> None:
        self.app = app
        self.services = services
        self.resend = resend
        self.poll_timeout = poll_timeout
        # Seconds after which an update recorded but not finished is taken up again.
        self.stale_after = stale_after
        # Seconds a poll waits for a text's or button's handling to commit.
        self.commit_wait = commit_wait
        # Updates the dispatcher marks handled itself (see finished).
        self.marked: set[int] = set()
        # Polled updates whose handling's commit the poll waits for (see take_batch).
        self.committing: dict[int, asyncio.Future[None]] = {}

    async def record(self, update_id: int, body: dict[str, Any]) -> bool:
        async with self.services.transaction() as tx:
            return await tx.updates.record(update_id, body, tx.now())

    async def finished(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """After the handlers: an update the dispatcher handled was taken in its own
        transaction; any other (a group message not for us, an edit) is taken here."""
        if update.update_id in self.marked:
            self.marked.discard(update.update_id)
            return
        async with self.services.transaction() as tx:
            await tx.updates.take(update.update_id, tx.now())
        self.settle(update.update_id)

    def settle(self, update_id: int) -> None:
        """This update's handling is committed: the poll may acknowledge it."""
        waiting = self.committing.pop(update_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    @staticmethod
    def runs_at_once(update: Update) -> bool:
        """A text or a button: its handling starts now and is quick, so its record is
        written by the handling's own transaction. Others (a file to download) are
        recorded first."""
        message = update.message
        return update.callback_query is not None or (
            message is not None and message.text is not None)

    async def poll(self) -> None:
        """getUpdates in a loop; a batch is acknowledged (by asking for the next one)
        only once each of its updates is recorded: a text or a button by its handling's
        own committed transaction (one transaction an update), any other, or one whose
        handling has not committed within `commit_wait`, by a record of its own."""
        offset: int | None = None
        while True:
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout,
                    allowed_updates=["message", "callback_query"])
                if updates:
                    await self.take_batch(list(updates))
                    offset = updates[-1].update_id + 1
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(float(exc.retry_after))  # type: ignore[arg-type]
            except Exception as exc:  # Telegram or the database away: try again soon
                log.warning("Telegram polling error: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def take_batch(self, updates: list[Update]) -> None:
        """Run a batch and return once each of its updates is recorded (one whose id no
        database column holds is skipped, with a log: it could never be recorded)."""
        odd = [u.update_id for u in updates if not storable_id(u.update_id)]
        if odd:
            log.warning("skipped Telegram updates with out-of-range ids: %s", odd)
            updates = [u for u in updates if storable_id(u.update_id)]
        later = [u for u in updates if not self.runs_at_once(u)]
        fresh = {u.update_id for u in await self.record_all(later)} if later else set()
        loop = asyncio.get_running_loop()
        waits: dict[int, asyncio.Future[None]] = {}
        for update in updates:
            if self.runs_at_once(update):
                waits[update.update_id] = self.committing[update.update_id] = \
                    loop.create_future()
            elif update.update_id not in fresh:
                continue  # recorded before: a redelivery
            await self.app.update_queue.put(update)
        if not waits:
            return
        await asyncio.wait(waits.values(), timeout=self.commit_wait)
        slow = [u for u in updates if u.update_id in waits and not waits[u.update_id].done()]
        if slow:  # waiting on that person's earlier update: recorded now, run when free
            for update in slow:
                self.committing.pop(update.update_id, None)
            await self.record_all(slow)

    async def record_all(self, updates: list[Update]) -> list[Update]:
        """Record updates in one transaction (committed before any runs); the fresh ones."""
        async with self.services.transaction() as tx:
            return [u for u in updates if await tx.updates.record(
                u.update_id, u.to_dict(), tx.now())]

    async def take_up_stale(self) -> None:
        """Answers queued but never sent, and updates recorded but never finished (their
        instance crashed): send and run them now."""
        async with self.services.transaction() as tx:
            now = tx.now()
            unsent = await tx.outbox.claim_unsent(
                PLATFORM, now - timedelta(seconds=self.stale_after), now)
        for row_id, item in unsent:
            await self.resend(row_id, item, now)
        async with self.services.transaction() as tx:
            now = tx.now()
            stale = await tx.updates.claim_stale(
                now - timedelta(seconds=self.stale_after), now)
            await tx.updates.forget_before(now - timedelta(days=2))
        for _update_id, body in stale:
            update = Update.de_json(body, self.app.bot)
            if update is not None:
                await self.app.update_queue.put(update)
        if stale:
            log.info("took up %d Telegram updates left unfinished", len(stale))

    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(max(5.0, self.stale_after / 2))
            try:
                await self.take_up_stale()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not take up unfinished Telegram updates")
