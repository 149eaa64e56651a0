"""A link looked at on Instagram when it is handed in: share links resolved (a plain
request to a local HTTP server standing in for instagram.com, then a helper), authors
and co-authors compared with the member (by pk once known: a rename is learned and
told), earlier weeks' posts refused; and what a member and an admin hear with no
helper at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.share_links import ShareResolver
from services.instagram.simulated import SimulatedInstagram
from services.week.post_links import PostLink, parse_post_link
from services.week.submissions import SubmitResult
from storage.models import ChatAccount, Member, MemberName, Submission
from tests.support.chat_driver import Person
from tests.support.submissions import community


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


async def test_a_flow_started_while_the_post_is_looked_at_goes_on(
    services: Services, simulated: SimulatedInstagram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link's answer comes after Instagram was asked; a `/submit` the member sent
    meanwhile still waits for its link (the answer does not end it), and takes one."""
    import asyncio

    minji = await community(services, simulated)
    meanwhile = Person(minji.dispatcher, "minji", "minji")
    asked, release = asyncio.Event(), asyncio.Event()
    post_info = simulated.post_info

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.set()
        await release.wait()
        return await post_info(*args, **kwargs)

    monkeypatch.setattr(simulated, "post_info", held)
    answer = asyncio.create_task(minji.say("https://www.instagram.com/p/DMinjiPlain/"))
    await asyncio.wait_for(asked.wait(), 10)
    await meanwhile.say("/submit")
    assert "링크를 보내" in meanwhile.text
    release.set()
    await asyncio.wait_for(answer, 10)
    assert "✅ 접수했어요 (1/3)" in minji.text
    async with services.transaction() as tx:
        state = await tx.conversations.load("console", "minji")
    assert state is not None and (state.flow, state.step) == ("submit", "link")


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


async def another_member(services: Services, name: str) -> Person:
    async with services.transaction() as tx:
        member = Member(instagram_username=name, joined_at=services.clock())
        tx.session.add(member)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="console", platform_user_id=name,
                                   member_id=member.id, language="ko"))
    return Person(Dispatcher(services), name, name)


async def test_a_collab_post_counts_once_for_the_co_author_who_hands_it_in(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    hana = await another_member(services, "hana")
    simulated.add_account("hana")
    simulated.add_post("Hana", "DCollabPost").coauthors = ["Minji"]
    await minji.say("https://www.instagram.com/p/DCollabPost/")  # a co-author, by name
    assert "✅ 접수했어요 (1/3)" in minji.text
    await hana.say("https://www.instagram.com/p/DCollabPost/")  # the author, second
    assert "@minji 님이 이번 주에 이미 제출했어요" in hana.text and "✅" not in hana.text
    async with services.transaction() as tx:
        row = await tx.session.scalar(select(Submission))
        assert row is not None
        owner = await tx.session.get(Member, row.member_id)
        assert owner is not None
        assert (owner.instagram_username, row.author, row.author_pk, row.coauthors) == (
            "minji", "hana", simulated.pk("hana"), "minji")
        assert owner.instagram_pk == simulated.pk("minji")  # learned from the read
        hana_pk = await tx.session.scalar(select(Member.instagram_pk).where(
            Member.instagram_username == "hana"))
    assert hana_pk == simulated.pk("hana")


async def test_a_collab_post_of_strangers_is_still_refused(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    simulated.add_post("seoul.cafe", "DCafeCollab").coauthors = ["busan.bakery"]
    await minji.say("https://www.instagram.com/p/DCafeCollab/")
    assert "@seoul.cafe 님의 게시물이에요" in minji.text
    assert await handed_in(services) == []


async def test_a_member_renamed_on_instagram_is_known_by_pk_and_told(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    async with services.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == "minji"))
        assert member is not None
        member.instagram_pk = simulated.pk("minji")
    simulated.rename("minji", "minji.new")
    simulated.add_post("minji.new", "DNewNamePst")
    await minji.say("https://www.instagram.com/p/DNewNamePst/")
    assert "✅ 접수했어요 (1/3)" in minji.text
    assert "인스타그램 아이디가 @minji에서 @minji.new로 바뀐 걸 확인했어요. " \
        "앞으로 @minji.new로 확인해요." in minji.text
    async with services.transaction() as tx:
        names = (await tx.session.execute(select(Member.instagram_username, MemberName.username)
                                          .join(MemberName))).all()
    assert names == [("minji.new", "minji")]
    await minji.say("https://www.instagram.com/p/DMinjiPlain/")  # the same account, told once
    assert "✅ 접수했어요 (2/3)" in minji.text and "바뀐" not in minji.text


async def test_a_post_handed_in_last_week_is_refused_naming_that_week(
    services: Services, simulated: SimulatedInstagram
) -> None:
    minji = await community(services, simulated)
    link = parse_post_link("instagram.com/p/DMinjiPlain/")
    assert isinstance(link, PostLink)
    async with services.transaction() as tx:
        me = await tx.session.scalar(select(Member.id))
        assert me is not None
        done = await tx.submissions.submit(me, link, services.clock() - timedelta(days=7))
        assert done.result is SubmitResult.ACCEPTED
    await minji.say("https://www.instagram.com/p/DMinjiPlain/")
    assert "이 게시물은 11월 16일 (월) ~ 11월 22일 (일) 주에 이미 제출됐어요. " \
           "새 게시물을 올려 제출해 주세요." in minji.text
    assert len(await handed_in(services)) == 1
    # The operator allows it and restarts: the same chat, a container with the new rules.
    restarted = replace(services, rules=replace(services.rules, allow_resubmitted_posts=True))
    minji = Person(Dispatcher(restarted), "minji", "minji")
    await minji.say("https://www.instagram.com/p/DMinjiPlain/")
    assert "✅ 접수했어요 (1/3)" in minji.text
    assert len(await handed_in(services)) == 2
