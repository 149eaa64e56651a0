"""Limits a stranger cannot get around: invite codes throttled like claims, a capped
whitelist, and an audit log where refusals cannot push out the admins' actions."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.unfollow import WHITELIST_MAX
from tests.chat_driver import Person
from tests.test_conversations import make_admin, make_member


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
    assert "refused 60" in admin.text and "계정 1개" in admin.text
    assert "CLI" in admin.text  # the claim code made from the command line
    assert admin.text.count("refused") == 1
