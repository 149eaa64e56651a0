"""Conversations, round two: what a new admin and a KakaoTalk member tripped on, met as
they meet it (the console driver, the Kakao endpoint with real skill payloads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from storage.models import Admin, ChatAccount, Helper
from tests.chat_driver import Person
from tests.conftest import TEST_NOW
from tests.test_kakao import kakao_factory  # noqa: F401  (the fixture)


async def admin(services: Services, platform: str = "console", language: str = "ko"
                ) -> Person:
    async with services.transaction() as tx:
        account = ChatAccount(platform=platform, platform_user_id="boss", language=language)
        tx.session.add(account)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=account.id, claimed_at=TEST_NOW))
    return Person(Dispatcher(services), "boss", "boss", platform=platform,
                  language_hint=language)


async def member(services: Services, name: str, platform: str = "console",
                 language: str = "ko") -> Person:
    async with services.transaction() as tx:
        (added,) = await tx.members.add(None, [name])  # type: ignore[arg-type]
    person = Person(Dispatcher(services), f"user-{name}", name, platform=platform,
                    language_hint=language)
    await person.say(f"/start {added.code}")
    return person


def logins(simulated: SimulatedInstagram) -> int:
    return sum(1 for operation, _ in simulated.calls if operation == "login")


async def helpers(services: Services) -> int:
    async with services.transaction() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Helper))
                   or 0)


# --- 1. the cancel words at a password step --------------------------------------------


async def test_cancel_words_at_a_password_step_end_it_and_try_no_login(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="right")
    boss = await admin(timed)
    for word in ("/cancel", "취소", "cancel", "CANCEL"):
        await boss.say("/addhelper")
        await boss.say("helper.one")
        replies = await boss.say(word)
        assert "취소했어요" in boss.text, word
        assert replies[0].delete_incoming
    assert logins(simulated) == 0 and await helpers(timed) == 0
    await boss.say("helper.one")  # no flow any more: not taken as a name or password
    assert logins(simulated) == 0


async def test_a_menu_word_at_a_password_step_is_asked_about_first(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="내 현황")
    boss = await admin(timed, language="en")
    await boss.say("/addhelper")
    await boss.say("helper.one")
    replies = await boss.say("내 현황")
    assert "Is it your password?" in boss.text and "내 현황" not in boss.text
    assert replies[0].delete_incoming
    assert [b.label for b in replies[0].buttons] == ["Yes, it is my password", "Cancel"]
    assert logins(simulated) == 0
    await boss.press("Yes, it is my password")  # now it is tried, and it is right
    assert logins(simulated) == 1 and "@helper.one" in boss.text
    assert await helpers(timed) == 1


async def test_a_menu_word_twice_is_the_menu_and_the_password_step_is_gone(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="right")
    boss = await admin(timed)
    await boss.say("/addhelper")
    await boss.say("helper.one")
    await boss.say("/helpers")
    assert "비밀번호인가요?" in boss.text
    await boss.say("/helpers")
    assert "헬퍼 계정" in boss.text or "등록된 헬퍼" in boss.text
    await boss.say("right")  # a later conversation: nothing of the step is left
    assert logins(simulated) == 0 and await helpers(timed) == 0


async def test_a_menu_button_at_a_password_step_ends_it(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("minji.producer", password="pw")
    minji = await member(timed, "minji.producer")
    await minji.say("/producer")
    await minji.say("minji.producer")
    await minji._send("내 현황", "/status")  # a quick reply of an earlier answer
    assert "이번 주" in minji.text or "내 제출" in minji.text
    await minji.say("pw")  # not a password any more
    assert logins(simulated) == 0


async def test_kakao_cancel_words_at_the_producer_password_step(
    kakao_factory: Any, timed: Services, simulated: SimulatedInstagram  # noqa: F811
) -> None:
    simulated.add_account("hana.daily", password="pw")
    kakao, _ = await kakao_factory()
    async with timed.transaction() as tx:
        (added,) = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(added.code or "")
    for word in ("취소", "/cancel"):
        await kakao.say("/producer")
        await kakao.say("hana.daily")
        assert "취소했어요" in await kakao.say(word)
    await kakao.say("/producer")
    await kakao.say("hana.daily")
    assert "비밀번호인가요?" in await kakao.say("내 현황")
    assert "내 제출" in await kakao.say("내 현황")
    assert logins(simulated) == 0
