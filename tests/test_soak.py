"""A short soak through the real Kakao endpoint (the benchmark runs the long one):
many members at once, nothing lost, every answer a valid skill response."""

from __future__ import annotations

from typing import Any

from benchmarks.kakao_soak import BOT_ID, SECRET, add_kakao_members, drive_kakao
from services.container import Services
from tests.support.kakao import kakao_factory  # noqa: F401 (a fixture)


async def test_many_members_at_once_lose_nothing(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory(kakao_bot_id=BOT_ID, kakao_skill_secret=SECRET)
    users = [f"{n:04d}" + "ab" * 30 for n in range(20)]
    await add_kakao_members(services, users)
    figures = await drive_kakao(kakao.url, users, requests=150, seconds=3.0)
    assert figures.invalid == [] and figures.answered == figures.sent == 150
