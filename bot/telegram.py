"""Telegram transport on python-telegram-bot 22: polling or webhook, inside our event loop.

Updates become `Incoming` events for the handlers; replies become messages with inline
keyboards, split at Telegram's 4096-character limit. The Application is driven with
initialize / start (never run_polling), so it shares the loop with the web app.

Every update is recorded in the database (unique by `update_id`) before Telegram is
told it arrived: the webhook answers 200 only after the record is written, and the
polling loop asks for the next batch (which acknowledges this one) only after each
update of this batch is recorded. A polled text or button is recorded by the very
transaction that handles it (one transaction an update, not two; a crash before its
commit leaves it unacknowledged, so Telegram sends it again); anything else, or one
still waiting after `commit_wait`, is recorded first. An update handled already is not
run again; one recorded but not finished (a crash, a restart) is taken up again once
its claim is stale (`stale_after`), by one instance.

An update's answer is queued in the outbox by the transaction that marks it handled,
sent right after the commit and then marked sent (its row deleted): a crash between the
commit and the sending leaves the row, which a restart (or the sweep, once it is stale)
sends. An answer can so be sent twice after a crash, never lost.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.text import split_text
from handlers.dispatcher import Dispatcher, Outcome
from handlers.events import Button, Incoming, Reply
from handlers.i18n import t
from services.accounts import language_from_hint
from services.notifier import BroadcastReport, Outgoing

log = logging.getLogger(__name__)
PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROGRESS_EVERY = 3.0  # seconds between two edits of a progress message
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's getFile limit
UNSENT_TTL = timedelta(days=1)  # an answer still unsent after this is dropped
T = TypeVar("T")


class ProgressMessage:
    """One message edited in place as long work goes on: at most one edit every
    PROGRESS_EVERY seconds (Telegram limits edits too), and never the same text twice."""

    def __init__(self, transport: TelegramTransport, chat_id: int, message_id: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.chat_id = chat_id
        self.message_id = message_id
        self.clock = clock
        self.last_edit = float("-inf")
        self.text = ""

    async def show(self, text: str) -> None:
        now = self.clock()
        if text == self.text or now - self.last_edit < PROGRESS_EVERY:
            return
        self.text, self.last_edit = text, now
        bot = self.transport.app.bot
        try:
            if self.message_id is None:
                sent = await bot.send_message(self.chat_id, text)
                self.message_id = sent.message_id
            else:
                await bot.edit_message_text(text, chat_id=self.chat_id,
                                            message_id=self.message_id)
        except TelegramError as exc:  # a lost progress update is not worth failing for
            log.info("progress update not shown: %s", exc)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One button a row: labels stay readable on a phone."""
    if not buttons:
        return None
    for button in buttons:
        if len(button.payload.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"button payload over {CALLBACK_DATA_LIMIT} bytes: {button.payload!r}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, url=b.url) if b.url
          else InlineKeyboardButton(b.label, callback_data=b.payload)] for b in buttons]
    )


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """Retry a Bot API call on network failures (a 502 from Telegram's front, a timeout).

    RetryAfter (429) is retried by the AIORateLimiter; BadRequest and Forbidden are
    answers, not failures, and are raised at once.
    """
    delay = 0.5
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter:
            raise
        except BadRequest:
            raise
        except NetworkError as exc:
            if attempt == attempts - 1:
                raise
            log.warning("Telegram network error (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class TelegramTransport:
    """The Telegram side of the bot: receives updates, sends replies, paces broadcasts."""

    platform = PLATFORM

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
        # Seconds after which an update recorded but not finished is taken up again.
        self.stale_after = stale_after
        self._tasks: list[asyncio.Task[None]] = []
        builder = (
            Application.builder()
            .token(settings.telegram_token)
            .base_url(f"{settings.telegram_api_url}/bot")
            .base_file_url(f"{settings.telegram_api_url}/file/bot")
            .rate_limiter(
                AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=5)
            )
            .concurrent_updates(settings.telegram_concurrent_updates)
        )
        builder = builder.updater(None)  # polling is ours: it records before it acknowledges
        self.app = builder.build()
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_handler(MessageHandler(filters.TEXT, self._on_message))
        self.app.add_handler(
            MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, self._on_document)
        )
        self.app.add_handler(TypeHandler(Update, self._finished), group=1)  # after the above
        self.app.add_error_handler(self._on_error)
        # Updates of one user are handled in order, different users concurrently.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._pacer = asyncio.Semaphore(1)
        # Updates the dispatcher marks handled itself (see _finished).
        self._marked: set[int] = set()
        # Polled updates whose handling's commit the poll waits for (see _take_batch).
        self._committing: dict[int, asyncio.Future[None]] = {}
        self.commit_wait = commit_wait
        self.username = ""

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        await with_retries(self.app.initialize)
        self.username = self.app.bot.username
        # Invites become one-tap deep links: t.me/<bot>?start=CODE.
        self.dispatcher.invite_links[PLATFORM] = f"https://t.me/{self.username}?start={{code}}"
        await self.set_menus()
        if self.webhook_mode:
            await with_retries(
                lambda: self.app.bot.set_webhook(
                    url=f"{self.settings.telegram_webhook_url}{WEBHOOK_PATH}",
                    secret_token=self.settings.telegram_webhook_secret,
                    allowed_updates=["message", "callback_query"],
                )
            )
        else:
            await with_retries(self.app.bot.delete_webhook)
        await self.app.start()
        await self._take_up_stale()
        self._tasks.append(asyncio.create_task(self._sweep()))
        if not self.webhook_mode:
            self._tasks.append(asyncio.create_task(self._poll()))
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
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        """Telegram's webhook: a request without the right secret reaches no handler."""
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.telegram_webhook_secret
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            body = json.loads(await request.read())
            problem = update_problem(body)
            if problem:
                return web.json_response({"error": problem}, status=400)
            update = Update.de_json(body, self.app.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return web.json_response({"error": "malformed update"}, status=400)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        except RequestPayloadError:  # a body its Content-Encoding does not decode
            refused = web.json_response({"error": "malformed body"}, status=400)
            refused.force_close()  # the rest of the body cannot be read either
            return refused
        try:
            fresh = await self._record(update.update_id, body)
        except Exception:  # the database is down: Telegram delivers it again later
            log.exception("a Telegram update could not be recorded")
            return web.json_response({"error": "not recorded, send again"}, status=503)
        if fresh:
            await self.app.update_queue.put(update)
        return web.Response(text="ok")

    # --- the record of updates -------------------------------------------------------

    async def _record(self, update_id: int, body: dict[str, Any]) -> bool:
        async with self.services.transaction() as tx:
            return await tx.updates.record(update_id, body, tx.now())

    async def _finished(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """After the handlers: an update the dispatcher handled was taken in its own
        transaction; any other (a group message not for us, an edit) is taken here."""
        if update.update_id in self._marked:
            self._marked.discard(update.update_id)
            return
        async with self.services.transaction() as tx:
            await tx.updates.take(update.update_id, tx.now())
        self._settle(update.update_id)

    def _settle(self, update_id: int) -> None:
        """This update's handling is committed: the poll may acknowledge it."""
        waiting = self._committing.pop(update_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    @staticmethod
    def _runs_at_once(update: Update) -> bool:
        """A text or a button: its handling starts now and is quick, so its record is
        written by the handling's own transaction. Others (a file to download) are
        recorded first."""
        message = update.message
        return update.callback_query is not None or (
            message is not None and message.text is not None)

    async def _poll(self) -> None:
        """getUpdates in a loop; a batch is acknowledged (by asking for the next one)
        only once each of its updates is recorded: a text or a button by its handling's
        own committed transaction (one transaction an update), any other, or one whose
        handling has not committed within `commit_wait`, by a record of its own."""
        offset: int | None = None
        while True:
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset, timeout=self.settings.telegram_poll_timeout,
                    allowed_updates=["message", "callback_query"])
                if updates:
                    await self._take_batch(updates)
                    offset = updates[-1].update_id + 1
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(float(exc.retry_after))  # type: ignore[arg-type]
            except Exception as exc:  # Telegram or the database away: try again soon
                log.warning("Telegram polling error: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _take_batch(self, updates: list[Update]) -> None:
        """Run a batch and return once each of its updates is recorded (one whose id no
        database column holds is skipped, with a log: it could never be recorded)."""
        odd = [u.update_id for u in updates if not storable_id(u.update_id)]
        if odd:
            log.warning("skipped Telegram updates with out-of-range ids: %s", odd)
            updates = [u for u in updates if storable_id(u.update_id)]
        later = [u for u in updates if not self._runs_at_once(u)]
        fresh = {u.update_id for u in await self._record_all(later)} if later else set()
        loop = asyncio.get_running_loop()
        waits: dict[int, asyncio.Future[None]] = {}
        for update in updates:
            if self._runs_at_once(update):
                waits[update.update_id] = self._committing[update.update_id] = \
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
                self._committing.pop(update.update_id, None)
            await self._record_all(slow)

    async def _record_all(self, updates: list[Update]) -> list[Update]:
        """Record updates in one transaction (committed before any runs); the fresh ones."""
        async with self.services.transaction() as tx:
            return [u for u in updates if await tx.updates.record(
                u.update_id, u.to_dict(), tx.now())]

    async def _take_up_stale(self) -> None:
        """Answers queued but never sent, and updates recorded but never finished (their
        instance crashed): send and run them now."""
        async with self.services.transaction() as tx:
            now = tx.now()
            unsent = await tx.outbox.claim_unsent(
                PLATFORM, now - timedelta(seconds=self.stale_after), now)
        for row_id, item in unsent:
            await self._resend(row_id, item, now)
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

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(5.0, self.stale_after / 2))
            try:
                await self._take_up_stale()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not take up unfinished Telegram updates")

    # --- menus ---------------------------------------------------------------------

    async def set_menus(self) -> None:
        """Command menus per scope and language; admins get theirs in their own chat."""
        bot = self.app.bot
        for language in ("ko", "en"):
            code = language if language != "ko" else None
            private = _commands(self.dispatcher.registry.menu("member", language))
            group = _commands(self.dispatcher.registry.menu("member", language, in_group=True))
            for scope, commands in (
                (BotCommandScopeAllPrivateChats(), private),
                (BotCommandScopeAllGroupChats(), group),
            ):
                await with_retries(
                    lambda s=scope, c=commands, lc=code: bot.set_my_commands(
                        c, scope=s, language_code=lc
                    )
                )
        if self.admin_accounts is not None:
            async with self.services.transaction() as tx:
                members = await tx.accounts.member_accounts(PLATFORM)
            for platform, user_id, language in await self.admin_accounts():
                if platform == PLATFORM:
                    await self.set_admin_menu(int(user_id), language,
                                              member=user_id in members)

    async def set_admin_menu(self, chat_id: int, language: str, member: bool = True) -> None:
        """An admin's own menu: the admin commands, and member ones if they are one."""
        commands = _commands(self.dispatcher.registry.menu("admin", language, member=member))
        await with_retries(
            lambda: self.app.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
        )

    # --- incoming ------------------------------------------------------------------

    def _meant_for_me(self, text: str) -> bool:
        """In groups only commands count, and only bare ones or ones addressed to this bot."""
        if not text.startswith("/"):
            return False
        head = text.split(maxsplit=1)[0]
        return "@" not in head or head.split("@", 1)[1].lower() == self.username.lower()

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return
        kind = "private" if chat.type == "private" else "group"
        if kind == "group" and not self._meant_for_me(message.text):
            return
        event = Incoming(
            platform=PLATFORM,
            chat_id=str(chat.id),
            chat_kind=kind,
            user_id=str(user.id),
            user_name=user.full_name,
            text=message.text,
            message_id=str(message.message_id),
            language_hint=user.language_code,
            takes_documents=True,
            delivery_id=update.update_id,
        )
        await self._handle(event)

    async def _on_document(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file in a private chat (an open-chat export from an admin)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.document is None:
            return
        document = message.document
        data = b""
        if (document.file_size or 0) <= MAX_DOWNLOAD:
            telegram_file = await with_retries(document.get_file)
            data = bytes(await with_retries(telegram_file.download_as_bytearray))
        event = Incoming(
            platform=PLATFORM,
            chat_id=str(message.chat.id),
            chat_kind="private",
            user_id=str(user.id),
            user_name=user.full_name,
            text=message.caption or "",
            message_id=str(message.message_id),
            language_hint=user.language_code,
            attachment=data,
            attachment_name=document.file_name or "",
            attachment_size=document.file_size,
            takes_documents=True,
            delivery_id=update.update_id,
        )
        await self._handle(event)

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        # Always answered, at once, so the button stops spinning on the user's phone.
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("could not answer callback query: %s", exc)
        chat = query.message.chat if query.message else None
        if chat is None:
            return
        event = Incoming(
            platform=PLATFORM,
            chat_id=str(chat.id),
            chat_kind="private" if chat.type == "private" else "group",
            user_id=str(user.id),
            user_name=user.full_name,
            payload=query.data or "",
            language_hint=user.language_code,
            takes_documents=True,
            delivery_id=update.update_id,
        )
        await self._handle(event)

    async def _handle(self, event: Incoming) -> None:
        if event.delivery_id is not None:  # the dispatcher marks it handled
            self._marked.add(event.delivery_id)
        key = int(event.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            outcome = await self.dispatcher.handle(event, defer=True, queue=self._queue)
            if event.delivery_id is not None:
                self._settle(event.delivery_id)  # committed: the poll may acknowledge it
            if outcome.queued is not None:
                row_id, item = outcome.queued
                progress_id = await self._send_queued(row_id, item)
            else:
                progress_id = await self.deliver(event, outcome)
        if outcome.deferred:  # long work: the user's chat stays usable meanwhile
            chat_id = int(event.chat_id)
            meter = ProgressMessage(self, chat_id, progress_id)
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
            try:
                await with_retries(
                    lambda: self.app.bot.delete_message(chat_id, int(message_id))
                )
            except TelegramError as exc:
                log.warning("could not delete a secret message in chat %s: %s", chat_id, exc)
        if item.get("menu"):
            language, member = item["menu"]  # ready when they read on
            await self.set_admin_menu(chat_id, language, member=member)
        progress_id = None
        for reply in replies:
            sent = await self.send_reply(chat_id, reply)
            if reply.progress and sent is not None:
                progress_id = sent
        return progress_id

    async def send_reply(self, chat_id: int, reply: Reply) -> int | None:
        """Send one reply (split to fit); returns the id of its last text message."""
        chunks = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
        last = None
        for index, chunk in enumerate(chunks):
            markup = keyboard(reply.buttons) if index == len(chunks) - 1 else None
            last = await with_retries(
                lambda c=chunk, m=markup: self.app.bot.send_message(chat_id, c, reply_markup=m)
            )
        if reply.image is not None:
            image = reply.image
            photo = InputFile(image, filename="image.png")
            await with_retries(lambda: self.app.bot.send_photo(chat_id, photo=photo))
        elif reply.image_url:  # the week's picture on the web app: Telegram fetches it
            await self._send_picture_url(chat_id, reply.image_url)
        if reply.document is not None:
            name, content = reply.document
            await with_retries(lambda: self.app.bot.send_document(
                chat_id, document=InputFile(content, filename=name)))
        return last.message_id if last is not None else None

    async def _send_picture_url(self, chat_id: int, url: str) -> None:
        """A picture by its address; when Telegram cannot fetch it, its link instead."""
        try:
            await with_retries(lambda: self.app.bot.send_photo(chat_id, photo=url))
        except BadRequest as exc:
            log.warning("Telegram could not fetch the picture %s: %s", url, exc)
            await with_retries(lambda: self.app.bot.send_message(chat_id, f"🖼 {url}"))

    async def send(self, chat_id: str, text: str) -> bool:
        """Notifier: one message; False when the user blocked or never started the bot."""
        return await self._deliver(chat_id, Reply(text))

    async def _deliver(self, chat_id: str, reply: Reply) -> bool:
        try:
            await self.send_reply(int(chat_id), reply)
        except Forbidden:
            return False
        return True

    @property
    def start_link(self) -> str | None:
        """Opens a private chat with the bot, for members it cannot message yet."""
        return f"https://t.me/{self.username}" if self.username else None

    async def post(self, chat_id: str, reply: Reply) -> bool:
        """A job's post to a group chat (split to fit); False when the bot was removed."""
        try:
            await self.send_reply(int(chat_id), reply)
        except Forbidden:
            return False
        except TelegramError as exc:
            log.warning("posting to group %s failed: %s", chat_id, exc)
            return False
        return True

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        """Notifier: many chats, one at a time at the broadcast rate, so replies to
        people who are chatting right now keep the rest of Telegram's budget."""
        report = BroadcastReport(unreachable=[], failed=[])
        interval = 1.0 / self.settings.telegram_broadcast_rate
        async with self._pacer:  # one broadcast at a time
            for message in messages:
                buttons = (Button(message.link[0], "", url=message.link[1]),) \
                    if message.link else ()
                try:
                    if await self._deliver(message.chat_id, Reply(message.text, buttons)):
                        report.sent += 1
                    else:
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
        if chat_id is not None:
            try:
                await self.app.bot.send_message(chat_id, t(language, "common.error"))
            except TelegramError:
                log.warning("could not tell chat %s about the failure", chat_id)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def reply_to_plain(reply: Reply) -> dict[str, Any]:
    """A reply as JSON for the outbox: all that Telegram shows of it."""
    return {"text": reply.text,
            "buttons": [[b.label, b.payload, *([b.url] if b.url else [])]
                        for b in reply.buttons],
            "delete_incoming": reply.delete_incoming, "progress": reply.progress,
            "image": None if reply.image is None else _b64(reply.image),
            "image_url": reply.image_url,
            "document": None if reply.document is None
            else [reply.document[0], _b64(reply.document[1])]}


def reply_from_plain(item: dict[str, Any]) -> Reply:
    document = item.get("document")
    return Reply(
        item["text"],
        buttons=tuple(Button(b[0], b[1], url=b[2] if len(b) > 2 else None)
                      for b in item.get("buttons", [])),
        delete_incoming=bool(item.get("delete_incoming")),
        progress=bool(item.get("progress")),
        image=None if item.get("image") is None else base64.b64decode(item["image"]),
        image_url=item.get("image_url"),
        document=None if document is None else (document[0], base64.b64decode(document[1])))


def answer_item(event: Incoming, outcome: Outcome, now: datetime | None) -> dict[str, Any]:
    """An update's whole answer as JSON: the chat, the message to delete (a password),
    the admin menu to set, the replies."""
    menu = [outcome.language, outcome.member] \
        if outcome.menu_changed and event.chat_kind == "private" else None
    return {"chat_id": int(event.chat_id), "message_id": event.message_id,
            "menu": menu, "replies": [reply_to_plain(r) for r in outcome.replies],
            "queued_at": None if now is None else now.isoformat()}


def _commands(pairs: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(name, description[:256]) for name, description in pairs]


__all__ = ["PLATFORM", "WEBHOOK_PATH", "TelegramTransport"]


UPDATE_OBJECTS = ("message", "edited_message", "callback_query", "my_chat_member",
                  "chat_member", "channel_post", "edited_channel_post")


MAX_ID = 2**63 - 1  # a signed 64-bit column (BIGINT on PostgreSQL, INTEGER on SQLite)


def storable_id(number: int) -> bool:
    return 0 <= number <= MAX_ID


def update_problem(body: Any) -> str | None:
    """Why a webhook body is not an update Telegram would send (None: it looks like one)."""
    if not isinstance(body, dict):
        return "an update must be a JSON object"
    if not isinstance(body.get("update_id"), int) or isinstance(body.get("update_id"), bool):
        return "update_id must be an integer"
    if not storable_id(body["update_id"]):
        return "update_id out of range"
    for key in UPDATE_OBJECTS:
        if key in body and not isinstance(body[key], dict):
            return f"{key} must be an object"
    return None
