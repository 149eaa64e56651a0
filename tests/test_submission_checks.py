"""A link looked at on Instagram when it is handed in: share links resolved (a plain
request to a local HTTP server standing in for instagram.com, then a helper), authors
compared with the member; and what a member and an admin hear with no helper at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.share_links import ShareResolver
from services.instagram.simulated import SimulatedInstagram
from services.links import PostLink, parse_post_link
from storage.models import Admin, ChatAccount, Helper, Member, Submission
from tests.chat_driver import Person


@pytest.fixture
async def instagram_web(unused_tcp_port: int) -> AsyncIterator[tuple[str, list[str]]]:
    """instagram.com as a share link sees it: a redirect to the post, or to the login."""
    asked: list[str] = []

    async def share(request: web.Request) -> web.Response:
        asked.append(request.path)
        token = request.match_info["token"]
        if token == "BPlainShare1":
            raise web.HTTPFound("https://www.instagram.com/p/DMinjiPlain/?igsh=abc")
        if token == "BHopShare22":
            raise web.HTTPFound("/share/p/BPlainShare1/")
        raise web.HTTPFound("https://www.instagram.com/accounts/login/?next=/share/")

    app = web.Application()
    app.router.add_get("/share/p/{token}/", share)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    yield f"http://127.0.0.1:{unused_tcp_port}", asked
    await runner.cleanup()


async def community(services: Services, sim: SimulatedInstagram, *, helper: bool = True
                    ) -> Person:
    async with services.transaction() as tx:
        minji = Member(instagram_username="minji", joined_at=services.clock())
        tx.session.add(minji)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="console", platform_user_id="minji",
                                   member_id=minji.id, language="ko"))
        admin = ChatAccount(platform="console", platform_user_id="boss", language="ko")
        tx.session.add(admin)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=admin.id, claimed_at=services.clock()))
        if helper:
            sim.add_account("helper.one")
            tx.session.add(Helper(instagram_username="helper.one", password="pw",
                                  session=sim.session_for("helper.one"), status="ready"))
            await tx.helpers.load_pool()
    for owner, code in (("Minji", "DMinjiPlain"), ("minji", "DMinjiHelpr"),
                        ("seoul.cafe", "DCafePost1x")):
        sim.add_account(owner.lower())
        sim.add_post(owner, code, [])
    return Person(Dispatcher(services), "minji", "minji")


async def handed_in(services: Services) -> list[str]:
    async with services.transaction() as tx:
        return list(await tx.session.scalars(select(Submission.url)))


async def test_a_share_link_is_resolved_by_a_plain_request(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    instagram_web: tuple[str, list[str]],
) -> None:
    root, asked = instagram_web
    instagram.shares = ShareResolver(root)
    minji = await community(services, simulated)
    await minji.say("https://www.instagram.com/share/p/BHopShare22/ 이번 주 게시물이에요")
    assert "✅ 접수했어요 (1/3)" in minji.text
    assert await handed_in(services) == ["https://www.instagram.com/p/DMinjiPlain/"]
    assert asked == ["/share/p/BHopShare22/", "/share/p/BPlainShare1/"]  # two hops
    assert not [c for c in simulated.calls if c[0] == "share"]  # no helper was needed


async def test_a_share_link_the_login_page_hides_goes_to_a_helper(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    instagram_web: tuple[str, list[str]],
) -> None:
    root, _ = instagram_web
    instagram.shares = ShareResolver(root)
    simulated.add_share("BHelperOnly", "DMinjiHelpr")
    minji = await community(services, simulated)
    await minji.say("https://www.instagram.com/share/p/BHelperOnly/")
    assert "✅ 접수했어요" in minji.text
    assert await handed_in(services) == ["https://www.instagram.com/p/DMinjiHelpr/"]


async def test_a_share_link_nobody_can_resolve_is_refused_with_what_to_send(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    instagram_web: tuple[str, list[str]],
) -> None:
    root, _ = instagram_web
    instagram.shares = ShareResolver(root)
    minji = await community(services, simulated)
    await minji.say("https://www.instagram.com/share/p/BUnknown99/")
    assert "공유(/share/) 링크에서 게시물을 찾지 못했어요" in minji.text
    assert "instagram.com/p/" in minji.text and await handed_in(services) == []


async def test_someone_elses_post_is_refused_and_names_its_author(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    await minji.say("[https://www.instagram.com/p/DCafePost1x/]")
    assert "@seoul.cafe 님의 게시물이에요" in minji.text and "(@minji)" in minji.text
    await minji.say("https://www.instagram.com/p/DMinjiPlain/입니다")  # author "Minji"
    assert "✅ 접수했어요 (1/3)" in minji.text
    assert await handed_in(services) == ["https://www.instagram.com/p/DMinjiPlain/"]


async def test_the_author_takes_back_their_post_from_a_reposter(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    async with services.transaction() as tx:
        jisoo = Member(instagram_username="jisoo", joined_at=services.clock())
        tx.session.add(jisoo)
        await tx.session.flush()
        # jisoo reposted minji's link (an open-chat round-up) before a helper looked.
        link = parse_post_link("instagram.com/p/DMinjiPlain/")
        assert isinstance(link, PostLink)
        await tx.submissions.submit(jisoo.id, link, services.clock())
    await minji.say("https://www.instagram.com/p/DMinjiPlain/")
    assert "✅ 접수했어요 (1/3)" in minji.text
    async with services.transaction() as tx:
        owner = await tx.session.scalar(select(Member.instagram_username).join(
            Submission, Submission.member_id == Member.id))
    assert owner == "minji"


async def test_with_no_helper_nobody_is_told_it_was_checked(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated, helper=False)
    await minji.say("/checknow")
    assert "헬퍼 계정이 등록되지 않아" in minji.text and "방금" not in minji.text
    boss = Person(minji.dispatcher, "boss", "boss")
    await boss.say("/verify")
    assert "/addhelper" in boss.text and "확인을 마쳤어요" not in boss.text
