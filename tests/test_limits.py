"""Limits a stranger cannot get around: invite codes throttled like claims, a capped
whitelist, an audit log where refusals cannot push out the admins' actions, and wrong
Instagram passwords that cannot lock an account's owner out."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.unfollow.answer import WHITELIST_MAX
from tests.support.chat_driver import Person
from tests.support.members import make_admin, make_member


async def test_invite_codes_cannot_be_guessed_without_limit(
    dispatcher: Dispatcher, services: Services
) -> None:
    stranger = Person(dispatcher, "guesser")
    for n in range(5):
        await stranger.say(f"/start WRONG{n:03d}")
        assert "초대 코드를 찾을 수 없어요" in stranger.text
    async with services.transaction() as tx:
        member = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await stranger.say(member[0].code or "")  # even the right code waits an hour now
    assert "한 시간 뒤에" in stranger.text
    assert "hana.daily" not in stranger.text


async def test_the_whitelist_is_capped(dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "collector")
    names = " ".join(f"acc{n}" for n in range(WHITELIST_MAX - 1))
    await person.say(f"/whitelist add {names}")
    await person.say("/whitelist add one.more two.more")
    assert f"{WHITELIST_MAX}개까지만" in person.text
    await person.say("/whitelist")
    assert str(WHITELIST_MAX - 1) in person.text


async def test_refusals_do_not_push_admin_actions_out_of_the_audit(
    dispatcher: Dispatcher, services: Services
) -> None:
    admin = Person(dispatcher, "boss", "Boss")
    await make_admin(services, admin)
    await admin.say("/adduser hana.daily")
    kakao = Person(dispatcher, "4f1c9e2ab37d", "", platform="kakao")
    await make_member(services, kakao, "yuna")
    stranger = Person(dispatcher, "mallory", platform="kakao")
    for _ in range(60):
        await stranger.say("/deluser hana.daily")
    await kakao.say("/whitelist add someone")  # a member's own action is not audited
    kakao_admin = Person(dispatcher, "9a8b7c6d5e4f3a2b", "", platform="kakao")
    await make_admin(services, kakao_admin)
    await kakao_admin.say("/adduser jisoo.k")
    await admin.say("/audit")
    assert "hana.daily" in admin.text and "Boss" in admin.text
    assert "카카오 사용자 9a8b7c6d · " in admin.text
    assert "권한 없는 명령 60" in admin.text and "계정 1개" in admin.text
    assert "CLI" in admin.text  # the claim code made from the command line
    assert admin.text.count("권한 없는 명령") == 1


def logins(simulated: SimulatedInstagram) -> int:
    return len([c for c in simulated.calls if c[0] == "login"])


async def test_strangers_wrong_passwords_do_not_lock_the_owner_out(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("minji", password="minji-right")
    minji = Person(dispatcher, "tg-minji", platform="telegram")
    await make_member(services, minji, "minji")
    admin = Person(dispatcher, "tg-boss", platform="telegram")
    await make_admin(services, admin)
    # Five wrong passwords for minji's account, from strangers' unfollow check logins.
    mallory, eve = Person(dispatcher, "mallory", platform="telegram"), \
        Person(dispatcher, "eve", platform="telegram")
    for attempt in range(2):
        await mallory.say("/unfollowlogin minji")
        await mallory.say("minji")
        for guess in range(3):
            await mallory.say(f"guess-{attempt}-{guess}")
    assert logins(simulated) == 3  # a stranger's own, stricter limit
    await eve.say("/unfollowlogin minji")
    await eve.say("minji")
    await eve.say("guess-a")
    await eve.say("guess-b")
    assert logins(simulated) == 5 and "비밀번호" in eve.text
    await mallory.say("/unfollowlogin")  # the stranger stays blocked
    await mallory.say("minji")
    await mallory.say("minji-right")
    assert "오늘은" in mallory.text and "3번" in mallory.text and logins(simulated) == 5
    # minji herself is not refused: /producer logs her in.
    await minji.say("/producer")
    await minji.say("minji")
    await minji.say("minji-right")
    assert "오늘은" not in minji.text and logins(simulated) == 6
    # Nor an admin adding the account as a helper.
    await admin.say("/addhelper")
    await admin.say("minji")
    await admin.say("minji-right")
    assert "@minji" in admin.text and "로그인 완료" in admin.text
    assert logins(simulated) == 7


async def test_the_owners_own_wrong_passwords_count_for_the_account(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("minji", password="minji-right")
    minji = Person(dispatcher, "tg-minji", platform="telegram")
    await make_member(services, minji, "minji")
    for attempt in range(2):
        await minji.say("/producer")
        await minji.say("minji")
        for guess in range(3):
            await minji.say(f"wrong-{attempt}-{guess}")
    assert logins(simulated) == 5  # the owner's five a day
    await minji.say("/producer")
    await minji.say("minji")
    await minji.say("minji-right")
    assert "오늘은" in minji.text and "5번" in minji.text and logins(simulated) == 5
    # The account's limit is spent: an admin adding it as a helper is refused too.
    admin = Person(dispatcher, "tg-boss", platform="telegram")
    await make_admin(services, admin)
    await admin.say("/addhelper")
    await admin.say("minji")
    await admin.say("minji-right")
    assert "오늘은" in admin.text and logins(simulated) == 5
