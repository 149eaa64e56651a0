"""Logins ask Instagram outside any database transaction and wrong passwords are limited
(a code that reaches another instance: tests/test_login_instances.py)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimConfig, SimulatedInstagram
from services.rules import CommunityRules
from storage.db import session_factory
from tests.conftest import TEST_NOW
from tests.support.chat_driver import Person
from tests.support.members import make_admin


class SlowLogins(SimulatedInstagram):
    """Instagram takes its time to answer a login (and the test says when)."""

    def __init__(self) -> None:
        super().__init__(SimConfig())
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()

    async def login(self, username: str, password: str):  # type: ignore[no-untyped-def]
        self.asked.set()
        await self.answer.wait()
        return await super().login(username, password)


def services_on(engine: AsyncEngine, sim: SimulatedInstagram) -> Services:
    return Services(session_factory(engine), CommunityRules(), lambda: TEST_NOW,
                    serialize=engine.dialect.name == "sqlite",
                    instagram=Instagram(sim, max_wait=0.5, patience=0.5))


async def test_others_are_answered_while_instagram_thinks_about_a_password(
    engine: AsyncEngine,
) -> None:
    sim = SlowLogins()
    sim.add_account("helper.one", password="pw-1")
    services = services_on(engine, sim)
    chat = Dispatcher(services)
    boss = Person(chat, "boss")
    await make_admin(services, boss)
    await boss.say("/addhelper")
    await boss.say("helper.one")
    login = asyncio.create_task(boss.say("pw-1"))
    await sim.asked.wait()  # the login is with Instagram now
    others = [Person(chat, f"user-{n}", platform="kakao") for n in range(3)]
    answers = await asyncio.wait_for(asyncio.gather(*(p.say("/help") for p in others)), 10)
    assert not login.done()  # everyone was answered while the login still waited
    assert all(a and a[0].text for a in answers)
    await boss.say("아직이에요?")  # a message meanwhile is not read as a password
    assert "기다리고 있어요" in boss.text
    sim.answer.set()
    await login
    assert "@helper.one" in boss.text and "로그인 완료" in boss.text


async def test_wrong_passwords_are_limited_per_person_and_per_account(
    dispatcher: Dispatcher, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("victim.kim", password="the-right-one")
    mallory = Person(dispatcher, "mallory", platform="telegram")
    for attempt in range(4):
        await mallory.say("/unfollowlogin")
        await mallory.say("victim.kim")
        for guess in range(3):
            await mallory.say(f"guess-{attempt}-{guess}")
    logins = [c for c in simulated.calls if c[0] == "login"]
    assert len(logins) == 3  # three wrong passwords a day for an account not one's own
    await mallory.say("/unfollowlogin")
    await mallory.say("victim.kim")
    await mallory.say("the-right-one")
    assert "오늘은" in mallory.text and "팔로워" not in mallory.text
    assert len([c for c in simulated.calls if c[0] == "login"]) == 3
    # Another chat account has its own limit: a stranger's guesses never spend the
    # account's own (tests/test_limits.py: its owner is not locked out).
    eve = Person(dispatcher, "eve", platform="telegram")
    await eve.say("/unfollowlogin")
    await eve.say("victim.kim")
    await eve.say("the-right-one")
    assert "오늘은" not in eve.text and len([c for c in simulated.calls if c[0] == "login"]) == 4
