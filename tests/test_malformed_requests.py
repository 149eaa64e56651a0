"""Every malformed request to the web app gets a 4xx with a short JSON reason, never a
500: the Kakao skill endpoint and the Telegram webhook, over real HTTP."""

from __future__ import annotations

import gzip
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from handlers.i18n import t
from services.container import Services
from storage.models import ChatAccount
from testkit.telegram_emulator import BotApiEmulator
from tests.support.kakao import SECRET, kakao_factory, skill_request  # noqa: F401 (a fixture)
from tests.support.telegram import emulator, start_polling, webhook_bot  # noqa: F401


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


# --- odd but legal input -------------------------------------------------------------

LONG_FIRST, LONG_LAST = "가" * 64, "L" * 64  # Telegram allows 64 + 64: a full name of 129


async def test_a_telegram_user_with_a_129_character_name_is_answered(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    transport, runner, _ = await webhook_bot(emulator, services)
    try:
        body = {"update_id": 930_001, "message": {
            "message_id": 1, "date": 1_700_000_000, "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            "chat": {"id": 4242, "type": "private", "first_name": LONG_FIRST},
            "from": {"id": 4242, "is_bot": False, "first_name": LONG_FIRST,
                     "last_name": LONG_LAST, "language_code": "en"}}}
        assert await emulator.deliver_raw_webhook(body, secret="s3cr3t-token") == 200
        answers = await emulator.wait_for(4242)
        assert answers and all(m["text"] != t("en", "common.error") for m in answers)
        async with services.transaction() as tx:
            names = list(await tx.session.scalars(select(ChatAccount.display_name).where(
                ChatAccount.platform_user_id == "4242")))
        assert names == [f"{LONG_FIRST} {LONG_LAST}"]  # stored whole
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_an_update_id_out_of_range_is_a_4xx_not_a_503(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    transport, runner, _ = await webhook_bot(emulator, services)
    try:
        for update_id in (2**63, 2**64 + 5, -1):
            body = {"update_id": update_id, "message": {
                "message_id": 1, "date": 1_700_000_000, "text": "hello",
                "chat": {"id": 4243, "type": "private"},
                "from": {"id": 4243, "is_bot": False, "first_name": "Odd"}}}
            status = await emulator.deliver_raw_webhook(body, secret="s3cr3t-token")
            assert 400 <= status < 500, (update_id, status)
        body["update_id"] = 2**63 - 1  # the largest a column holds: answered
        assert await emulator.deliver_raw_webhook(body, secret="s3cr3t-token") == 200
        await emulator.wait_for(4243)
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_polling_skips_an_update_id_out_of_range(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    def message(update_id: int, user: int) -> dict[str, Any]:
        return {"update_id": update_id, "message": {
            "message_id": update_id % 1000, "date": 1_700_000_000, "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "Odd"}}}

    transport = await start_polling(emulator, services)
    try:
        await emulator.deliver_again([message(2**63, 4244), message(940_001, 4245)])
        await emulator.wait_for(4245)  # the next update still runs
        assert emulator.messages_to(4244) == []
    finally:
        await transport.stop()


async def test_webhooks_answer_400_to_a_body_its_content_encoding_does_not_decode(
    emulator: BotApiEmulator, services: Services, kakao_factory: Any  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
               "X-Skill-Secret": SECRET}
    raw = json.dumps(skill_request("안녕하세요")).encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(kakao.url, data=raw, headers=headers) as response:
            assert response.status == 400, await response.text()
            assert (await response.json()).get("error")
        # A body that is gzip is read as usual.
        async with http.post(kakao.url, data=gzip.compress(raw), headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["version"] == "2.0"
    transport, runner, url = await webhook_bot(emulator, services)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=b'{"update_id": 1}', headers={
                    "X-Telegram-Bot-Api-Secret-Token": "s3cr3t-token",
                    "Content-Encoding": "gzip"}) as response:
                assert response.status == 400
    finally:
        await transport.stop()
        await runner.cleanup()
