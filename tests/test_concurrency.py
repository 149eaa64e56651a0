"""One person's events one at a time, through the real Kakao endpoint, on SQLite and on
PostgreSQL: links sent at once stay within the weekly maximum, wrong claim codes sent at
once stay within the throttle, a new user's first messages at once never clash."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from services.container import Services
from storage.models import AuditEntry, ChatAccount, Submission
from tests.support.kakao import kakao_factory, skill_request  # noqa: F401 (a fixture)

NEW_USER = "9b1f0e0b6c1d4a0f8e2a7c3d5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f"


async def test_links_sent_at_once_stay_within_the_weekly_maximum(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        invites = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(invites[0].code or "")
    links = [f"https://www.instagram.com/p/HANA{n:04d}xyz/" for n in range(20)]
    answers = await asyncio.gather(*(kakao.post(skill_request(link)) for link in links))
    assert all(status == 200 for status, _ in answers)
    async with services.transaction() as tx:
        handed_in = await tx.session.scalar(select(func.count()).select_from(Submission))
    assert handed_in == services.rules.weekly_max_posts
    texts = [o["simpleText"]["text"] for _, body in answers for o in body["template"]["outputs"]]
    assert sum("접수했어요" in t for t in texts) == services.rules.weekly_max_posts


async def test_wrong_claim_codes_at_once_stay_within_the_throttle(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    await asyncio.gather(*(kakao.post(skill_request(f"/claim WRONG{n:04d}"))
                           for n in range(30)))
    async with services.transaction() as tx:
        guesses = await tx.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "claim_failed"))
    assert guesses == 5


async def test_a_new_users_first_messages_at_once(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    answers = await asyncio.gather(*(kakao.post(skill_request("안녕하세요", user=NEW_USER))
                                     for _ in range(10)))
    assert [status for status, _ in answers] == [200] * 10
    texts = {o["simpleText"]["text"] for _, body in answers for o in body["template"]["outputs"]}
    assert all("초대 코드" in t for t in texts)
    async with services.transaction() as tx:
        accounts = await tx.session.scalar(select(func.count()).select_from(ChatAccount).where(
            ChatAccount.platform_user_id == NEW_USER))
    assert accounts == 1


async def test_links_looked_at_on_instagram_at_once_stay_within_the_maximum(
    kakao_factory: Any, services: Services, simulated: Any  # noqa: F811
) -> None:
    from storage.models import Helper

    simulated.add_account("helper.one")
    async with services.transaction() as tx:
        tx.session.add(Helper(instagram_username="helper.one", password="pw",
                              session=simulated.session_for("helper.one"), status="ready"))
        await tx.session.flush()
        await tx.helpers.load_pool()
        invites = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    kakao, _ = await kakao_factory()
    await kakao.say(invites[0].code or "")
    links = [f"https://www.instagram.com/p/HANA{n:04d}xyz/" for n in range(8)]
    for link in links:
        simulated.add_post("hana.daily", link.rstrip("/").rsplit("/", 1)[-1])
    await asyncio.gather(*(kakao.post(skill_request(link)) for link in links))
    async with services.transaction() as tx:
        handed_in = await tx.session.scalar(select(func.count()).select_from(Submission))
    assert handed_in == services.rules.weekly_max_posts


async def test_links_sent_at_once_on_telegram_stay_within_the_maximum(
    services: Services,
) -> None:
    from testkit.telegram_emulator import BotApiEmulator
    from tests.support.telegram import MEMBER, start_polling

    async with services.transaction() as tx:
        invites = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    async with BotApiEmulator() as emulator:
        transport = await start_polling(emulator, services)
        try:
            await emulator.send_text(MEMBER, f"/start {invites[0].code}")
            await emulator.wait_for(MEMBER)
            await asyncio.gather(*(emulator.send_text(
                MEMBER, f"https://www.instagram.com/p/TGRAM{n:03d}xy/") for n in range(12)))
            await emulator.wait_for(MEMBER, count=12, timeout=20)
        finally:
            await transport.stop()
    async with services.transaction() as tx:
        handed_in = await tx.session.scalar(select(func.count()).select_from(Submission))
    assert handed_in == services.rules.weekly_max_posts
