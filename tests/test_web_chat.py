"""The web pages from the chats: the personal link on /status and in the reminder, /newlink,
/weeklink for the open chat, the picture in the group post and in Kakao's 결과."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import select

from bot.console import render
from bot.demo import ADMIN
from bot.kakao import KakaoSkill
from bot.web import build_web_app
from handlers.dispatcher import Dispatcher
from handlers.events import Reply
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.messaging.notifier import BroadcastReport, Outgoing
from services.week.calendar import Week
from storage.models import ChatAccount, Member, utcnow
from tests.conftest import Clock
from tests.support.chat_driver import Person
from tests.support.kakao import BOT_ID, SECRET, USER, KakaoClient, serve, skill_request
from tests.support.web_site import demo_site
from tests.support.weekly_jobs import AFTER_DEADLINE, WEDNESDAY, Phone, community, jobs_for


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, await response.text()


def browser_link(replies: list[Reply]) -> str:
    (url,) = [b.url for r in replies for b in r.buttons if b.url]
    return url


@pytest.mark.web_site
async def test_status_carries_the_personal_link_and_the_console_prints_it(
        services: Services, simulated: SimulatedInstagram) -> None:
    async with demo_site(services, simulated) as site:
        minji = Person(Dispatcher(services), "minji")
        replies = await minji.say("/status")
        url = browser_link(replies)
        assert url.startswith(f"{site.url}/m/")
        printed, pressable = render(replies)
        assert f"🌐 브라우저로 열기: {url}" in printed
        assert all(b.url is None for b in pressable)  # a link is not a numbered button
        status, page = await fetch(url)
        assert status == 200 and "@minji" in page


@pytest.mark.web_site
async def test_newlink_closes_the_old_link(services: Services,
                                           simulated: SimulatedInstagram) -> None:
    async with demo_site(services, simulated):
        minji = Person(Dispatcher(services), "minji")
        old = browser_link(await minji.say("/status"))
        (reply,) = await minji.say("/newlink")
        new = reply.text.split("\n")[-1]
        assert new != old and new.startswith("http")
        assert (await fetch(old))[0] == 403
        status, page = await fetch(new)
        assert status == 200 and "@minji" in page


@pytest.mark.web_site
async def test_weeklink_gives_the_admin_a_text_to_paste(
        services: Services, simulated: SimulatedInstagram) -> None:
    async with demo_site(services, simulated) as site:
        admin = Person(Dispatcher(services), ADMIN)
        header, paste = await admin.say("/weeklink")
        assert "붙여 넣어" in header.text
        assert f"{site.url}/week" in paste.text and "회원 6명" in paste.text
        assert "/m/" not in paste.text  # nothing personal in what goes to the open chat
        last = Week.containing(utcnow(), services.rules.timezone).previous()
        (_, earlier) = await admin.say(f"/weeklink {last.label}")
        assert f"{site.url}/week/{last.label}" in earlier.text
        assert "2026-W47" in (await admin.say("/weeklink soon"))[0].text  # the usage
        member = Person(Dispatcher(services), "minji")
        assert "관리자만" in (await member.say("/weeklink"))[0].text


@pytest.mark.web_site
async def test_kakao_shows_the_link_as_a_card_and_the_picture_as_an_image(
        services: Services, simulated: SimulatedInstagram) -> None:
    from bot.config import load_settings

    async with demo_site(services, simulated) as site:
        async with services.transaction() as tx:
            minji = await tx.session.scalar(select(Member.id).where(
                Member.instagram_username == "minji"))
            tx.session.add(ChatAccount(platform="kakao", platform_user_id=USER,
                                       member_id=minji, language="ko"))
        settings = load_settings(kakao_bot_id=BOT_ID, kakao_skill_secret=SECRET,
                                 database_url="sqlite://")
        app = build_web_app([])
        KakaoSkill(settings, Dispatcher(services), services).add_routes(app)
        runner, base = await serve(app)
        try:
            async with aiohttp.ClientSession() as client:
                kakao = KakaoClient(client, f"{base}/kakao/skill")
                _, body = await kakao.post(skill_request("내 현황"))
                outputs = body["template"]["outputs"]
                card = next(o["textCard"] for o in outputs if "textCard" in o)
                (button,) = card["buttons"]
                assert button["action"] == "webLink"
                assert button["webLinkUrl"].startswith(f"{site.url}/m/")
                assert len(outputs) <= 3
                _, body = await kakao.post(skill_request("결과"))
                image = next(o["simpleImage"] for o in body["template"]["outputs"]
                             if "simpleImage" in o)
                last = Week.containing(utcnow(), services.rules.timezone).previous()
                assert image["imageUrl"] == f"{site.url}/week/{last.label}.png"
                async with client.get(image["imageUrl"]) as response:
                    assert response.status == 200
                    Image.open(io.BytesIO(await response.read())).load()
        finally:
            await runner.cleanup()


class LinkPhone(Phone):
    """The tests' phone, keeping each broadcast's link button too."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, tuple[str, str] | None] = {}

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        for message in messages:
            self.links[message.chat_id] = message.link
        return await super().broadcast(messages)


@pytest.mark.web_site(root="https://bot.example")
async def test_the_reminder_opens_the_personal_page_and_the_group_post_has_the_picture(
        timed: Services, simulated: SimulatedInstagram, clock: Clock) -> None:
    found = await community(timed, simulated, members=4, posts_each=2, comment_rate=0.5)
    phone = LinkPhone()
    jobs = jobs_for(timed, phone, clock)
    clock.now = WEDNESDAY
    await jobs.remind("08:00")
    reminded = [chat for chat, _ in phone.sent]
    assert reminded
    for chat in reminded:
        link: Any = phone.links[chat]
        assert link[0] == "🌐 브라우저로 열기" and link[1].startswith("https://bot.example/m/")
    async with timed.sessions() as session:
        holders = {(await timed.web.holder(session, link[1].rsplit("/", 1)[1],
                                           WEDNESDAY)).username  # type: ignore[union-attr]
                   for link in phone.links.values() if link}
    assert holders == {name for name in found.members
                       if f"tg-{name}" in reminded}  # each gets their own page
    clock.now = AFTER_DEADLINE
    await jobs.final()
    (_, post), = phone.posts
    assert post.image is not None
    picture = Image.open(io.BytesIO(post.image))
    picture.load()
    assert picture.width == 1080


@pytest.mark.web_site(root="https://bot.example")
async def test_a_big_communitys_status_lists_the_open_posts_first_and_points_to_the_page(
        timed: Services, simulated: SimulatedInstagram) -> None:
    from services.sample_community import build

    week = Week.containing(WEDNESDAY, timed.rules.timezone)
    async with timed.transaction() as tx:
        found = await build(tx.session, simulated, week, members=60, posts_each=2)
        member = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == found.members[0]))
        tx.session.add(ChatAccount(platform="console", platform_user_id="big",
                                   member_id=member, language="ko"))
    (reply,) = await Person(Dispatcher(timed), "big").say("/status")
    listed = [line for line in reply.text.splitlines() if line.startswith("⏳ @")]
    assert len(listed) == 100  # of 118 owed
    assert "외 18개" in reply.text and "브라우저로 열기" in reply.text
    assert browser_link([reply]).startswith("https://bot.example/m/")
