"""Telegram's webhook: the secret checked first, the update recorded before the 200."""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from telegram import Update
from telegram.ext import Application

from bot.telegram.update_record import update_problem
from bot.telegram.updates import UpdateFeed

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
            fresh = await self.feed.record(update.update_id, body)
        except Exception:  # the database is down: Telegram delivers it again later
            log.exception("a Telegram update could not be recorded")
            return web.json_response({"error": "not recorded, send again"}, status=503)
        if fresh:
            await self.app.update_queue.put(update)
        return web.Response(text="ok")
