"""Where people see a rename on Instagram: the member and the admins are told once, old
names still resolve where names are typed or imported, `/adduser` never makes a second
member of one account, finished weeks keep the names they were written with, and the
accounts the bot logs in are known by pk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.members.instagram_identities import rename
from services.members.queries import MemberRepo
from services.rules import CommunityRules
from services.week.calendar import Week
from storage.db import session_factory
from storage.models import Admin, ChatAccount, Helper, Member, Producer, Strike, Submission
from testkit.kakao_export_builder import ExportBuilder
from tests.conftest import Clock
from tests.support.chat_driver import Person
from tests.support.helpers import add as add_helper
from tests.support.helpers import admin_of, stored
from tests.support.weekly_jobs import AFTER_DEADLINE, WEDNESDAY, Phone, community, jobs_for


async def member_named(services: Services, name: str) -> Member | None:
    async with services.transaction() as tx:
        return await tx.session.scalar(select(Member).where(Member.instagram_username == name))


async def members_count(services: Services) -> int:
    async with services.transaction() as tx:
        return await tx.session.scalar(select(func.count()).select_from(Member)) or 0


async def renamed_in_db(services: Services, old: str, new: str) -> int:
    """What a check does when a read shows the member's pk under a new name."""
    async with services.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == old))
        assert member is not None
        member.instagram_pk = member.instagram_pk or "1784001"
        await tx.session.flush()
        done = await rename(tx.session, member.id, member.instagram_pk, new, tx.now())
        assert done == (member.id, old, new)
        return member.id


# --- told once ---------------------------------------------------------------------------


async def test_a_member_renamed_mid_week_is_told_once_and_the_admins_once(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=3, posts_each=1)
    old = found.members[0]
    phone = Phone()
    await jobs_for(timed, phone, clock).refresh()  # the reads learn everyone's pk
    simulated.rename(old, "hana.new")
    # A post read before is read again only for its newer comments: the next comment
    # the renamed account makes shows its pk under the new name.
    other_post = next(c for c, (o, _) in found.posts.items() if o != old)
    simulated.posts[other_post].comments.append(("hana.new", "또 왔어요!"))
    clock.now += timedelta(hours=3)
    await jobs_for(timed, phone, clock).refresh()
    told = [t for t in phone.to(f"tg-{old}") if "아이디가" in t]
    assert told == [f"ℹ️ 인스타그램 아이디가 @{old}에서 @hana.new로 바뀐 걸 확인했어요. "
                    "앞으로 @hana.new로 확인해요. "
                    "오픈채팅 닉네임도 '실명 @hana.new' 형식으로 바꿔 주세요."]
    admin = phone.to("tg-admin")
    assert [t for t in admin if "changed their Instagram username" in t] == [
        f"ℹ️ @{old} changed their Instagram username to @hana.new. "
        "Their record carries on."]
    assert any(f"Renamed on Instagram: @{old} → @hana.new" in t for t in admin)
    assert await member_named(timed, "hana.new") is not None
    clock.now += timedelta(hours=3)  # the next checks see the same name: nothing to tell
    await jobs_for(timed, phone, clock).refresh()
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, phone, clock).final()
    assert len([t for t in phone.to(f"tg-{old}") if "아이디가" in t]) == 1
    assert len([t for t in phone.to("tg-admin") if "changed their Instagram" in t]) == 1


