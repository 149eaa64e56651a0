"""Telegram's webhook: the secret checked first, the update recorded before the 200."""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.telegram.update_record import update_problem
from bot.telegram.updates import UpdateFeed
from bot.web import read_body

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Webhook:
    def __init__(self, app: Application, feed: UpdateFeed, secret: str) -> None:
        self.app = app
        self.feed = feed
        self.secret = secret

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_post(WEBHOOK_PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        """A request without the right secret reaches no handler; one whose record
        cannot be written is refused, so Telegram delivers it again later."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.json_response({"error": "forbidden"}, status=403)
        raw = await read_body(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            body = json.loads(raw)
            problem = update_problem(body)
            if problem:
                return web.json_response({"error": problem}, status=400)
            update = Update.de_json(body, self.app.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return web.json_response({"error": "malformed update"}, status=400)
        try:
            fresh = await self.feed.record(update.update_id, body)
        except Exception:  # the database is down: Telegram delivers it again later
            log.exception("a Telegram update could not be recorded")
            return web.json_response({"error": "not recorded, send again"}, status=503)
        if fresh:
            await self.app.update_queue.put(update)
        return web.Response(text="ok")
