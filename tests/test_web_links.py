"""Personal links that name nobody else, and a deleted member gone from finished weeks:
over HTTP on the demo's community, members deleted with /deluser in a chat."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

import bot.web_pages
from handlers.dispatcher import Dispatcher
from services.web.links import NEWLINKS_PER_DAY
from services.week.calendar import Week
from storage.models import Member, utcnow
from tests.support.chat_driver import Person
from tests.support.web_site import demo_site


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, (await response.read()).decode(errors="replace")


async def delete(dispatcher: Dispatcher, username: str) -> None:
    admin = Person(dispatcher, "admin")  # the demo's admin, on the console
    await admin.say(f"/deluser {username}")
    await admin.press("삭제")
    assert f"@{username}" in admin.text and "삭제했어요" in admin.text


@pytest.mark.web_site
async def test_a_deleted_members_link_never_opens_the_next_members_page(
        services, simulated, dispatcher) -> None:
    async with demo_site(services, simulated) as site:
        async with services.sessions() as session:
            last_id = await session.scalar(select(Member.id).where(
                Member.instagram_username == "doyun"))  # the newest member: the top id
        old = await site.personal_url("doyun")
        assert (await get(old))[0] == 200
        await delete(dispatcher, "doyun")
        assert (await get(old))[0] == 403
        # The next member added does not get the id back (SQLite reused the top id)...
        async with services.transaction() as tx:
            newcomer = Member(instagram_username="newcomer", joined_at=utcnow())
            tx.session.add(newcomer)
            await tx.session.flush()
            assert newcomer.id > last_id
        # ... and even a member given that very id is not whom the old link names.
        async with services.transaction() as tx:
            tx.session.add(Member(id=last_id, instagram_username="same.id",
                                  joined_at=utcnow()))
        status, html = await get(old)
        assert status == 403 and "same.id" not in html and "newcomer" not in html
        status, html = await get(await site.personal_url("same.id"))
        assert status == 200 and "@same.id" in html


@pytest.mark.web_site
async def test_newlink_closes_the_old_link_a_few_times_a_day(
        services, simulated, dispatcher, clock) -> None:
    async with demo_site(services, simulated) as site:
        before = await site.personal_url("minji")
        minji = Person(dispatcher, "minji")
        links = []
        for _ in range(NEWLINKS_PER_DAY):
            await minji.say("/newlink")
            found = re.findall(r"http://\S+/m/\S+", minji.text)
            assert "이전 링크는 이제 열리지 않아요" in minji.text and found
            links.append(found[0])
        status, html = await get(before)
        assert status == 403 and "더 이상 쓰지 않는 링크" in html
        for older in links[:-1]:
            assert (await get(older))[0] == 403
        assert (await get(links[-1]))[0] == 200
        await minji.say("/newlink")  # one more today: refused, the newest still opens
        assert f"하루에 {NEWLINKS_PER_DAY}번까지" in minji.text and "/m/" not in minji.text
        assert (await get(links[-1]))[0] == 200
        clock.follow(lambda: utcnow() + timedelta(days=1))  # tomorrow: new links again
        await minji.say("/newlink")
        assert "/m/" in minji.text and (await get(links[-1]))[0] == 403


@pytest.mark.web_site
async def test_padded_or_altered_tokens_do_not_open(services, simulated) -> None:
    async with demo_site(services, simulated) as site:
        personal = await site.personal_url("minji")
        token = personal.rsplit("/", 1)[1]
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{16}", token)
        assert (await get(personal))[0] == 200
        body, signature = token.split(".")
        for bad in (f"{token}=", f"{body}=.{signature}", f"{body}.{signature}==",
                    f"{token}%3D", f"{token}%0A", f"{token}%20", f" {token}".replace(" ", "%20"),
                    f"{body}.{signature}A", f"{body[:-1]}.{signature}", f"{token}.x",
                    f"{body}%2B.{signature}", f"{body[:-1]}+.{signature}",
                    f"{body}.{signature[:-1]}~"):
            status, html = await get(f"{site.url}/m/{bad}")
            assert status == 403 and "올바르지 않아요" in html, bad


def _board_rows(html: str) -> tuple[list[str], list[int]]:
    names = re.findall(r"<b>([^<]+)</b>", html)
    return names, sorted(int(n) for n in re.findall(r"남은 게시물 (\d+)", html))


@pytest.mark.web_site
async def test_a_deleted_member_is_gone_from_a_finished_weeks_board_and_picture(
        services, simulated, dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = []
    real_render = bot.web_pages.render

    def render(board, texts):  # type: ignore[no-untyped-def]
        drawn.append(board)
        return real_render(board, texts)

    monkeypatch.setattr(bot.web_pages, "render", render)
    async with demo_site(services, simulated) as site:
        week = Week.containing(utcnow(), services.rules.timezone).previous()
        codes = [f"D{week.start:%y%m%d}5{n}x" for n in range(2)]  # doyun's two posts
        board_url = f"{site.url}/week/{week.label}"
        status, before = await get(board_url)
        assert status == 200 and "@doyun" in before and "최종 확인 결과" in before
        names_before, left_before = _board_rows(before)
        owing = [name[1:] for name in names_before if name.startswith("@")]
        lists_before = {name: (await get(f"{board_url}/todo/{name}?part=1"))[1]
                        for name in owing}
        assert any(code in html for html in lists_before.values() for code in codes)
        assert (await get(f"{board_url}.png"))[0] == 200
        picture_before = drawn[-1]

        await delete(dispatcher, "doyun")

        for lang in ("", "?lang=en"):
            status, after = await get(board_url + lang)
            assert status == 200 and "doyun" not in after.lower()
            assert not any(code in after for code in codes)
        status, after = await get(board_url)
        names_after, left_after = _board_rows(after)
        assert "(삭제된 멤버)" in names_after and "@doyun" not in names_after
        assert len(names_after) == len(names_before) and left_after == left_before
        assert "회원 6명" in before and "회원 6명" in after
        assert "(deleted member)" in (await get(board_url + "?lang=en"))[1]
        # Each member's list: the same number of posts, none of them linking doyun's.
        for name in owing:
            if name == "doyun":
                continue
            status, html = await get(f"{board_url}/todo/{name}?part=1")
            assert status == 200 and "doyun" not in html.lower()
            assert not any(code in html for code in codes)
            assert html.count("<li>") == lists_before[name].count("<li>")
        assert (await get(f"{board_url}/todo/doyun?part=1"))[0] == 404
        # The picture: drawn from the same numbers, without the name.
        status, _ = await get(f"{board_url}.png")
        assert status == 200
        picture_after = drawn[-1]
        assert "doyun" not in {row.username for row in picture_after.rows}
        assert picture_after.posts == picture_before.posts

        def numbers(board):  # type: ignore[no-untyped-def]
            return Counter((row.owed, row.done, row.missing, row.submitted)
                           for row in board.rows)

        assert numbers(picture_after) == numbers(picture_before)
        # The week's records hold neither the name nor the posts' links any more.
        from storage.models import (
            WeekCorrection,
            WeekRecordEntry,
            WeekRecordMember,
            WeekRecordPost,
        )
        async with services.sessions() as session:
            texts = []
            for model in (WeekRecordMember, WeekRecordPost, WeekRecordEntry, WeekCorrection):
                for row in (await session.execute(select(model))).scalars():
                    texts.append(repr({c.name: getattr(row, c.key)
                                       for c in model.__table__.columns}))
        assert texts and not any("doyun" in text or any(code in text for code in codes)
                                 for text in texts)
