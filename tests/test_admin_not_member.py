"""An admin who is not a member: member commands say so and offer to join, and the
admin joins in one step; help lists only what works for them."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from tests.support.chat_driver import Person
from tests.support.members import make_admin

MEMBER_WORDS = ("/status", "내 현황", "/me", "/withdraw", "/appeal", "/submit", "/checknow",
                "/consumer someone", "/producer", "/leaderboard", "제출 취소", "이의 신청",
                "https://www.instagram.com/p/ADMIN0001/")


async def test_member_commands_say_not_a_member_and_offer_to_join(
    dispatcher: Dispatcher, services: Services
) -> None:
    boss = Person(dispatcher, "boss")
    await make_admin(services, boss)
    for words in MEMBER_WORDS:
        await boss.say(words)
        assert "/addme" in boss.text and "문제가 생겼어요" not in boss.text, words
    await boss.say("/results")
    assert "문제가 생겼어요" not in boss.text
    await boss.say("/help")
    assert "/status" not in boss.text and "/addme" in boss.text and "/results" in boss.text
    await boss.say("/addme Boss.Kim")
    assert "@boss.kim 멤버로 참여했어요" in boss.text
    await boss.say("내 현황")
    assert "이번 주" in boss.text
    await boss.say("/help")
    assert "/status" in boss.text


async def test_switching_off_and_on_never_approves(services: Services) -> None:
    from services.members.queries import MemberRepo

    async with services.transaction() as tx:
        member = await MemberRepo(tx.session).add("pro.kim")
        await tx.producers.register_producer(member.id, "pro.kim", "pw", {"s": 1})
        await tx.producers.register_consumer(member.id, "pro.kim")
        for kind in ("producer", "consumer"):
            assert await tx.producers.switch(kind, member.id, False) == "off_pending"
            assert await tx.producers.switch(kind, member.id, True) == "pending"
        assert [k for k, _, _ in await tx.producers.waiting()] == ["consumer", "producer"]


async def test_a_member_who_changed_phones_is_relinked_with_history(
    dispatcher: Dispatcher, services: Services
) -> None:
    from tests.support.members import make_member

    boss = Person(dispatcher, "boss")
    await make_admin(services, boss)
    old = Person(dispatcher, "old-phone", platform="telegram")
    await make_member(services, old, "minji")
    await old.say("https://www.instagram.com/p/MINJI0001x/")
    new = Person(dispatcher, "new-phone", platform="telegram")
    await boss.say("/adduser minji")  # a member already: no plain code, /relink is named
    assert "/relink minji" in boss.text
    await boss.say("/relink minji")
    code = boss.text.split("코드: ")[1].split()[0]
    await new.say(f"/start {code}")
    assert "@minji 멤버가 이 계정으로 옮겨졌어요" in new.text
    await new.say("내 현황")
    assert "MINJI0001x" in new.text  # history kept
    await old.say("내 현황")
    assert "초대 코드" in old.text  # the old phone is a stranger now
    await boss.say("/help")
    assert "기록은 남아요" in boss.text and "모두 지우기" in boss.text


async def test_a_telegram_admins_menu_lists_member_commands_once_a_member(
    services: Services,
) -> None:
    import asyncio

    from testkit.telegram_emulator import BotApiEmulator
    from tests.support.telegram import ADMIN, claim_admin, start_polling

    async with BotApiEmulator() as emulator:
        transport = await start_polling(emulator, services)
        try:
            await claim_admin(emulator, services)

            def menu() -> list[str]:
                keys = [k for k in emulator.commands if str(ADMIN) in str(k[0])]
                return [c["command"] for c in emulator.commands[keys[-1]]]

            assert "addhelper" in menu() and "status" not in menu() and "addme" in menu()
            await emulator.send_text(ADMIN, "/addme boss.kim")
            await emulator.wait_for(ADMIN)
            await asyncio.sleep(0.2)
            assert "status" in menu() and "addhelper" in menu()
        finally:
            await transport.stop()
