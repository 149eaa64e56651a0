"""Every malformed request to the web app gets a 4xx with a short JSON reason, never a
500: the Kakao skill endpoint and the Telegram webhook, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from services.container import Services
from tests.telegram_emulator import BotApiEmulator
from tests.test_kakao import SECRET, kakao_factory, skill_request  # noqa: F401 (a fixture)
from tests.test_telegram import emulator, webhook_bot  # noqa: F401


def wrong_types() -> list[Any]:
    bodies: list[Any] = []
    for key in ("bot", "userRequest", "action"):
        for value in ("text", 7, [1, 2], None, True):
            body = skill_request("안녕하세요")
            body[key] = value
            bodies.append(body)
    for value in ("text", 7, [1], True):
        body = skill_request("안녕하세요")
        body["userRequest"]["user"] = value
        bodies.append(body)
    for user_id in ("", "a\x00b", "\ud800abc", "x" * 500, 12345, None, ["id"], "공백 있는 아이디"):
        bodies.append(skill_request("안녕하세요", user=user_id))  # type: ignore[arg-type]
    return bodies


async def test_the_kakao_endpoint_answers_4xx_with_a_reason(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    nested = ("[" * 100_000 + "]" * 100_000).encode()
    for raw in (nested, b"", b"{", b"null", b"[]", b'"text"', b"\xff\xfe", b"1e999999"):
        status, body = await kakao.post(None, raw=raw)
        assert 400 <= status < 500 and isinstance(body, dict) and body.get("error"), raw[:20]
    status, body = await kakao.post(None, raw=nested, secret="wrong")
    assert status == 401  # the secret is checked before the body is read
    for payload in wrong_types():
        raw = json.dumps(payload, ensure_ascii=True).encode()
        status, body = await kakao.post(None, raw=raw)
        bot_ok = isinstance(payload.get("bot"), dict)
        assert (status == 400 if bot_ok else status == 401), (payload, status, body)
        assert isinstance(body, dict) and body.get("error")
    # A message with NUL and half a surrogate pair is answered, not a database error.
    text = json.dumps(skill_request("안녕\x00하세요 \ud83d")).encode()
    status, body = await kakao.post(None, raw=text)
    assert status == 200 and body["version"] == "2.0"


@pytest.mark.parametrize("body", [
    [], None, "update", 5, {}, {"update_id": "7"}, {"update_id": True},
    {"update_id": 7, "message": "hello"}, {"update_id": 7, "callback_query": [1]},
    {"update_id": 7, "message": {"text": "no chat, no date"}},
])
async def test_the_telegram_webhook_answers_4xx_with_a_reason(
    emulator: BotApiEmulator, services: Services, body: Any  # noqa: F811
) -> None:
    transport, runner, url = await webhook_bot(emulator, services)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=json.dumps(body),
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "s3cr3t-token"}
                                 ) as response:
                assert 400 <= response.status < 500
                assert (await response.json()).get("error")
            async with http.post(url, data=b"[" * 100_000,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "s3cr3t-token"}
                                 ) as response:
                assert response.status == 400
    finally:
        await transport.stop()
        await runner.cleanup()
