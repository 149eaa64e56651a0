"""The accountability ladder over simulated weeks, appeals, removal, the leaderboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery import Delivery
from handlers.dispatcher import Dispatcher
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from services.week.submissions import SubmissionRepo
from storage.models import AuditEntry, ChatAccount, Member, Strike, Verification
from tests.conftest import Clock
from tests.support.chat_driver import Person
from tests.support.weekly_jobs import AFTER_DEADLINE, Phone, community

LATER = timedelta(minutes=5)  # the final check reads after the comment deadline
FIRST = Week(datetime(2026, 10, 5).date(), Week.containing(AFTER_DEADLINE, __import__(
    "zoneinfo").ZoneInfo("Asia/Seoul")).zone)  # a Monday, weeks before the tests' "now"


async def add_members(services: Services, *names: str, joined: datetime) -> dict[str, int]:
    async with services.transaction() as tx:
        rows = [Member(instagram_username=n, joined_at=joined) for n in names]
        tx.session.add_all(rows)
        await tx.session.flush()
        return {m.instagram_username: m.id for m in rows}


async def play(services: Services, week: Week, ids: dict[str, int], *,
               posts: dict[str, int] | None = None, verdicts: dict[str, str] | None = None
               ) -> list[Any]:
    """A week: each member hands in `posts` (default 2), every owed row gets the member's
    verdict (default done), then the ladder runs as after the results."""
    posts, verdicts = posts or {}, verdicts or {}
    async with services.transaction() as tx:
        active = set((await tx.session.scalars(select(Member.instagram_username).where(
            Member.status == "active"))).all())
        repo, subs = SubmissionRepo(tx.session), []
        for name, member_id in ids.items():
            if name not in active:
                continue
            for n in range(posts.get(name, 2)):
                code = f"{name[:4]}{week.start:%m%d}{n}"
                subs.append((name, await repo.add(member_id, week.start, f"u/{code}", code,
                                                  submitted_at=week.at("MON 10:00"))))
        for name, member_id in ids.items():
            if name not in active:
                continue
            for owner, sub in subs:
                if owner != name and sub.submitted_at >= (await tx.session.get(
                        Member, member_id)).joined_at:  # type: ignore[union-attr]
                    tx.session.add(Verification(member_id=member_id, submission_id=sub.id,
                                                status=verdicts.get(name, "done"),
                                                checked_at=week.at("SUN 23:59") + LATER))
        await tx.session.flush()
        return await tx.accountability.apply_week(week, week.at("SUN 23:59") + timedelta(
            minutes=10))


async def active_strikes(services: Services, name: str) -> int:
    async with services.transaction() as tx:
        return len((await tx.session.scalars(
            select(Strike).join(Member, Member.id == Strike.member_id)
            .where(Member.instagram_username == name, Strike.status == "active"))).all())


async def status_of(services: Services, name: str) -> tuple[str, datetime | None]:
    async with services.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == name))
        assert member is not None
        return member.status, member.status_until


@pytest.mark.rules(ladder=("warning", "suspend 1", "suspend 2", "removal"))
async def test_the_ladder_over_two_months(services: Services) -> None:
    ids = await add_members(services, "ahn", "bae", joined=FIRST.at("MON 00:00")
                            - timedelta(days=30))
    week = FIRST
    news = await play(services, week, ids, verdicts={"ahn": "missing"})
    assert [(n.username, n.step, [s.reason for s in n.strikes]) for n in news] == \
        [("ahn", "warning", ["missing"])]
    # Unknown results never strike, whatever else happens.
    week = Week(week.start + timedelta(weeks=1), week.zone)
    news = await play(services, week, ids, verdicts={"ahn": "missing", "bae": "unknown"})
    assert [(n.username, n.step) for n in news] == [("ahn", "suspend 1")]
    assert await active_strikes(services, "bae") == 0
    status, until = await status_of(services, "ahn")
    # Suspended until the Monday after next begins in Seoul: Sunday 15:00 UTC.
    assert status == "suspended" and until == datetime(2026, 10, 25, 15, 0, tzinfo=UTC)
    # The ladder of the same week again: nothing more happens.
    async with services.transaction() as tx:
        assert await tx.accountability.apply_week(week, week.at("SUN 23:59")) == []
    # A new member's first week is a grace week.
    ids |= await add_members(services, "cho", joined=Week(
        week.start + timedelta(weeks=1), week.zone).at("TUE 09:00"))
    week = Week(week.start + timedelta(weeks=1), week.zone)
    news = await play(services, week, ids, verdicts={"cho": "missing"}, posts={"cho": 0})
    assert news == [] and await active_strikes(services, "cho") == 0
    # The suspension ends on time: not a minute before Monday 00:00 in Seoul.
    async with services.transaction() as tx:
        assert await tx.accountability.lift_due(until - timedelta(minutes=1)) == []
        assert await tx.accountability.lift_due(until) == [(ids["ahn"], "suspended")]
    # Four clean weeks in a row: ahn's two strikes expire.
    for n in range(4):
        week = Week(week.start + timedelta(weeks=1), week.zone)
        news = await play(services, week, ids)
        assert await active_strikes(services, "ahn") == (2 if n < 3 else 0)
    assert [(x.username, x.expired) for x in news] == [("ahn", 2)]
    # Fewer posts than the minimum earns a strike too; a third strike now is a warning
    # again, as the old ones expired.
    week = Week(week.start + timedelta(weeks=1), week.zone)
    news = await play(services, week, ids, posts={"bae": 1})
    assert [(n.username, n.step, n.strikes[0].reason) for n in news] == \
        [("bae", "warning", "below_minimum")]


async def test_two_empty_weeks_propose_removal_which_only_an_admin_confirms(
    services: Services, dispatcher: Dispatcher
) -> None:
    from tests.support.members import make_admin

    ids = await add_members(services, "dan", "eun", joined=FIRST.at("MON 00:00")
                            - timedelta(days=30))
    await play(services, FIRST, ids, posts={"dan": 0})
    news = await play(services, Week(FIRST.start + timedelta(weeks=1), FIRST.zone), ids,
                      posts={"dan": 0})
    (dan,) = news
    assert dan.removal_proposed and dan.empty_weeks == 2
    assert (await status_of(services, "dan"))[0] == "active"  # proposed, not done
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    replies = await admin.say("/remove dan")
    assert "내보낼까요?" in admin.text and replies[0].buttons[0].payload == "/remove dan confirm"
    assert (await status_of(services, "dan"))[0] == "active"
    await admin.press("내보내기")
    assert admin.text == "@dan을 품앗이에서 내보냈어요."
    assert (await status_of(services, "dan"))[0] == "removed"


async def test_the_leaderboard_matches_a_hand_computed_table(
    services: Services, dispatcher: Dispatcher
) -> None:
    ids = await add_members(services, "gil", "han", "ivy", joined=FIRST.at("MON 00:00")
                            - timedelta(days=30))
    # Each owes 4 comments a week (2 posts each of the two others).
    plan = [{}, {"han": "missing"}, {"ivy": "unknown"}, {"han": "missing", "ivy": "missing"}]
    for n, verdicts in enumerate(plan):
        await play(services, Week(FIRST.start + timedelta(weeks=n), FIRST.zone), ids,
                   verdicts=verdicts)
    # gil: 4 complete weeks (streak 4, 16/16); han: weeks 1,3 complete (streak 0, 8/16);
    # ivy: weeks 1,2 complete, 3 unknown, 4 missing (streak 0, best 2, 8/16 done).
    when = Week(FIRST.start + timedelta(weeks=3), FIRST.zone).at("SAT 12:00")  # Oct 31
    async with services.transaction() as tx:
        board = await tx.accountability.leaderboard(when)
        gil = await tx.accountability.me(await tx.accountability.member_by_name("gil"))
        ivy = await tx.accountability.me(await tx.accountability.member_by_name("ivy"))
    assert board.streaks == [("gil", 4)]
    from handlers.announcements import group_results

    async with services.transaction() as tx:
        results = await tx.progress.week_results(Week(FIRST.start + timedelta(weeks=3),
                                                      FIRST.zone))
    assert "🔥 연속 완료: @gil 4주" in group_results(results, {}, board.streaks)("ko")
    assert board.all_time == [("gil", 1.0), ("han", 0.5), ("ivy", 0.5)]
    # This month (October): the same four weeks.
    assert board.month == board.all_time
    assert (gil.streak, gil.best_streak, gil.completion) == (4, 4, 1.0)
    assert (ivy.streak, ivy.best_streak, ivy.completion) == (0, 2, 0.5)
    async with services.transaction() as tx:
        tx.session.add(ChatAccount(platform="console", platform_user_id="p-ivy",
                                   member_id=ids["ivy"]))
    person = Person(dispatcher, "p-ivy")
    await person.say("/me")
    assert "🔥 연속 완료: 0주 (최고 2주)" in person.text and "완료율: 해야 할 댓글의 50%" in \
        person.text and "⚠️ 경고: 1회" in person.text
    await person.say("순위")
    assert "1. @gil — 4주" in person.text and "3. @ivy — 50%" in person.text


async def test_an_appeal_clears_itself_or_goes_to_the_admins(
    services: Services, simulated: SimulatedInstagram, dispatcher: Dispatcher, clock: Clock
) -> None:
    clock.now = AFTER_DEADLINE
    found = await community(services, simulated, members=3, posts_each=2, comment_rate=0.0)
    phone = Phone()
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    await WeeklyJobs(services, services.delivery, clock=clock).final()
    first, second, third = found.members
    assert await active_strikes(services, first) == 1
    # `first` comments now on the four posts; `second` does not.
    for code, (owner, _) in found.posts.items():
        if owner != first:
            simulated.posts[code].comments.append((first, "늦었지만 좋아요!"))
    clock.now += timedelta(hours=2)
    services.checks.cache.ttl = 0  # the commenter lists of the final check are stale now
    one = Person(dispatcher, f"tg-{first}", platform="telegram")
    await one.say("/appeal")
    assert one.last.replies[0].text.startswith("🔎") and "경고를 없앴어요" in one.text
    assert await active_strikes(services, first) == 0
    two = Person(dispatcher, f"tg-{second}", platform="telegram")
    await two.say("/appeal")
    assert "관리자에게 보냈어요" in two.text
    (to_admin,) = [t for c, t in phone.sent if c == "tg-admin" and "Appeal #" in t]
    assert "Still missing after a new check:" in to_admin
    buttons = phone.buttons["tg-admin"]
    assert [b.label for b in buttons] == ["Uphold", "Pardon"]
    admin = Person(dispatcher, "tg-admin", platform="telegram")
    await admin.say(buttons[1].payload)
    assert admin.text.startswith("Appeal #") and "pardoned" in admin.text
    assert await active_strikes(services, second) == 0
    assert any("관리자가" in t and "경고를 취소했어요" in t for t in phone.to(f"tg-{second}"))
    await two.say("/appeal")
    assert "이의 신청할 수 있는 경고가 없어요" in two.text
    # The window closes 48 hours after the results.
    clock.now += timedelta(hours=47)
    assert await active_strikes(services, third) == 1
    three = Person(dispatcher, f"tg-{third}", platform="telegram")
    await three.say("/appeal")
    assert "이의 신청할 수 있는 경고가 없어요 (결과 발표 후 48시간" in three.text


async def test_a_hidden_comment_is_counted_by_an_admin_with_one_tap(
    services: Services, simulated: SimulatedInstagram, dispatcher: Dispatcher, clock: Clock
) -> None:
    """Instagram hides a comment from every reader: the re-check cannot find it, the member
    says so, an admin counts it post by post, the record and the strike follow."""
    clock.now = AFTER_DEADLINE
    found = await community(services, simulated, members=3, posts_each=2, comment_rate=0.0)
    phone = Phone()
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    await WeeklyJobs(services, services.delivery, clock=clock).final()
    first, second, _third = found.members
    clock.now += timedelta(hours=2)
    member = Person(dispatcher, f"tg-{first}", platform="telegram")
    await member.say("/appeal")
    assert "관리자에게 보냈어요" in member.text
    await member.press("내 댓글이 숨겨졌어요")
    assert "숨겨졌다는 말과 함께" in member.text
    (to_admin,) = [t for c, t in phone.sent if c == "tg-admin" and "hid the comment" in t]
    owed = [(owner, f"https://www.instagram.com/p/{code}/")
            for code, (owner, _) in found.posts.items() if owner != first]
    assert len(owed) == 4
    for n, (owner, url) in enumerate(owed, 1):
        assert f"{n}. @{owner} {url}" in to_admin
    buttons = phone.buttons["tg-admin"]
    assert [b.label for b in buttons] == [*(f"Count it {n} @{o}" for n, (o, _) in
                                            enumerate(owed, 1)), "Count all", "Uphold"]
    await member.say("/appeal hidden")  # said twice: the admins are not asked twice
    assert "이미 관리자에게 전했어요" in member.text
    assert len([t for c, t in phone.sent if c == "tg-admin" and "hid the comment" in t]) == 1
    # Only an admin may count it.
    other = Person(dispatcher, f"tg-{second}", platform="telegram")
    await other.say(buttons[0].payload)
    assert other.text == "관리자만 쓸 수 있는 명령이에요."
    admin = Person(dispatcher, "tg-admin", "boss", platform="telegram", language_hint="en")
    await admin.say(buttons[0].payload)
    owner, url = owed[0]
    assert f"Counted: @{first} → @{owner} {url}" in admin.text
    assert "3 posts still not counted." in admin.text
    assert await active_strikes(services, first) == 1
    told = phone.to(f"tg-{first}")[-1]
    assert told.startswith("✅ 관리자가 숨겨진 댓글을 인정했어요") and f"• @{owner} {url}" in told
    assert "나머지 게시물 3개" in told
    # A second press changes nothing.
    await admin.say(buttons[0].payload)
    assert admin.text == f"Already counted: @{first} → @{owner} {url}. Nothing changed."
    record = "\n".join(r.text for r in await admin.say("/results 2026-W48"))
    assert record.count(f"@{first} → @{owner} {url}: missing → done (admin boss, hidden "
                        "comment)") == 1
    # "Count all" counts the other three and pardons the strike, in the admin's name.
    await admin.say(buttons[-2].payload)
    assert admin.text.count("Counted:") == 3 and f"@{first}'s strike" in admin.text \
        and "pardoned" in admin.text
    assert await active_strikes(services, first) == 0
    told = phone.to(f"tg-{first}")[-1]
    assert "관리자가" in told and "경고를 취소했어요" in told
    board = "\n".join(r.text for r in await admin.say("/results 2026-W48"))
    corrections = board.split("Corrected after the results")[1]
    assert corrections.count("(admin boss, hidden comment)") == 5  # 4 verdicts, 1 pardon
    assert f"@{first}: strike for" in corrections
    mine = "\n".join(r.text for r in await member.say("결과"))
    assert "빠짐 → 완료 (관리자 boss, 숨겨진 댓글)" in mine
    await admin.say(buttons[-2].payload)
    assert admin.text.count("Already counted") == 4
    async with services.transaction() as tx:
        actions = (await tx.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(("hidden_counted", "strike_pardoned"))))).all()
    assert sorted(actions) == ["hidden_counted"] * 4 + ["strike_pardoned"]


async def test_a_member_says_at_once_that_the_comment_is_hidden(
    services: Services, simulated: SimulatedInstagram, dispatcher: Dispatcher, clock: Clock
) -> None:
    clock.now = AFTER_DEADLINE
    found = await community(services, simulated, members=2, posts_each=2, comment_rate=0.0)
    phone = Phone()
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    await WeeklyJobs(services, services.delivery, clock=clock).final()
    first, second = found.members
    member = Person(dispatcher, f"tg-{first}", platform="telegram")
    await member.say("이의 신청 숨김")  # KakaoTalk's words, /appeal hidden elsewhere
    assert "숨겨졌다는 말과 함께" in member.text
    (to_admin,) = [t for c, t in phone.sent if c == "tg-admin" and "hid the comment" in t]
    assert f"1. @{second} https://www.instagram.com/p/" in to_admin
    buttons = phone.buttons["tg-admin"]
    assert [b.label for b in buttons] == [f"Count it 1 @{second}", f"Count it 2 @{second}",
                                          "Count all", "Uphold"]
    admin = Person(dispatcher, "tg-admin", "boss", platform="telegram", language_hint="en")
    await admin.say(buttons[2].payload)
    assert admin.text.count("Counted:") == 2 and "pardoned" in admin.text
    assert await active_strikes(services, first) == 0
    # Once the admins upheld a strike, nothing is counted any more.
    await Person(dispatcher, f"tg-{second}", platform="telegram").say("/appeal 숨김")
    payloads = [b.payload for b in phone.buttons["tg-admin"]]
    await admin.say(payloads[-1])  # uphold
    await admin.say(payloads[0])
    assert admin.text.endswith("already decided: upheld.")
    assert await active_strikes(services, second) == 1
    await admin.say("/counthidden 999 1")
    assert "no hidden comment to count for #999" in admin.text
