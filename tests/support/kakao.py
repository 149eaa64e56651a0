"""The Kakao skill endpoint over HTTP with real skill payloads."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import load_settings
from bot.kakao import KakaoSkill
from bot.web import build_web_app
from handlers.dispatcher import Dispatcher
from services.container import Services

BOT_ID = "5ae9b76d7409b11ec845b746"


SECRET = "skill-secret-123"


USER = "226f81aef15e8f5890425bbeaa5978d54dfc98fadcaa076ed1f635eda11204ba30"


# §9.1 of the reference: a real plain-text request, plus fields Kakao may add any day.
PAYLOAD: dict[str, Any] = {
    "bot": {"id": BOT_ID, "name": "품앗이봇"},
    "intent": {"id": "5d300e788192ac000132b8a4", "name": "폴백 블록",
               "extra": {"reason": {"code": 1, "message": "OK"}}},
    "action": {"id": "5ffe572d7292584dbda1dc64", "name": "기본 스킬",
               "params": {}, "detailParams": {}, "clientExtra": {}},
    "userRequest": {
        "block": {"id": "5d300e788192ac000132b8a4", "name": "폴백 블록"},
        "user": {"id": USER, "type": "botUserKey",
                 "properties": {"botUserKey": USER, "isFriend": True,
                                "plusfriendUserKey": "T8x9DhjAiBrv",
                                "bot_user_key": USER, "plusfriend_user_key": "T8x9DhjAiBrv"}},
        "utterance": "안녕하세요",
        "params": {"surface": "Kakaotalk.plusfriend"},
        "lang": "ko",
        "timezone": "Asia/Seoul",
        "someFutureField": {"nested": [1, 2, 3]},
    },
    "flow": {"trigger": {"type": "TEXT_INPUT"}},
    "contexts": [],
}


def skill_request(utterance: str, *, user: str = USER, extra: dict | None = None,
                  bot_id: str = BOT_ID, callback: str | None = None) -> dict[str, Any]:
    payload = copy.deepcopy(PAYLOAD)
    payload["bot"]["id"] = bot_id
    payload["userRequest"]["utterance"] = utterance
    payload["userRequest"]["user"]["id"] = user
    if extra is not None:
        payload["action"]["clientExtra"] = extra
        payload["flow"]["trigger"]["type"] = "QUICKREPLY_BUTTON_MESSAGE"
    if callback:
        payload["userRequest"]["callbackUrl"] = callback
    return payload


class KakaoClient:
    """Talks to the skill endpoint the way Open Builder does."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.last: dict[str, Any] = {}

    async def post(self, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None
                   ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        if secret is not None:
            headers["X-Skill-Secret"] = secret
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(self.url, data=data, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def say(self, utterance: str, **kwargs: Any) -> str:
        status, body = await self.post(skill_request(utterance, **kwargs))
        assert status == 200, body
        self.last = body
        return "\n".join(o["simpleText"]["text"] for o in body["template"]["outputs"])

    async def press(self, label: str, **kwargs: Any) -> str:
        quick = next(q for q in self.last["template"]["quickReplies"] if q["label"] == label)
        return await self.say(quick["messageText"], extra=quick["extra"], **kwargs)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def kakao_factory(services: Services) -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make(on: Services | None = None, **overrides: Any
                   ) -> tuple[KakaoClient, KakaoSkill]:
        """A skill endpoint on the test's container (or `on`: one built anew, as after a
        restart with other settings) and a client that talks to it."""
        options = {"kakao_bot_id": BOT_ID, "kakao_skill_secret": SECRET,
                   "kakao_callback_hosts": "127.0.0.1", "database_url": "sqlite://"}
        options.update(overrides)
        container = on or services
        skill = KakaoSkill(load_settings(**options), Dispatcher(container), container)
        app = build_web_app([])
        skill.add_routes(app)
        runner, base = await serve(app)
        runners.append(runner)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return KakaoClient(session, f"{base}/kakao/skill"), skill

    yield make
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()

