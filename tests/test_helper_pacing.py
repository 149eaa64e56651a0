"""A member's "check now" within its allowance and its share of the helpers' hour: it
reads what it may, says how many of the member's posts it read and when the bot looks at
the rest (the next daily refresh), and never takes what the final check needs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.pool import ASKED_SHARE
from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from services.week.post_links import PostLink, parse_post_link
from storage.models import ChatAccount, Helper, Member
from tests.conftest import TEST_NOW
from tests.support.chat_driver import Person


async def community(services: Services, sim: SimulatedInstagram, posts: int) -> Person:
    """minji, who owes a comment on each of `posts` posts by others; two helpers."""
    week = Week.containing(TEST_NOW, services.rules.timezone)
    before = week.at("MON 00:00") - timedelta(days=7)
    async with services.transaction() as tx:
        minji = Member(instagram_username="minji", joined_at=before)
        tx.session.add(minji)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="console", platform_user_id="minji",
                                   member_id=minji.id, language="ko"))
        for name in ("helper.one", "helper.two"):
            sim.add_account(name)
            tx.session.add(Helper(instagram_username=name, password="pw",
                                  session=sim.session_for(name), status="ready"))
        for n in range(posts):
            owner = Member(instagram_username=f"writer{n}", joined_at=before)
            tx.session.add(owner)
            await tx.session.flush()
            code = f"DPost{n:06d}"
            sim.add_account(owner.instagram_username)
            sim.add_post(owner.instagram_username, code, [f"writer{(n + 1) % posts}"])
            link = parse_post_link(f"https://www.instagram.com/p/{code}/")
            assert isinstance(link, PostLink)
            await tx.submissions.submit(owner.id, link, TEST_NOW - timedelta(hours=1))
    return Person(Dispatcher(services), "minji", "minji")


async def test_check_now_with_forty_open_posts_sends_its_allowance_and_says_when(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated, 40)
    checks = services.checks
    assert checks.check_now_allowance == 12
    await minji.say("/checknow")
    sent = [op for op, _ in simulated.calls if op != "login"]
    assert 0 < len(sent) <= 12  # counted at Instagram's side
    # TEST_NOW is 12:00 in Seoul: the rest waits for tonight's refresh.
    read = int(minji.text.split("게시물 40개 중 ")[1].split("개를")[0])
    assert 0 < read < 40
    assert "나머지는 오늘 21:00 확인 때 볼게요." in minji.text
    assert read <= len(sent) // 2  # each read post cost its info and a page


async def test_check_now_never_leaves_the_final_check_less_than_70_percent(
    services: Services, simulated: SimulatedInstagram
) -> None:
    await community(services, simulated, 40)
    checks, instagram = services.checks, services.instagram
    instagram.pool.hourly_budget = 20  # a small hour: its 30% is six requests
    checks.check_now_allowance = 100  # only the share holds it back here
    checks.cache.ttl = 0  # each press reads Instagram again
    async with services.transaction() as tx:
        member_id = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == "minji"))
    assert member_id is not None
    for press in range(4):  # again and again, each after the cooldown
        asked = await checks.member(member_id, TEST_NOW + timedelta(minutes=11 * press))
        assert asked.report.paused  # cut short by the share, not by Instagram
        for helper in instagram.pool.helpers.values():
            assert instagram.pool.used(helper) <= ASKED_SHARE * 20
    by_helper = {h: sum(1 for _, who in simulated.calls if who == h)
                 for h in ("helper.one", "helper.two")}
    assert all(0 < n <= 6 for n in by_helper.values())
    week = Week.containing(TEST_NOW, services.rules.timezone)
    final = await checks.week(week, final=True)  # the rest of each hour is the final's
    assert final.requests >= 2 * (20 - 6)
    assert all(instagram.pool.used(h) <= 20 for h in instagram.pool.helpers.values())
