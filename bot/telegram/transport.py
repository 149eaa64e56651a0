"""The Telegram transport: one python-telegram-bot Application inside our event loop,
driven with initialize / start (never run_polling), so it shares the loop with the web
app. It turns updates into events for the dispatcher, one person at a time, and sends
the answers; it is a `Channel` for jobs and services (bot/channels.py).

An update's answer is queued in the outbox by the transaction that marks it handled,
sent right after the commit and then marked sent (its row deleted): a crash between the
commit and the sending leaves the row, which a restart (or the sweep, once it is stale)
sends. An answer can so be sent twice after a crash, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels import Capabilities, outgoing_reply
from bot.config import Settings
from bot.telegram.answers import answer_item, reply_from_plain
from bot.telegram.api import PLATFORM, with_retries
from bot.telegram.incoming import button_event, document_event, message_event
from bot.telegram.menus import set_admin_menu, set_menus
from bot.telegram.render import TELEGRAM, ProgressMessage, delete_secret, send_reply
from bot.telegram.updates import UpdateFeed
from bot.telegram.webhook import WEBHOOK_PATH, Webhook
from handlers.dispatcher import Dispatcher, Outcome
from handlers.events import Incoming, Reply
from handlers.i18n import t
from services.members.chat_accounts import language_from_hint
from services.messaging.notifier import BroadcastReport, Outgoing

log = logging.getLogger(__name__)
UNSENT_TTL = timedelta(days=1)  # an answer still unsent after this is dropped


class TelegramTransport:
    """The Telegram side of the bot: receives updates, sends replies, paces broadcasts."""

    platform = PLATFORM
    capabilities: Capabilities = TELEGRAM
    outbox: None = None  # Telegram can always push: nothing waits

    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        admin_accounts: Callable[[], Awaitable[list[tuple[str, str, str]]]] | None = None,
        *, stale_after: float = 120.0, commit_wait: float = 2.0,
    ) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.services = dispatcher.services
        self.admin_accounts = admin_accounts
        self.webhook_mode = settings.webhook_mode
        self._tasks: list[asyncio.Task[None]] = []
        builder = (
            Application.builder()
            .token(settings.telegram_token.get_secret_value())
            .base_url(f"{settings.telegram_api_url}/bot")
            .base_file_url(f"{settings.telegram_api_url}/file/bot")
            .rate_limiter(
                AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=5)
            )
            .concurrent_updates(settings.telegram_concurrent_updates)
        )
        builder = builder.updater(None)  # polling is ours: it records before it acknowledges
        self.app = builder.build()
        self.feed = UpdateFeed(self.app, self.services, self._resend,
                               poll_timeout=settings.telegram_poll_timeout,
                               stale_after=stale_after, commit_wait=commit_wait)
        self.webhook = Webhook(self.app, self.feed,
                               settings.telegram_webhook_secret.get_secret_value())
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_handler(MessageHandler(filters.TEXT, self._on_message))
        self.app.add_handler(
            MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, self._on_document)
        )
        self.app.add_handler(TypeHandler(Update, self.feed.finished), group=1)  # after those
        self.app.add_error_handler(self._on_error)
        # Updates of one user are handled in order, different users concurrently.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._pacer = asyncio.Semaphore(1)
        self.username = ""

    @property
    def commit_wait(self) -> float:
        """Seconds a poll waits for a text's handling to commit before recording it."""
        return self.feed.commit_wait

    @commit_wait.setter
    def commit_wait(self, seconds: float) -> None:
        self.feed.commit_wait = seconds

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        await with_retries(self.app.initialize)
        self.username = self.app.bot.username
        # Invites become one-tap deep links: t.me/<bot>?start=CODE.
        self.dispatcher.invite_links[PLATFORM] = f"https://t.me/{self.username}?start={{code}}"
        await set_menus(self.app.bot, self.services, self.dispatcher.registry,
                        self.admin_accounts)
        if self.webhook_mode:
            await with_retries(
                lambda: self.app.bot.set_webhook(
                    url=f"{self.settings.telegram_webhook_url}{WEBHOOK_PATH}",
                    secret_token=self.settings.telegram_webhook_secret.get_secret_value(),
                    allowed_updates=["message", "callback_query"],
                )
            )
        else:
            await with_retries(self.app.bot.delete_webhook)
        await self.app.start()
        await self.feed.take_up_stale()
        self._tasks.append(asyncio.create_task(self.feed.sweep()))
        if not self.webhook_mode:
            self._tasks.append(asyncio.create_task(self.feed.poll()))
        log.info("Telegram bot @%s started (%s)", self.username,
                 "webhook" if self.webhook_mode else "polling")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def add_routes(self, web_app: web.Application) -> None:
        self.webhook.add_routes(web_app)

    # --- incoming ------------------------------------------------------------------

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        event = message_event(update, self.username)
        if event is not None:
            await self._handle(event)

    async def _on_document(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        event = await document_event(update)
        if event is not None:
            await self._handle(event)

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        event = await button_event(update)
        if event is not None:
            await self._handle(event)

    async def _handle(self, event: Incoming) -> None:
        if event.delivery_id is not None:  # the dispatcher marks it handled
            self.feed.marked.add(event.delivery_id)
        key = int(event.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            outcome = await self.dispatcher.handle(event, defer=True, queue=self._queue)
            if event.delivery_id is not None:
                self.feed.settle(event.delivery_id)  # committed: the poll may acknowledge it
            if outcome.queued is not None:
                row_id, item = outcome.queued
                progress_id = await self._send_queued(row_id, item)
            else:
                progress_id = await self.deliver(event, outcome)
        if outcome.deferred:  # long work: the user's chat stays usable meanwhile
            chat_id = int(event.chat_id)
            meter = ProgressMessage(self.app.bot, chat_id, progress_id)
            for reply in await self.dispatcher.finish(outcome, meter.show):
                await self.send_reply(chat_id, reply)

    # --- the outbox: answers queued with the update's handling ------------------------

    async def _queue(self, tx: Any, event: Incoming, outcome: Outcome
                     ) -> tuple[int, dict[str, Any]] | None:
        """In the transaction that marks the update handled: its answer, in the outbox."""
        item = answer_item(event, outcome, tx.now())
        if not item["replies"] and not item["menu"]:
            return None  # nothing to say (a redelivery, a group message not for us)
        return await tx.outbox.queue(PLATFORM, event.user_id, item), item

    async def _send_queued(self, row_id: int, item: dict[str, Any]) -> int | None:
        """Send a queued answer, then mark it sent. One Telegram refuses for good (the
        user blocked the bot) is marked sent too; a network failure leaves it queued."""
        try:
            progress_id = await self._send_item(item)
        except (Forbidden, BadRequest) as exc:
            log.warning("an answer to chat %s was refused: %s", item.get("chat_id"), exc)
            await self._mark_sent(row_id)
            raise
        await self._mark_sent(row_id)
        return progress_id

    async def _mark_sent(self, row_id: int) -> None:
        async with self.services.transaction() as tx:
            await tx.outbox.sent(row_id)

    async def _resend(self, row_id: int, item: dict[str, Any], now: datetime) -> None:
        """An answer a crashed instance queued and never sent."""
        queued_at = datetime.fromisoformat(str(item.get("queued_at")))
        if now - queued_at > UNSENT_TTL:
            log.warning("dropped an answer to chat %s unsent since %s",
                        item.get("chat_id"), queued_at)
            await self._mark_sent(row_id)
            return
        try:
            await self._send_queued(row_id, item)
        except TelegramError as exc:
            log.warning("a queued answer to chat %s was not sent: %s", item.get("chat_id"), exc)

    # --- outgoing ------------------------------------------------------------------

    async def deliver(self, event: Incoming, outcome: Outcome) -> int | None:
        """Send the replies; returns the message id of a progress reply, if any."""
        return await self._send_item(answer_item(event, outcome, None))

    async def _send_item(self, item: dict[str, Any]) -> int | None:
        """Send an answer as queued; returns the message id of a progress reply, if any."""
        chat_id = int(item["chat_id"])
        replies = [reply_from_plain(r) for r in item["replies"]]
        message_id = item.get("message_id")
        if message_id and any(r.delete_incoming for r in replies):
            # A password: gone from the chat before anything else is said.
            await delete_secret(self.app.bot, chat_id, int(message_id))
        if item.get("menu"):
            language, member = item["menu"]  # ready when they read on
            await set_admin_menu(self.app.bot, self.dispatcher.registry, chat_id, language,
                                 member=member)
        progress_id = None
        for reply in replies:
            sent = await self.send_reply(chat_id, reply)
            if reply.progress and sent is not None:
                progress_id = sent
        return progress_id

    async def send_reply(self, chat_id: int, reply: Reply) -> int | None:
        """Send one reply (split to fit); returns the id of its last text message."""
        return await send_reply(self.app.bot, chat_id, reply)

    @property
    def start_link(self) -> str | None:
        """Opens a private chat with the bot, for members it cannot message yet."""
        return f"https://t.me/{self.username}" if self.username else None

    async def post(self, chat_id: str, reply: Reply) -> bool:
        """A job's message to a person or a group chat (split to fit); False when the
        person blocked or never started the bot, or the bot was removed from the group."""
        try:
            await self.send_reply(int(chat_id), reply)
        except Forbidden:
            return False
        except TelegramError as exc:
            log.warning("posting to chat %s failed: %s", chat_id, exc)
            return False
        return True

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        """Many chats, one at a time at the broadcast rate, so replies to people who
        are chatting right now keep the rest of Telegram's budget."""
        report = BroadcastReport(unreachable=[], failed=[])
        interval = 1.0 / self.settings.telegram_broadcast_rate
        async with self._pacer:  # one broadcast at a time
            for message in messages:
                try:
                    await self.send_reply(int(message.chat_id), outgoing_reply(message))
                    report.sent += 1
                except Forbidden:
                    report.unreachable.append(message.chat_id)  # type: ignore[union-attr]
                except TelegramError as exc:
                    log.warning("broadcast to %s failed: %s", message.chat_id, exc)
                    report.failed.append(message.chat_id)  # type: ignore[union-attr]
                await asyncio.sleep(interval)
        return report

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with context; tell the user something went wrong, never the internals."""
        chat_id = None
        language = "ko"
        if isinstance(update, Update):
            chat_id = update.effective_chat.id if update.effective_chat else None
            if update.effective_user:
                language = language_from_hint(update.effective_user.language_code)
        log.error(
            "Telegram update failed (update=%s chat=%s): %r",
            update.update_id if isinstance(update, Update) else None,
            chat_id,
            context.error,
            exc_info=context.error,
        )
        if context.error is not None:  # not a user's mistake: the admins hear, rate-limited
            self.dispatcher.services.faults.report("Telegram update", context.error)
        if chat_id is not None:
            try:
                await self.app.bot.send_message(chat_id, t(language, "common.error"))
            except TelegramError:
                log.warning("could not tell chat %s about the failure", chat_id)
