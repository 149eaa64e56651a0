"""A finished week is a record: later membership changes never rewrite it, corrections
show with who made them and why."""

from __future__ import annotations

from sqlalchemy import select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from storage.models import Member, Strike
from tests.conftest import Clock
from tests.support.chat_driver import Person
from tests.support.weekly_jobs import AFTER_DEADLINE, WEDNESDAY, Phone, community, jobs_for


async def say(person: Person, text: str) -> str:
    await person.say(text)
    return person.text


async def test_a_finished_week_reads_the_same_after_suspend_pause_adduser_deluser(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=6, posts_each=2, comment_rate=0.6)
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, Phone(), clock).final()
    chat = Dispatcher(timed)
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    first, second, third, fourth, *rest = found.members
    members = {name: Person(chat, f"tg-{name}", name, platform="telegram")
               for name in (first, second, third, *rest)}

    async def snapshot(board: bool = True) -> dict[str, str]:
        seen = {"admin": await say(admin, "/results 2026-W48")}
        for name, person in members.items():
            seen[name] = await say(person, "결과")
            # /me's history; its first lines say who the member is and their status now.
            seen[f"{name} me"] = "\n".join((await say(person, "/me")).splitlines()[2:])
        if board:  # the ranking of today's members (a deleted member leaves it)
            seen["board"] = await say(members[first], "/leaderboard")
        return seen

    before = await snapshot()
    assert "11월 23일" in before[first] and "@" in before["admin"]
    assert all("처리 중 문제" not in text for text in before.values())
    await admin.say(f"/suspend {second} 2")
    await admin.say(f"/pause {third}")
    simulated.add_account("newcomer.kim")  # a helper is free: /adduser looks the name up
    await admin.say("/adduser newcomer.kim")
    async with timed.transaction() as tx:
        statuses = dict((await tx.session.execute(
            select(Member.instagram_username, Member.status))).all())
    assert (statuses[second], statuses[third]) == ("suspended", "paused")
    assert statuses["newcomer.kim"] == "active"
    assert await snapshot() == before
    await admin.say(f"/deluser {fourth} confirm")
    async with timed.transaction() as tx:
        left = set((await tx.session.scalars(select(Member.instagram_username))).all())
    assert fourth not in left
    after = await snapshot(board=False)
    # The week's numbers stay; the deleted member's name and post links do not: each of
    # their lines now says "(삭제된 멤버)" and links nothing.
    assert after.keys() == {k for k in before if k != "board"}
    assert all(fourth not in text for text in after.values())
    for key, text in after.items():
        was = [line for line in before[key].splitlines() if f"@{fourth}" not in line]
        now = [line for line in text.splitlines()
               if "(삭제된 멤버)" not in line and "(deleted member)" not in line]
        assert sorted(now) == sorted(was), key
        assert len(text.splitlines()) == len(before[key].splitlines()), key


async def test_a_pardon_shows_in_the_record_with_who_and_why(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=4, posts_each=2, comment_rate=0.3)
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, Phone(), clock).final()
    async with timed.transaction() as tx:
        struck = (await tx.session.execute(
            select(Member.instagram_username).join(Strike, Strike.member_id == Member.id)
            .where(Strike.reason == "missing"))).scalars().first()
    assert struck is not None and struck in found.members
    chat = Dispatcher(timed)
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    before = await say(admin, "/results 2026-W48")
    await admin.say(f"/pardon {struck}")
    after = await say(admin, "/results 2026-W48")
    assert after.startswith(before)  # nothing rewritten; the correction is added below
    assert "Corrected after the results" in after and f"@{struck}" in after.split(
        "Corrected")[1] and "boss" in after.split("Corrected")[1]


async def test_an_appeal_recheck_corrects_the_record_and_says_so(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=4, posts_each=2, comment_rate=0.5)
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, Phone(), clock).final()
    async with timed.transaction() as tx:
        strike = await tx.session.scalar(select(Strike).where(Strike.reason == "missing"))
        assert strike is not None
        name = await tx.session.scalar(select(Member.instagram_username).where(
            Member.id == strike.member_id))
        posts = [url for _, url in strike.detail["posts"]]
    # The member comments now, then appeals: the re-check finds every comment.
    for url in posts:
        shortcode = url.rstrip("/").rsplit("/", 1)[-1]
        simulated.posts[shortcode].comments.append((name, "늦었지만 좋아요!"))
    chat = Dispatcher(timed)
    member = Person(chat, f"tg-{name}", name, platform="telegram")
    await member.say("/appeal")
    assert "✅" in member.text
    result = await say(member, "결과")
    assert "결과가 나온 뒤 고친 것" in result and "봇이 다시 확인" in result
    assert "빠짐 → 완료" in result
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    board = await say(admin, "/results 2026-W48")
    assert f"@{name} → " in board and "missing → done" in board and "appeal" in board
    assert found.members


async def test_an_admins_correction_shows_with_name_and_reason(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    await community(timed, simulated, members=3, posts_each=2, comment_rate=0.3)
    clock.now = AFTER_DEADLINE
    chat = Dispatcher(timed)
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    await admin.say("/correct minji https://www.instagram.com/p/C0100001x/ done hidden")
    assert "not recorded yet" in admin.text
    await jobs_for(timed, Phone(), clock).final()
    async with timed.transaction() as tx:
        results = await tx.progress.week_results(
            Week.containing(WEDNESDAY, timed.rules.timezone))
    member = next(m for m in results.members if m.missing)
    item = member.missing[0]
    for bad in ("", f"{member.username}", f"{member.username} {item.url} maybe why",
                f"{member.username} not-a-link done why", f"nobody {item.url} done why"):
        await admin.say(f"/correct {bad}")
        assert ("went wrong" not in admin.text and "Send: /correct" in admin.text) or \
            "has no comment" in admin.text, (bad, admin.text)
    await admin.say(f"/correct @{member.username} {item.url} done the comment was filtered")
    assert "Corrected the record" in admin.text and "missing → done" in admin.text
    board = await say(admin, "/results 2026-W48")
    assert "admin boss" in board and "the comment was filtered" in board
    assert f"@{member.username} → @{item.owner} {item.url}: missing → done" in board
