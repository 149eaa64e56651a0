"""KakaoTalk: after a long answer the next command is answered first, the rest waits
behind "more" and expires; an answer whose callback Kakao refused waits for the next
message instead of being lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web

from services.container import Services
from tests.conftest import TEST_NOW, Clock
from tests.support.kakao import BOT_ID, kakao_factory, serve, skill_request  # noqa: F401


async def long_answer(kakao: Any, services: Services) -> str:
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await kakao.say(f"/claim {code}")
    async with services.transaction() as tx:
        for n in range(100):
            await tx.helpers.helpers.add(f"helper_with_a_long_name_{n:03d}", "pw")
    return await kakao.say("/helpers")


def labels(kakao: Any) -> list[str]:
    return [q["label"] for q in kakao.last["template"].get("quickReplies", [])]


async def test_the_next_command_is_answered_first_and_the_rest_waits(
    kakao_factory: Any, timed: Services, clock: Clock  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    first = await long_answer(kakao, timed)
    assert labels(kakao) == ["더 보기"] and first.count("• @helper") < 100
    text = await kakao.say("/lang")
    assert text.startswith("언어를 골라 주세요") and "@helper" not in text
    assert "더 보기" in labels(kakao)  # the leftovers are still there, behind "more"
    rest = await kakao.press("더 보기")
    assert "@helper_with_a_long_name" in rest
    # Leftovers expire: half an hour later "more" has nothing stale to show.
    await kakao.say("/helpers")
    clock.now = TEST_NOW + timedelta(hours=1)
    await kakao.say("/lang")
    assert "더 보기" not in labels(kakao)
    assert "더 볼 내용이 없어요" in await kakao.say("더 보기", extra={"payload": "/more"})


async def test_an_answer_kakao_refused_by_callback_comes_with_the_next_message(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    refused: list[dict[str, Any]] = []

    async def callback(request: web.Request) -> web.Response:
        refused.append(await request.json())
        return web.json_response({"status": "FAIL", "message": "expired"}, status=400)

    app = web.Application()
    app.router.add_post("/v1/bots/{bot}/callback/{token}", callback)
    runner, base = await serve(app)
    try:
        kakao, skill = await kakao_factory(kakao_reply_budget_seconds=0.0)
        status, body = await kakao.post(skill_request(
            "/help", callback=f"{base}/v1/bots/{BOT_ID}/callback/token"))
        assert status == 200 and body["useCallback"] is True
        await asyncio.gather(*skill._background)
        assert len(refused) == 1
        kakao, _ = await kakao_factory()
        text = await kakao.say("/lang")
        assert text.startswith("언어를 골라 주세요") and "쓸 수 있는 명령" in text
    finally:
        await runner.cleanup()


async def test_an_unreachable_callback_loses_nothing(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, skill = await kakao_factory(kakao_reply_budget_seconds=0.0)
    await kakao.post(skill_request("/help", callback="http://127.0.0.1:9/v1/bots/x/callback/t"))
    await asyncio.gather(*skill._background)
    kakao, _ = await kakao_factory()
    assert "쓸 수 있는 명령" in await kakao.say("/lang")
    assert "더 보기" not in labels(kakao)  # it was all there: nothing else waits