async def test_a_member_added_again_under_a_new_name_is_told_to_the_admins_once(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    """No helper was free at `/adduser`: the renamed member became a second member. The
    next reads show the two are one account: the admins hear it once, with what to do,
    and the old member's record carries on (comments matched by pk)."""
    found = await community(timed, simulated, members=3, posts_each=1)
    old, other, _ = found.members
    phone = Phone()
    await jobs_for(timed, phone, clock).refresh()  # the reads learn everyone's pk
    simulated.rename(old, "hana.new")
    async with timed.transaction() as tx:  # added again as typed (no lookup)
        tx.session.add(Member(instagram_username="hana.new", joined_at=WEDNESDAY))
    other_post = next(c for c, (o, _) in found.posts.items() if o == other)
    simulated.posts[other_post].comments.append(("hana.new", "좋아요!"))
    for _ in range(2):
        clock.now += timedelta(hours=3)
        await jobs_for(timed, phone, clock).refresh()
    said = [t for t in phone.to("tg-admin") if "same Instagram account" in t]
    assert said == [f"⚠️ Members @hana.new and @{old} are the same Instagram account "
                    f"(@{old} changed their username and was added again under the new "
                    f"one). The record carries on under @{old}; /deluser hana.new removes "
                    "the one added since, and the next check takes the new username."]
    async with timed.transaction() as tx:
        rows = dict((await tx.session.execute(
            select(Member.instagram_username, Member.instagram_pk))).all())
    assert rows["hana.new"] is None and rows[old] == simulated.pk("hana.new")
    # The admins remove the one added since: the next read that shows the account (a
    # new comment: a post read before is read again only for what is newer) takes the
    # new name.
    async with timed.transaction() as tx:
        await tx.session.delete(await tx.session.scalar(
            select(Member).where(Member.instagram_username == "hana.new")))
    for post in simulated.posts.values():  # (on their own post too: thanks to the fans)
        post.comments.append(("hana.new", "또 왔어요!"))
    clock.now += timedelta(hours=3)
    await jobs_for(timed, phone, clock).refresh()
    renamed = await member_named(timed, "hana.new")
    assert renamed is not None and renamed.instagram_pk == simulated.pk("hana.new")


async def test_a_post_of_a_private_account_is_told_unreadable_not_gone(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=3, posts_each=1)
    shortcode, (owner, _) = next(iter(found.posts.items()))
    simulated.accounts[owner].private = True
    phone = Phone()
    await jobs_for(timed, phone, clock).refresh()
    (told,) = [t for t in phone.to(f"tg-{owner}") if "비공개" in t]
    assert shortcode in told and "공개로 바꿔 주세요" in told
    assert "누락으로 처리되는 사람은 없지만" in told and "제출로 인정되지 않아요" in told
    admin = phone.to("tg-admin")
    assert any(t.startswith(f"⚠️ @{owner}'s post") and "can't be read" in t
               and shortcode in t for t in admin)
    assert any("Unreadable, the account private: 1 post " in t for t in admin)
    clock.now += timedelta(hours=3)  # still private: not told again
    await jobs_for(timed, phone, clock).refresh()
    assert len([t for t in phone.to(f"tg-{owner}") if "비공개" in t]) == 1
    async with timed.transaction() as tx:
        status = await tx.session.scalar(select(Submission.status).where(
            Submission.shortcode == shortcode))
    assert status == "private"  # not gone


# --- old names where names are typed or imported -----------------------------------------

IMPORT_TIME = datetime(2025, 12, 17, 3, 0, tzinfo=UTC)  # Wednesday noon in Seoul


@pytest.fixture
def world(engine: AsyncEngine) -> Services:
    return Services(session_factory(engine), CommunityRules(), lambda: IMPORT_TIME)


async def test_an_old_open_chat_nickname_still_credits_the_renamed_member(
    world: Services,
) -> None:
    async with world.transaction() as tx:
        for name in ("hana.daily", "dy_lee"):
            await MemberRepo(tx.session).add(name, joined_at=datetime(2025, 1, 1, tzinfo=UTC))
    member_id = await renamed_in_db(world, "hana.daily", "hana.new")
    export = ExportBuilder("iphone")
    export.message(datetime(2025, 12, 15, 9, 45), "김하나 @hana.daily",
                   "https://www.instagram.com/p/HANAOLD01/")
    export.message(datetime(2025, 12, 16, 9, 45), "김하나 @hana.new",
                   "https://www.instagram.com/p/HANANEW01/")
    export.message(datetime(2025, 12, 16, 10, 0), "김하나 hana.daily",
                   "https://www.instagram.com/p/HANAOLD02/")
    async with world.transaction() as tx:
        report = await tx.open_chat.import_file(export.bytes(), "chat.txt", tx.now(), None)
        credited = set((await tx.session.execute(
            select(Submission.member_id, Submission.shortcode))).all())
    assert report.unused == []
    assert report.added_by_member == {"hana.new": 3}
    assert credited == {(member_id, "HANAOLD01"), (member_id, "HANANEW01"),
                        (member_id, "HANAOLD02")}


async def test_admin_commands_find_a_member_by_an_old_name(
    dispatcher: Dispatcher, services: Services
) -> None:
    async with services.transaction() as tx:
        member = await MemberRepo(tx.session).add("minji", joined_at=tx.now())
        tx.session.add(Strike(member_id=member.id, week_start=Week.containing(
            tx.now(), tx.rules.timezone).previous().start, reason="below_minimum",
            detail={"submitted": 1, "minimum": 2}))
    await renamed_in_db(services, "minji", "minji.new")
    admin = await admin_of(dispatcher, services)
    await admin.say("/strikes minji")
    assert "Strikes of @minji.new:" in admin.text
    await admin.say("/pause @Minji")
    assert "minji.new" in admin.text and "There is no member" not in admin.text
    await admin.say("/resume minji")
    assert "minji.new" in admin.text and "There is no member" not in admin.text
    await admin.say("/pardon minji")
    assert "Took back @minji.new's strike" in admin.text


# --- /adduser ----------------------------------------------------------------------------


async def test_adduser_of_an_old_name_says_who_the_member_is_now(
    dispatcher: Dispatcher, services: Services
) -> None:
    async with services.transaction() as tx:
        await MemberRepo(tx.session).add("minji", joined_at=tx.now())
    await renamed_in_db(services, "minji", "minji.new")
    admin = await admin_of(dispatcher, services)
    await admin.say("/lang ko")
    await admin.say("/adduser minji")  # no helper: what the bot knows is enough
    assert "ℹ️ @minji는 이미 @minji.new로 이름을 바꾼 멤버예요." in admin.text
    assert "초대 코드가 필요하면 /adduser minji.new를 보내 주세요" in admin.text
    assert await members_count(services) == 1


async def with_helper(services: Services, sim: SimulatedInstagram) -> None:
    sim.add_account("helper.one")
    async with services.transaction() as tx:
        tx.session.add(Helper(instagram_username="helper.one", password="pw",
                              session=sim.session_for("helper.one"), status="ready"))
        await tx.helpers.load_pool()


async def test_adduser_asks_instagram_when_a_helper_is_free(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    # A member whose account was renamed on Instagram since the last check.
    simulated.add_account("minji")
    async with services.transaction() as tx:
        member = await MemberRepo(tx.session).add("minji", joined_at=tx.now())
        member.instagram_pk = simulated.pk("minji")
    simulated.rename("minji", "minji.new")
    simulated.add_account("jisoo")
    await with_helper(services, simulated)
    admin = await admin_of(dispatcher, services)
    replies = await admin.say("/adduser minji.new nobody.here jisoo")
    assert replies[0].progress and "Looking up 3 names on Instagram" in replies[0].text
    text = admin.text
    assert "On Instagram, @minji.new is the account of member @minji, renamed: " \
           "not added again." in text
    assert "⚠️ @nobody.here: no Instagram account has this name. Check the spelling; " \
           "not added." in text
    assert "✅ @jisoo added" in text
    assert await member_named(services, "minji.new") is None
    assert await member_named(services, "nobody.here") is None
    jisoo = await member_named(services, "jisoo")
    assert jisoo is not None and jisoo.instagram_pk == simulated.pk("jisoo")
    assert await members_count(services) == 2


async def test_adduser_with_no_helper_adds_as_typed(
    dispatcher: Dispatcher, services: Services
) -> None:
    admin = await admin_of(dispatcher, services)
    await admin.say("/adduser ghost.name")
    assert "✅ @ghost.name added" in admin.text
    ghost = await member_named(services, "ghost.name")
    assert ghost is not None and ghost.instagram_pk is None  # learned at the first read


# --- a finished week keeps its names ------------------------------------------------------


async def test_a_finished_week_reads_the_same_after_a_rename(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=4, posts_each=2, comment_rate=0.5)
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, Phone(), clock).final()
    chat = Dispatcher(timed)
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    people = {name: Person(chat, f"tg-{name}", name, platform="telegram")
              for name in found.members}

    async def snapshot() -> dict[str, str]:
        await admin.say("/results 2026-W48")
        seen = {"admin": admin.text}
        for name, person in people.items():
            await person.say("결과")
            seen[name] = person.text
        return seen

    before = await snapshot()
    old = found.members[0]
    assert f"@{old}" in before["admin"]
    async with timed.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == old))
        assert member is not None and member.instagram_pk is not None  # learned by reads
    await renamed_in_db(timed, old, "renamed.one")
    assert await snapshot() == before  # byte for byte: the record keeps its names
    # A correction of that week finds the member's entries by the new name too.
    week = Week.containing(WEDNESDAY, timed.rules.timezone)
    async with timed.transaction() as tx:
        records = tx.records
        owed = [url for url, (owner, _) in
                ((f"https://www.instagram.com/p/{c}/", v) for c, v in found.posts.items())
                if owner != old]
        done = await records.correct(week, "renamed.one", owed[0], "done", "boss", "seen",
                                     clock.now)
    assert done is not None and done.username == old


# --- accounts the bot logs in -------------------------------------------------------------


async def test_a_helper_login_stores_its_pk(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="pw")
    admin = await admin_of(dispatcher, services)
    await add_helper(admin, "helper.one", "pw")
    helper = await stored(services, "helper.one")
    assert helper is not None and helper.status == "ready"
    assert helper.instagram_pk == simulated.pk("helper.one")


async def test_a_producer_login_stores_its_pk(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("my.account", password="pw")
    async with services.transaction() as tx:
        member = await MemberRepo(tx.session).add("minji", joined_at=tx.now())
        code = await tx.invites.create(member.id)
        admin = ChatAccount(platform="console", platform_user_id="boss", language="ko")
        tx.session.add(admin)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=admin.id, claimed_at=tx.now()))
    minji = Person(dispatcher, "minji")
    await minji.say(f"/start {code}")
    await minji.say("/producer")
    await minji.say("my.account")
    await minji.say("pw")
    async with services.transaction() as tx:
        producer = await tx.session.scalar(select(Producer))
    assert producer is not None and producer.instagram_pk == simulated.pk("my.account")
