"""The week board, a member's list, the personal page and the picture, over real HTTP."""

from __future__ import annotations

import io
import re

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import update

from services.web.links import BoardMode
from services.week.calendar import Week
from storage.models import Member, utcnow
from tests.support.web_site import demo_site, get


@pytest.mark.web_site
async def test_board_lists_every_member_most_owing_first(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        status, html, headers = await get(f"{site.url}/week")
        assert status == 200
        assert "script-src 'sha256-" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        names = re.findall(r"<b>@([a-z.]+)</b>", html)
        assert sorted(names) == ["doyun", "hana", "jisoo", "minji", "seojun", "yuna"]
        counts = [int(n) for n in re.findall(r"남은 게시물 (\d+)", html)]
        assert counts == sorted(counts, reverse=True) and counts
        assert "회원 6명" in html
        assert len(html.encode()) < 100_000
        assert "<script src" not in html and "https://fonts" not in html
        # The English page, and last week's recorded board.
        status, english, _ = await get(f"{site.url}/week?lang=en")
        assert status == 200 and "6 members" in english
        last = Week.containing(utcnow(), services.rules.timezone).previous()
        status, recorded, _ = await get(f"{site.url}/week/{last.label}")
        assert status == 200 and "최종 확인 결과" in recorded


@pytest.mark.web_site
async def test_a_members_list_opens_their_posts_on_instagram(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        week = Week.containing(utcnow(), services.rules.timezone)
        status, part, _ = await get(f"{site.url}/week/{week.label}/todo/minji?part=1")
        assert status == 200 and "<html" not in part
        links = re.findall(r'href="(https://www.instagram.com/p/[^"]+)"', part)
        assert links and all("minji" not in link for link in links)
        assert 'rel="noopener noreferrer"' in part
        status, page, _ = await get(f"{site.url}/week/{week.label}/todo/nobody")
        assert status == 404 and "@nobody" in page


@pytest.mark.web_site
async def test_bad_weeks_get_a_clear_page(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        status, html, _ = await get(f"{site.url}/week/2026-W99")
        assert status == 404 and "2026년은 1주부터 53주까지" in html  # no such week
        status, html, _ = await get(f"{site.url}/week/2026-X48")
        assert status == 404 and "2026-W48" in html  # says how to write a week
        status, html, _ = await get(f"{site.url}/week/soon")
        assert status == 404 and "soon" in html
        status, html, _ = await get(f"{site.url}/week/2099-W01")
        assert status == 404 and "아직 시작하지 않은 주예요" in html


@pytest.mark.web_site
async def test_user_text_is_escaped(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        async with services.transaction() as tx:
            await tx.session.execute(update(Member).where(Member.instagram_username == "hana")
                                     .values(display_name='<script>alert("x")</script>'))
        status, html, _ = await get(f"{site.url}/week")
        assert status == 200
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.web_site(board=BoardMode.PRIVATE)
async def test_private_board_shows_counts_only(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        status, html, _ = await get(f"{site.url}/week")
        assert status == 200 and "<details" not in html and "남은 게시물" in html
        week = Week.containing(utcnow(), services.rules.timezone)
        status, _, _ = await get(f"{site.url}/week/{week.label}/todo/minji?part=1")
        assert status == 403
        personal = await site.personal_url("minji")
        status, html, _ = await get(personal)
        assert status == 200 and "instagram.com/p/" in html


@pytest.mark.web_site
async def test_personal_page_and_its_token(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        personal = await site.personal_url("minji")
        status, html, headers = await get(personal)
        assert status == 200 and "@minji" in html
        assert headers["Cache-Control"] == "no-store"
        assert "내 제출" in html and "지금 확인" in html
        token = personal.rsplit("/", 1)[1]
        body, signature = token.split(".")
        forged = f"{body}.{'A' * len(signature)}"
        status, html, _ = await get(f"{site.url}/m/{forged}")
        assert status == 403 and "올바르지 않아요" in html
        status, html, _ = await get(f"{site.url}/m/nonsense")
        assert status == 403 and "올바르지 않아요" in html
        async with services.transaction() as tx:
            member_id = (await tx.accounts.members.by_username("minji")).id  # type: ignore[union-attr]
            await site.links.revoke(tx.session, member_id)
        status, html, _ = await get(personal)
        assert status == 403 and "더 이상 쓰지 않는 링크" in html


@pytest.mark.web_site
async def test_check_now_from_the_page_keeps_the_cooldown(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        personal = await site.personal_url("minji")
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{personal}/check", allow_redirects=False) as first:
                assert first.status == 303
                assert first.headers["Location"].endswith("?check=started")
            async with client.post(f"{personal}/check") as second:
                assert second.status == 200
                assert "다시 확인할 수 있어요" in await second.text()
        for task in list(site.pages._checks):
            await task


@pytest.mark.web_site
async def test_picture_decodes_and_fits_a_phone(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        week = Week.containing(utcnow(), services.rules.timezone).previous()
        async with aiohttp.ClientSession() as client, \
                client.get(f"{site.url}/week/{week.label}.png") as response:
            assert response.status == 200 and response.content_type == "image/png"
            png = await response.read()
        image = Image.open(io.BytesIO(png))
        image.load()
        assert image.width == 1080 and image.height < 10_000
        assert len(png) < 1_000_000


@pytest.mark.web_site
async def test_the_board_counts_what_each_members_status_lists(services, simulated) -> None:
    from services.web.board import BoardService

    async with demo_site(services, simulated):
        week = Week.containing(utcnow(), services.rules.timezone)
        await services.checks.week(week)  # some done, some missing
        async with services.sessions() as session:
            board = await BoardService(session, services.rules).board(week)
        assert board.checked_at is not None
        async with services.transaction() as tx:
            for row in board.rows:
                view = await tx.progress.status(row.member_id, utcnow())  # type: ignore[arg-type]
                assert (row.owed, row.left) == (len(view.todo), len(view.open_items)), row
                assert row.missing == sum(1 for i in view.todo if i.status == "missing")
