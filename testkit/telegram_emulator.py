"""A local Telegram Bot API emulator on aiohttp, for the real PTB client over real HTTP.

It speaks the Bot API's envelope and errors as Telegram does: form-encoded parameters
with JSON values (PTB's encoding), long-polled getUpdates that answer 409 while a
webhook is set, webhook delivery with the secret header, 429 with retry_after, 502 with
an HTML body from the front proxy, 400 for over-long texts and oversized callback data,
403 for users who blocked the bot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import web

# Parameters that are strings even when they look like JSON (PTB sends them raw).
STRING_FIELDS = {"text", "caption", "url", "secret_token", "callback_query_id", "language_code",
                 "parse_mode", "description", "short_description", "name"}
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
    "</html>\r\n"
)
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64


def _public_url(url: str) -> bool:
    """As Telegram takes a link button: http(s) or tg, to a host a phone can reach (not
    this machine, nor an address of a private network)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "tg":
        return True
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host
    return address.is_global


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


class BotApiEmulator:
    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "autogram_test_bot",
        bot_id: int = 123456,
    ) -> None:
        self.token, self.bot_username, self.bot_id = token, bot_username, bot_id
        self.url = ""
        self.sent: list[dict[str, Any]] = []
        self.deleted: list[tuple[int, int]] = []
        self.answered_callbacks: set[str] = set()
        self.commands: dict[tuple[str, str | None], list[dict[str, str]]] = {}
        self.documents: list[dict[str, Any]] = []
        self.photos: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.webhook: dict[str, Any] | None = None
        self.webhook_responses: list[int] = []
        self._updates: list[dict[str, Any]] = []
        self.handed_out: list[dict[str, Any]] = []  # every update getUpdates gave, once
        self._again: list[dict[str, Any]] = []  # handed out again whatever the offset
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._pending_queries: set[str] = set()
        self._query_ids = itertools.count(1)
        self._failures: dict[str, list[tuple[int, int | None, str | None, bool]]] = defaultdict(
            list
        )
        self._blocked: set[int] = set()
        self._files: dict[str, tuple[str, bytes]] = {}
        self._seen: dict[int, int] = defaultdict(int)
        self._changed = asyncio.Condition()  # new updates, for getUpdates
        self._by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._arrived: dict[int, asyncio.Condition] = defaultdict(asyncio.Condition)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_lock = asyncio.Lock()
        self._closing = False  # stopping: a long poll under way answers at once

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        # The server waits for every request under way before it closes: a getUpdates
        # long poll (its bot gone) would hold the stop for its whole timeout.
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # --- the test's controls ----------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        description: str | None = None,
        html: bool = False,
    ) -> None:
        """The next `times` calls of `method` fail the way Telegram fails."""
        for _ in range(times):
            self._failures[method].append((status, retry_after, description, html))

    async def deliver_again(self, updates: list[dict[str, Any]]) -> None:
        """Telegram sending updates again (the bot died before acknowledging them)."""
        async with self._changed:
            self._again += updates
            self._changed.notify_all()

    def block(self, chat_id: int) -> None:
        self._blocked.add(chat_id)

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        return list(self._by_chat[chat_id])

    async def wait_for(
        self, chat_id: int, count: int = 1, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """The next `count` messages the bot sends to `chat_id` (since the last wait)."""
        deadline = time.monotonic() + timeout
        arrived = self._arrived[chat_id]
        async with arrived:
            while len(self._by_chat[chat_id]) < self._seen[chat_id] + count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"waited {timeout}s for {count} message(s) to {chat_id}; sent so far: "
                        f"{[m.get('text') for m in self.messages_to(chat_id)]}"
                    )
                try:
                    await asyncio.wait_for(arrived.wait(), left)
                except TimeoutError:
                    continue
        start = self._seen[chat_id]
        self._seen[chat_id] = start + count
        return self._by_chat[chat_id][start : start + count]

    # --- the user's side ----------------------------------------------------------------

    def _user(self, user_id: int, first_name: str, username: str | None, lang: str) -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": lang}
        if username:
            user["username"] = username
        return user

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "User",
        username: str | None = None,
        language_code: str = "ko",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = chat_title or "Group"
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id, first_name, username, language_code),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self._messages[(chat_id, message["message_id"])] = message
        await self._deliver({"message": message})
        return message

    async def send_document(
        self, user_id: int, filename: str, data: bytes, *, chat_id: int | None = None,
        chat_type: str = "private", caption: str | None = None,
    ) -> dict[str, Any]:
        """The user sends a file: a Document message whose bytes getFile then serves."""
        chat_id = user_id if chat_id is None else chat_id
        file_id = f"doc-{len(self._files) + 1}"
        self._files[file_id] = (f"documents/file_{len(self._files) + 1}_{filename}", data)
        chat = {"id": chat_id, "type": chat_type}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id, "User", None, "ko"),
            "document": {"file_id": file_id, "file_unique_id": f"u{file_id}",
                         "file_name": filename, "file_size": len(data)},
        }
        if caption:
            message["caption"] = caption
        self._messages[(chat_id, message["message_id"])] = message
        await self._deliver({"message": message})
        return message

    async def press_button(
        self, user_id: int, message: dict[str, Any], callback_data: str, *, first_name: str = "User"
    ) -> str:
        query_id = str(next(self._query_ids))
        self._pending_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(user_id, first_name, None, "ko"),
            "chat_instance": str(message["chat"]["id"]),
            "message": {k: v for k, v in message.items() if k != "method"},
            "data": callback_data,
        }
        await self._deliver({"callback_query": query})
        return query_id

    async def deliver_raw_webhook(self, body: dict[str, Any], secret: str | None) -> int:
        assert self.webhook is not None and self._client is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with self._client.post(self.webhook["url"], json=body, headers=headers) as resp:
            self.webhook_responses.append(resp.status)
            return resp.status

    async def _deliver(self, payload: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **payload}
        if self.webhook is None:
            async with self._changed:
                self._updates.append(update)
                self._changed.notify_all()
            return
        async with self._webhook_lock:  # Telegram delivers one update at a time, in order
            await self.deliver_raw_webhook(update, self.webhook.get("secret_token"))

    # --- the bot's side -------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if self._failures[method]:
            status, retry_after, description, html = self._failures[method].pop(0)
            if html:
                return web.Response(status=status, text=NGINX_502, content_type="text/html")
            default = f"Too Many Requests: retry after {retry_after}" if status == 429 else "Error"
            return _error(status, description or default, retry_after if status == 429 else None)
        try:
            result = await handler(params)
        except ApiError as exc:
            return _error(exc.status, exc.description, exc.retry_after)
        return web.json_response({"ok": True, "result": result})

    async def _record(self, entry: dict[str, Any]) -> None:
        """Keep what the bot sent and wake whoever waits on that chat (only them)."""
        entry["received_at"] = time.monotonic()
        self.sent.append(entry)
        chat_id = entry["chat"]["id"]
        self._by_chat[chat_id].append(entry)
        arrived = self._arrived[chat_id]
        async with arrived:
            arrived.notify_all()

    def _bot_message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        chat_type = "private" if chat_id > 0 else "supergroup"
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Autogram",
                     "username": self.bot_username},
            **fields,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _check_chat(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _check_text(text: str | None) -> str:
        if not text or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    @staticmethod
    def _check_markup(markup: Any) -> Any:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not _public_url(url):
                    raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' "
                                        "is invalid: Wrong HTTP URL")
        return markup

    async def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Autogram",
                "username": self.bot_username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        async with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._updates[:0], self._again = self._again, []
            while not self._updates and not self._closing and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
            batch = self._updates[:limit]
            self.handed_out += [u for u in batch if u not in self.handed_out]
            return batch

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._check_chat(params)
        fields: dict[str, Any] = {"text": self._check_text(params.get("text"))}
        markup = self._check_markup(params.get("reply_markup"))
        if markup:
            fields["reply_markup"] = markup
        message = self._bot_message(chat_id, **fields)
        await self._record({**message, "method": "sendMessage"})
        return message

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        text = self._check_text(params.get("text"))
        if self._messages[key].get("text") == text:
            raise ApiError(400, "Bad Request: message is not modified")
        self._messages[key] = {**self._messages[key], "text": text}
        await self._record({**self._messages[key], "method": "editMessageText"})
        return self._messages[key]

    async def _api_deleteMessage(self, params: dict[str, Any]) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self._messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.deleted.append(key)
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id not in self._pending_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._pending_queries.discard(query_id)
        self.answered_callbacks.add(query_id)
        return True

    def _scope_key(self, params: dict[str, Any]) -> tuple[str, str | None]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code")

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[self._scope_key(params)] = list(params["commands"])
        return True

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands.get(self._scope_key(params), [])

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._check_chat(params)
        caption = params.get("caption") or ""
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith(("http://", "https://")):
            photo = await self._fetch(photo)  # Telegram downloads a photo sent by URL
        if not isinstance(photo, bytes):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        message = self._bot_message(chat_id, caption=caption,
                                    photo=[{"file_id": f"photo-{len(self.photos)}",
                                            "file_unique_id": "u", "width": 1, "height": 1}])
        self.photos.append({"chat_id": chat_id, "caption": caption, "bytes": photo})
        await self._record({**message, "method": "sendPhoto"})
        return message

    async def _fetch(self, url: str) -> bytes:
        """A photo by URL, as Telegram's servers fetch it: an image, or 400."""
        import aiohttp
        try:
            async with aiohttp.ClientSession() as client, client.get(url) as response:
                body = await response.read()
                if response.status == 200 and response.content_type.startswith("image/"):
                    return body
        except aiohttp.ClientError:
            pass
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._check_chat(params)
        document = params.get("document")
        if not isinstance(document, bytes):
            raise ApiError(400, "Bad Request: there is no document in the request")
        message = self._bot_message(chat_id, caption=params.get("caption") or "",
                                    document={"file_id": "doc", "file_unique_id": "d"})
        self.documents.append({"chat_id": chat_id, "caption": params.get("caption"),
                               "filename": params.get("_filename_document"), "bytes": document})
        await self._record({**message, "method": "sendDocument"})
        return message

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self._files[file_id]
        if len(data) > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data),
                "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self._files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data)
        return web.Response(status=404)

    async def _api_sendChatAction(self, _params: dict[str, Any]) -> bool:
        return True

    async def _api_close(self, _params: dict[str, Any]) -> bool:
        return True

    async def _api_logOut(self, _params: dict[str, Any]) -> bool:
        return True


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _decode(name: str, value: str) -> Any:
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _params(request: web.Request) -> dict[str, Any]:
    """Parameters as PTB sends them: query string, JSON, url-encoded or multipart."""
    params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query.items()}
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if part.filename:
                params[part.name] = bytes(await part.read())
                params[f"_filename_{part.name}"] = part.filename
            else:
                params[part.name] = _decode(part.name, await part.text())
    elif request.can_read_body:
        form = await request.post()
        params.update({k: _decode(k, v) for k, v in form.items() if isinstance(v, str)})
    return params
