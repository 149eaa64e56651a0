"""KakaoTalk transport: the Open Builder skill endpoint and the Event API push.

Kakao POSTs a skill payload for each utterance and waits 5 seconds for the answer.
Work that outlives the budget answers `useCallback: true` and POSTs the result to the
request's callbackUrl (one minute, once) when it is done; without a callbackUrl the
user is told it is running and gets the result with their next message (the outbox).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.channels import Capabilities, shown, shown_outgoing
from bot.config import Settings
from bot.kakao_render import (
    KAKAO_ANSWERS,
    MORE_PAYLOAD,
    from_plain,
    render,
    to_plain,
    with_more,
)
from bot.outbox import Outbox
from bot.web import read_body
from handlers.dispatcher import Dispatcher
from handlers.events import Incoming, Reply, clean_text
from handlers.i18n import t
from services.container import Services
from services.members.chat_accounts import language_from_hint
from services.messaging.notifier import BroadcastReport, Outgoing

log = logging.getLogger(__name__)
PLATFORM = "kakao"
SKILL_PATH = "/kakao/skill"
SECRET_HEADER = "X-Skill-Secret"
MAX_BODY = 256 * 1024  # a skill request is a few KB; Kakao's own limit is far below this
# Kakao's user ids are hex keys; anything printable and short is accepted, nothing else.
USER_ID = re.compile(r"[\x21-\x7e]{1,128}")
CALLBACK_WINDOW = 55.0  # seconds; Kakao's callback URL lives one minute
EVENT_BATCH = 100  # users per Event API call
REFUSAL_LOG_EVERY = 60.0  # seconds between two log lines of one refusal reason


class KakaoSkill:
    """The skill endpoint (answers within the request, as `KAKAO_ANSWERS` shows them)
    and, as a `Channel` for jobs, the Event API push: text only, and only when its
    settings are there; what cannot be pushed waits in the outbox for the person's
    next message."""

    platform = PLATFORM
    start_link: str | None = None  # a channel chatbot has no link that opens a chat

    def __init__(self, settings: Settings, dispatcher: Dispatcher, services: Services) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.services = services
        self.callback_hosts = {h.strip().lower() for h in
                               settings.kakao_callback_hosts.split(",") if h.strip()}
        self._client: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._refusals_logged: dict[str, float] = {}  # reason -> when last logged
        self.outbox = Outbox(services, PLATFORM, KAKAO_ANSWERS)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.kakao_skill_secret and self.settings.kakao_bot_id)

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_post(SKILL_PATH, self._skill)
        web_app.on_cleanup.append(self._close)

    async def _close(self, _app: web.Application) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        # Let them end (a cancelled write rolls back) before the database goes away.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._client

    # --- the skill endpoint --------------------------------------------------------

    def _secret_ok(self, request: web.Request) -> bool:
        """The configured secret header, compared in constant time (before any parsing)."""
        if not self.enabled:
            return False
        given = request.headers.get(SECRET_HEADER, "").encode()
        expected = self.settings.kakao_skill_secret.get_secret_value().encode()
        return hmac.compare_digest(given, expected)

    def _our_bot(self, payload: dict[str, Any]) -> bool:
        """Our bot id (or its development twin, the same id with `!`)."""
        bot_id = str(_object(payload.get("bot")).get("id", ""))
        return bot_id.removesuffix("!") == self.settings.kakao_bot_id.removesuffix("!")

    def _log_refusal(self, reason: str, detail: str = "") -> None:
        """A refused call, in the log once a minute per reason (a mistyped KAKAO_BOT_ID
        or secret is found there; a flood of strangers does not fill it)."""
        now = time.monotonic()
        if now - self._refusals_logged.get(reason, -REFUSAL_LOG_EVERY) < REFUSAL_LOG_EVERY:
            return
        self._refusals_logged[reason] = now
        log.warning("Kakao skill call refused: %s%s", reason, detail)

    async def _skill(self, request: web.Request) -> web.Response:
        if not self._secret_ok(request):
            self._log_refusal(
                "the endpoint is off (KAKAO_SKILL_SECRET or KAKAO_BOT_ID not set)"
                if not self.enabled else
                f"no or wrong {SECRET_HEADER} header (compare it with KAKAO_SKILL_SECRET)")
            return web.json_response({"error": "unauthorised"}, status=401)
        if (request.content_length or 0) > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError, UnicodeDecodeError):
            return web.json_response({"error": "malformed JSON"}, status=400)
        if not self._our_bot(payload):
            bot_id = str(_object(payload.get("bot")).get("id", ""))[:40]
            self._log_refusal("another bot id (compare it with KAKAO_BOT_ID)",
                              f": {bot_id!r}")
            return web.json_response({"error": "unauthorised"}, status=401)
        event = self._event(payload)
        if isinstance(event, str):
            return web.json_response({"error": event}, status=400)
        callback = _object(payload.get("userRequest")).get("callbackUrl")
        callback = callback if isinstance(callback, str) else None
        # In flight from here to the answer (the dispatcher's part and the outbox's):
        # the process's checks give way meanwhile (services/operations/chat_first.py).
        with self.services.chat_first.answering():
            return web.json_response(await self._answer(event, callback))

    @staticmethod
    def _event(payload: dict[str, Any]) -> Incoming | str:
        """The event, or why the request is malformed (a short reason for the 400)."""
        for key in ("bot", "userRequest", "action"):
            if key in payload and not isinstance(payload[key], dict):
                return f"{key} must be an object"
        user_request = _object(payload.get("userRequest"))
        if "user" in user_request and not isinstance(user_request["user"], dict):
            return "userRequest.user must be an object"
        user_id = _object(user_request.get("user")).get("id")
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            return "userRequest.user.id must be a short printable string"
        extra = _object(payload.get("action")).get("clientExtra") or {}
        button = extra.get("payload") if isinstance(extra, dict) else None
        utterance = user_request.get("utterance")
        return Incoming(
            platform=PLATFORM,
            chat_id=user_id,
            chat_kind="private",  # a channel chatbot talks one to one
            user_id=user_id,
            user_name="",
            text=clean_text(utterance if isinstance(utterance, str) else ""),
            payload=clean_text(str(button)) if button is not None else None,
            language_hint=str(user_request.get("lang") or "ko"),
            deletes_messages=KAKAO_ANSWERS.deletion,
            sends_files=KAKAO_ANSWERS.receives_files,
        )

    async def _answer(self, event: Incoming, callback: str | None) -> dict[str, Any]:
        """The current answer first; answers that could not be delivered before follow
        it; the rest of a long answer waits behind "more" (and expires). Everything,
        the outbox included, within the reply budget; past it, the callback or the
        outbox."""
        deadline = time.monotonic() + self.settings.kakao_reply_budget_seconds
        language = language_from_hint(event.language_hint)
        if event.payload == MORE_PAYLOAD:
            async with self.services.transaction_of(PLATFORM, event.user_id) as tx:
                more = from_plain(await tx.outbox.take_newest(PLATFORM, event.user_id,
                                                              tx.now()))
            return await self._render(event.user_id, more or [Reply(
                t(language, "kakao.nothing_more"))], language)
        work = asyncio.create_task(self._handle_with_results(event))
        done, _ = await asyncio.wait({work}, timeout=max(0.0, deadline - time.monotonic()))
        if done:
            replies, language, leftovers = work.result()
            body = await self._render(event.user_id, replies, language)
            return with_more(body, t(language, "kakao.more")) if leftovers else body
        if callback and self._callback_allowed(callback):
            self._spawn(self._finish_by_callback(event, work, callback))
            return {"version": "2.0", "useCallback": True,
                    "data": {"text": t(language, "kakao.working")}}
        self._spawn(self._finish_to_outbox(event, work))
        return await self._render(event.user_id, [Reply(t(language, "kakao.working_no_callback"))],
                                  language)

    async def _handle_with_results(self, event: Incoming) -> tuple[list[Reply], str, int]:
        """This event's answer, then what waited to be delivered (oldest first), and how
        many leftovers of earlier long answers still wait behind "more"."""
        outcome = await self.dispatcher.handle(event)
        async with self.services.transaction_of(PLATFORM, event.user_id) as tx:
            waiting, leftovers = await tx.outbox.take_results_and_count(
                PLATFORM, event.user_id, tx.now())
        return outcome.replies + from_plain(waiting), outcome.language, leftovers

    async def _render(self, user_id: str, replies: list[Reply], language: str) -> dict[str, Any]:
        rendered = render(replies, t(language, "kakao.more"), language)
        if rendered.remainder:
            async with self.services.transaction_of(PLATFORM, user_id) as tx:
                await tx.outbox.put(PLATFORM, user_id, to_plain(rendered.remainder), "rest")
        return rendered.body

    def _callback_allowed(self, url: str) -> bool:
        """Only Kakao's own host (configurable for tests): the URL comes from the request."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        local = host in {"127.0.0.1", "localhost"}
        return host in self.callback_hosts and (parts.scheme == "https" or local)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish_by_callback(self, event: Incoming, work: asyncio.Task[Any],
                                  url: str) -> None:
        """The answer through Kakao's callback URL; a refused or unreachable callback
        leaves it in the outbox for the next message instead of losing it."""
        try:
            replies, language, _ = await asyncio.wait_for(asyncio.shield(work),
                                                          CALLBACK_WINDOW)
        except TimeoutError:
            self._spawn(self._finish_to_outbox(event, work))
            return
        rendered = render(replies, t(language, "kakao.more"), language)
        try:
            async with self._http().post(url, json=rendered.body) as response:
                answer = await response.text()
                delivered = response.status == 200 and '"SUCCESS"' in answer
                if not delivered:
                    log.warning("Kakao callback refused (%s): %s", response.status, answer[:200])
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Kakao callback failed: %s", type(exc).__name__)
            delivered = False
        if delivered and not rendered.remainder:
            return
        async with self.services.transaction_of(PLATFORM, event.user_id) as tx:
            if delivered:
                await tx.outbox.put(PLATFORM, event.user_id, to_plain(rendered.remainder),
                                    "rest")
            else:
                await tx.outbox.put(PLATFORM, event.user_id, to_plain(replies), "result")

    async def _finish_to_outbox(self, event: Incoming, work: asyncio.Task[Any]) -> None:
        replies, _language, _ = await work
        async with self.services.transaction_of(PLATFORM, event.user_id) as tx:
            await tx.outbox.put(PLATFORM, event.user_id, to_plain(replies), "result")

    # --- Event API push (the Channel) -------------------------------------------------

    @property
    def can_push(self) -> bool:
        s = self.settings
        return bool(s.kakao_rest_api_key and s.kakao_event_name and s.kakao_bot_id)

    @property
    def capabilities(self) -> Capabilities:
        """A push through the Event API carries one text: every other part goes as its
        fallback in the text (a button as what to type, a link as its address)."""
        return Capabilities(push=self.can_push, reads_outbox=True,
                            picture_fallback=KAKAO_ANSWERS.picture_fallback,
                            file_fallback=KAKAO_ANSWERS.file_fallback)

    async def post(self, chat_id: str, reply: Reply) -> bool:
        """One person, by the Event API; False without it or when Kakao refuses."""
        text = shown(reply, self.capabilities, "ko").text  # Delivery did it in their language
        report = await self.broadcast([Outgoing(chat_id, text)])
        return report.sent == 1

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        """Push through the Event API, up to 100 users a call (one call per distinct text).

        Without the Event API settings nothing is sent and every chat is unreachable."""
        report = BroadcastReport(unreachable=[], failed=[])
        if not self.can_push:
            report.unreachable = [m.chat_id for m in messages]
            return report
        by_text: dict[str, list[str]] = {}
        for message in (shown_outgoing(m, self.capabilities) for m in messages):
            by_text.setdefault(message.text, []).append(message.chat_id)
        for text, users in by_text.items():
            unique = list(dict.fromkeys(users))
            for start in range(0, len(unique), EVENT_BATCH):
                batch = unique[start:start + EVENT_BATCH]
                if await self._push(text, batch):
                    report.sent += len(batch)
                else:
                    report.failed += batch  # type: ignore[operator]
        return report

    async def _push(self, text: str, users: list[str]) -> bool:
        s = self.settings
        url = f"{s.kakao_event_api_url.rstrip('/')}/v2/bots/{s.kakao_bot_id}/talk"
        body = {"event": {"name": s.kakao_event_name, "data": {"text": text}},
                "user": [{"type": "botUserKey", "id": user} for user in users]}
        headers = {"Authorization": f"KakaoAK {s.kakao_rest_api_key.get_secret_value()}"}
        try:
            async with self._http().post(url, json=body, headers=headers) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("Kakao Event API call failed for %d users: %s", len(users), exc)
            return False
        task_id = (answer or {}).get("taskId")
        if response.status != 200 or (answer or {}).get("status") != "SUCCESS":
            log.warning("Kakao Event API refused %d users (task %s): %s", len(users), task_id,
                        answer)
            return False
        log.info("Kakao Event API accepted %d users (task %s)", len(users), task_id)
        return True


def _object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (a field of the wrong type)."""
    return value if isinstance(value, dict) else {}
