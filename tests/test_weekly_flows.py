"""Members and admins through the handlers: invites, submission, status, results, admin tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import AuditEntry, Member, Submission
from tests.conftest import Clock, record_verdict
from tests.support.chat_driver import Person
from tests.support.weekly_flows import WEDNESDAY, admin_person, invite_code, members
from tests.support.weekly_flows import bot as bot
from tests.support.weekly_flows import clock as clock
from tests.support.weekly_flows import world as world


async def test_adduser_gives_personal_invites_with_deep_links(
    world: Services, bot: Dispatcher
) -> None:
    admin = await admin_person(world, bot)
    await admin.say("/adduser @Kim.Minji lee_jun not/valid")
    assert "✅ @kim.minji 추가 · 초대 코드" in admin.text
    assert "https://t.me/autogram_test_bot?start=" in admin.text
    assert "⚠️ not/valid: 인스타그램 아이디 형식이 아니에요" in admin.text
    code = invite_code(admin.text, "kim.minji")
    minji = Person(bot, "tg-1")
    await minji.say(f"/start {code}")
    assert "@kim.minji 계정과 연결됐어요" in minji.text
    thief = Person(bot, "tg-2")
    await thief.say(f"/start {code}")
    assert "이미 사용된 초대 코드" in thief.text
    await thief.say("/status")
    assert "멤버만 쓸 수 있는 명령" in thief.text


async def test_a_member_links_one_account_per_platform(world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    await admin.say("/adduser minji")
    first = invite_code(admin.text, "minji")
    await Person(bot, "tg-1").say(f"/start {first}")
    await admin.say("/adduser minji")  # a member already: no second code from /adduser
    assert "이미 멤버라서 새 초대 코드를 만들지 않았어요" in admin.text
    assert "/relink minji" in admin.text and "초대 코드는 한 번만" not in admin.text
    async with world.transaction() as tx:  # a plain second code, as older versions made
        member_id = (await tx.members.ids_by_username(["minji"]))["minji"]
        second = await tx.invites.create(member_id)
    other_telegram = Person(bot, "tg-9")
    await other_telegram.say(f"/start {second}")
    assert "이미 다른 계정이 연결돼 있어요" in other_telegram.text
    kakao = Person(bot, "kakao-1", platform="kakao")
    await admin.say("/relink minji")  # the code for another messenger (or a new phone)
    await kakao.say(f"/start {admin.text.split(': ', 1)[1].split()[0]}")
    assert "@minji 계정과 연결됐어요" in kakao.text
    telegram = Person(bot, "tg-1")
    await telegram.say("/status")  # the Telegram account stays linked
    assert "내 제출" in telegram.text


async def test_submission_flow_quota_duplicates_and_withdrawal(
    world: Services, bot: Dispatcher
) -> None:
    minji, jun = await members(world, bot, "minji", "jun")
    await minji.say("/submit")
    assert "게시물 링크를 보내 주세요" in minji.text
    await minji.say("https://www.instagram.com/minji/")  # a profile: explained, still asked
    assert "프로필 링크예요" in minji.text
    assert [b.label for b in minji.last.replies[0].buttons] == ["취소"]
    await minji.say("https://www.instagram.com/p/AAAAA111/?igsh=xyz")
    assert "✅ 접수했어요 (1/3)" in minji.text and "최소 2개" in minji.text
    await minji.say("instagram.com/reel/BBBBB222")  # simply sending a link submits it
    assert "✅ 접수했어요 (2/3)" in minji.text
    await minji.say("https://instagram.com/p/AAAAA111")
    assert "이미 이번 주에 제출한 게시물" in minji.text
    await jun.say("https://www.instagram.com/p/AAAAA111/")
    assert "다른 멤버가 이번 주에 이미 제출한" in jun.text
    await minji.say("https://www.instagram.com/p/CCCCC333/ https://www.instagram.com/p/DDDDD444/")
    assert "(3/3)" in minji.text and "이미 3개를 모두 제출했어요" in minji.text

    await minji.say("/withdraw")
    assert [b.label for b in minji.last.replies[0].buttons][:3] == [
        "1. AAAAA111", "2. BBBBB222", "3. CCCCC333"]
    await minji.press("2. BBBBB222")
    assert "제출을 취소했어요. 이번 주 제출: 2/3" in minji.text
    await minji.say("https://www.instagram.com/p/DDDDD444/")
    assert "✅ 접수했어요 (3/3)" in minji.text


async def test_status_shows_the_todo_list_with_check_results(
    world: Services, bot: Dispatcher, engine: AsyncEngine
) -> None:
    minji, jun, hana = await members(world, bot, "minji", "jun", "hana")
    await jun.say("https://www.instagram.com/p/JUN00001/")
    await hana.say("https://www.instagram.com/p/HANA0001/")
    await hana.say("https://www.instagram.com/p/HANA0002/")
    await minji.say("https://www.instagram.com/p/MINJI001/")
    async with world.transaction() as tx:
        minji_id = (await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == "minji")))
        subs = {s.shortcode: s.id for s in await tx.session.scalars(select(Submission))}
        await record_verdict(tx.session, minji_id, subs["JUN00001"], "done")
        await record_verdict(tx.session, minji_id, subs["HANA0001"], "missing")
    await minji.say("내 현황")
    text = minji.text
    assert "11월 16일 (월) ~ 11월 22일 (일)" in text
    assert "댓글 달 게시물: 3개 중 1개 완료" in text
    assert "✅ @jun https://www.instagram.com/p/JUN00001/" in text
    assert "❌ @hana https://www.instagram.com/p/HANA0001/" in text
    assert "⏳ @hana https://www.instagram.com/p/HANA0002/" in text
    assert "MINJI001" not in text.split("내 제출")[0]  # never asked to comment on your own
    assert "내 제출: 1/3 (최소 2개)" in text
    assert "제출 마감: 11월 22일 (일) 12:00" in text


async def test_a_big_weeks_status_lists_the_open_posts_first_and_counts_them_all(
    world: Services, bot: Dispatcher
) -> None:
    """A thousand-member week owes more than a chat shows: /status lists the open posts
    first, says how many it left out, and counts every post; the personal page's view
    has them all."""
    from services.week.progress import ProgressService

    (minji,) = await members(world, bot, "minji")
    week_start = datetime(2026, 11, 16).date()
    async with world.transaction() as tx:
        month_ago = WEDNESDAY - timedelta(days=30)
        owners = [Member(instagram_username=f"owner{n:02d}", joined_at=month_ago,
                         status="active") for n in range(53)]
        tx.session.add_all(owners)
        await tx.session.flush()
        posts = [Submission(member_id=owner.id, week_start=week_start,
                            shortcode=f"P{n:02d}x{k}", url=f"https://www.instagram.com/p/P{n:02d}x{k}/",
                            submitted_at=WEDNESDAY - timedelta(hours=200 - 2 * n - k),
                            status="active")
                 for n, owner in enumerate(owners) for k in range(2)]
        tx.session.add_all(posts)
        await tx.session.flush()
        me = await tx.session.scalar(select(Member).where(Member.instagram_username == "minji"))
        me.joined_at, minji_id = month_ago, me.id  # the week's posts all came after
        for post in posts[:3]:  # the three oldest are done
            await record_verdict(tx.session, minji_id, post.id, "done")
        await record_verdict(tx.session, minji_id, posts[3].id, "missing")
    await minji.say("/status")
    text = minji.text
    assert "댓글 달 게시물: 106개 중 3개 완료" in text
    listed = [line for line in text.split("\n") if "instagram.com/p/P" in line]
    assert len(listed) == 100
    assert listed[0] == "❌ @owner01 https://www.instagram.com/p/P01x1/"
    assert listed[1] == "⏳ @owner02 https://www.instagram.com/p/P02x0/"
    assert not any(line.startswith("✅") for line in listed)  # done posts come last
    assert "… 외 6개" in text
    async with world.transaction() as tx:
        view = await ProgressService(tx.session, world.rules).status(minji_id, WEDNESDAY)
    assert (view.owed, view.done, view.left, len(view.todo)) == (106, 3, 103, 106)
    assert [i.shortcode for i in view.todo[-3:]] == ["P00x0", "P00x1", "P01x0"]


async def test_the_week_follows_seoul_not_utc(
    world: Services, bot: Dispatcher, clock: Clock
) -> None:
    (minji,) = await members(world, bot, "minji")
    # Sunday 2026-11-22 16:30 UTC is already Monday 01:30 in Seoul: a new week.
    clock.now = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
    await minji.say("https://www.instagram.com/p/NEWWEEK01/")
    assert "✅ 접수했어요 (1/3)" in minji.text
    await minji.say("/status")
    assert "11월 23일 (월) ~ 11월 29일 (일)" in minji.text
    # Sunday 13:00 in Seoul is after the default deadline (SUN 12:00) of the week.
    clock.now = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    await minji.say("https://www.instagram.com/p/TOOLATE1/")
    assert "제출 마감(11월 29일 (일) 12:00)이 지났어요" in minji.text
    await minji.say("/withdraw")
    assert "마감이 지나서 취소할 수 없어요" in minji.text


async def test_results_of_last_week(
    world: Services, bot: Dispatcher, clock: Clock
) -> None:
    minji, jun = await members(world, bot, "minji", "jun")
    await jun.say("https://www.instagram.com/p/JUN00001/")
    await jun.say("https://www.instagram.com/p/JUN00002/")
    await minji.say("https://www.instagram.com/p/MINJI001/")
    async with world.transaction() as tx:
        ids = dict((await tx.session.execute(select(Member.instagram_username, Member.id))).all())
        subs = {s.shortcode: s.id for s in await tx.session.scalars(select(Submission))}
        await record_verdict(tx.session, ids["minji"], subs["JUN00001"], "done")
        await record_verdict(tx.session, ids["minji"], subs["JUN00002"], "missing")
        await record_verdict(tx.session, ids["jun"], subs["MINJI001"], "done")
    clock.now += timedelta(days=7)
    await minji.say("결과")
    assert "지난주 (11월 16일 (월) ~ 11월 22일 (일)) 결과" in minji.text
    assert "내 댓글: 2개 중 1개 완료" in minji.text
    assert "❌ @jun https://www.instagram.com/p/JUN00002/" in minji.text
    assert "내 제출: 1개 (최소 2개에 못 미쳤어요)" in minji.text
    assert "게시물 3개 · 모두 완료 1명 · 빠진 댓글 있음 1명" in minji.text


async def test_notice_with_open_chat_qr(world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    (minji,) = await members(world, bot, "minji")
    await minji.say("공지")
    assert minji.text == "아직 공지가 없어요."
    await admin.say("/setnotice")
    await admin.say("이번 주 규칙\n1. 링크 2~3개\n오픈채팅: https://open.kakao.com/o/gAbCdEf1")
    assert "QR 코드 포함" in admin.text
    await minji.say("/notice")
    assert "1. 링크 2~3개" in minji.text
    assert minji.last.replies[0].image.startswith(b"\x89PNG")


async def test_groups_users_week_admins_and_audit(world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    minji, _jun = await members(world, bot, "minji", "jun")
    await minji.say("https://www.instagram.com/p/MINJI001/")
    await admin.say("/setgroup")
    assert "단톡방 안에서" in admin.text
    in_group = Person(bot, "admin", chat_kind="group", chat_id="-100")
    await in_group.say("/setgroup")
    assert "알림과 주간 결과를 보낼게요" in in_group.text
    await in_group.say("/setgroup")
    assert "이미 등록돼 있어요" in in_group.text
    await in_group.say("/unsetgroup")
    assert "더 이상 알림을 보내지 않을게요" in in_group.text

    await admin.say("/users")
    assert "• @minji — 연결: console · 이번 주 1/3" in admin.text
    await admin.say("/week")
    assert "• @minji: 1/3\n   https://www.instagram.com/p/MINJI001/" in admin.text
    assert "• @jun: 0/3" in admin.text
    await admin.say("/admins")
    assert "운영자 — console" in admin.text
    await admin.say("/deluser jun")
    await admin.press("삭제")
    assert "@jun을 삭제했어요" in admin.text
    await admin.say("/audit")
    for action in ("멤버 추가", "그룹 등록", "그룹 해제", "멤버 삭제"):  # in plain words
        assert action in admin.text


async def test_users_are_paged(world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    await admin.say("/adduser " + " ".join(f"member{n:02d}" for n in range(23)))
    await admin.say("/users")
    assert "(1/3쪽)" in admin.text and "@member09" in admin.text and "@member10" not in admin.text
    await admin.press("다음 ▶")
    assert "(2/3쪽)" in admin.text and "@member10" in admin.text


ADMIN_COMMANDS = ["/adduser x", "/deluser x", "/users", "/admins", "/setgroup", "/unsetgroup",
                  "/setnotice hi", "/week", "/audit", "/addhelper", "/helpers"]


async def test_every_admin_command_is_refused_to_members(
    world: Services, bot: Dispatcher
) -> None:
    (minji,) = await members(world, bot, "minji")
    stranger = Person(bot, "nobody")
    for command in ADMIN_COMMANDS:
        for person in (minji, stranger):
            await person.say(command)
            assert person.text == "관리자만 쓸 수 있는 명령이에요.", command
    async with world.transaction() as tx:
        refused = (await tx.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "refused"))).all()
    assert len(refused) == 2 * len(ADMIN_COMMANDS)


@pytest.mark.parametrize("late_joiners_owe", [False, True])
async def test_a_member_who_joins_mid_week_owes_what_the_rules_say(
    engine: AsyncEngine, clock: Clock, late_joiners_owe: bool
) -> None:
    """/status and the check agree on who owes a post handed in before someone joined."""
    from services.verification.verifier import posts_to_check
    from services.week.calendar import Week
    from services.week.progress import ProgressService

    rules = CommunityRules(late_joiners_owe_earlier_posts=late_joiners_owe)
    services = Services(session_factory(engine), rules, clock)
    monday, tuesday = WEDNESDAY - timedelta(days=2), WEDNESDAY - timedelta(days=1)
    week = Week.containing(WEDNESDAY, rules.timezone)
    async with services.transaction() as tx:
        jun = Member(instagram_username="jun", joined_at=monday - timedelta(days=30))
        hana = Member(instagram_username="hana", joined_at=tuesday)  # joined on Tuesday
        tx.session.add_all([jun, hana])
        await tx.session.flush()
        for code, at in (("EARLY001", monday), ("LATER001", WEDNESDAY)):
            tx.session.add(Submission(member_id=jun.id, week_start=week.start, shortcode=code,
                                      url=f"https://www.instagram.com/p/{code}/",
                                      submitted_at=at, status="active"))
    async with services.transaction() as tx:
        view = await ProgressService(tx.session, rules).status(hana.id, WEDNESDAY)
        owed = {post.shortcode: set(post.owed_by) for post in
                await posts_to_check(tx.session, week, rules)}
    expected = ["EARLY001", "LATER001"] if late_joiners_owe else ["LATER001"]
    assert [item.shortcode for item in view.todo] == expected
    assert [code for code in ("EARLY001", "LATER001") if hana.id in owed[code]] == expected
    assert all(item.status == "unchecked" for item in view.todo) and view.own == []
