"""A login's conversation lives in the database: the 2FA code, or the "yes, that was my
password", reaching a second bot instance (a fresh container on the same database, the
same Instagram) goes on there; the secrets it keeps meanwhile are sealed, never plain."""

from __future__ import annotations

import json

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimConfig, SimulatedInstagram
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import Admin, ChatAccount, Helper, Producer
from tests.conftest import TEST_NOW
from tests.support.chat_driver import Person


def instance(engine: AsyncEngine, sim: SimulatedInstagram) -> Services:
    """One bot instance: its own container and its own Instagram client state."""
    return Services(session_factory(engine), CommunityRules(), lambda: TEST_NOW,
                    serialize=engine.dialect.name == "sqlite",
                    instagram=Instagram(sim, max_wait=0.5, patience=0.5))


async def raw_state(engine: AsyncEngine, user_id: str) -> str:
    """The conversation row as the database holds it (no decryption)."""
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT step, data FROM conversation_state WHERE platform_user_id = :user"),
            {"user": user_id})).one()
    data = row.data if isinstance(row.data, str) else json.dumps(row.data)
    return f"{row.step} {data}"


async def new_member(services: Services, name: str) -> None:
    """A member with Instagram account `name`, connected on Telegram as tg-<name>."""
    async with services.transaction() as tx:
        (added,) = await tx.members.add(None, [name])  # type: ignore[arg-type]
    await Person(Dispatcher(services), f"tg-{name}", name, platform="telegram").say(
        f"/start {added.code}")


async def new_admin(services: Services, name: str) -> None:
    async with services.transaction() as tx:
        account = ChatAccount(platform="telegram", platform_user_id=name, language="en")
        tx.session.add(account)
        await tx.session.flush()
        tx.session.add(Admin(name=name, chat_account_id=account.id, claimed_at=TEST_NOW))


async def test_a_producers_code_on_another_instance_registers_them(engine: AsyncEngine
                                                                    ) -> None:
    world = SimulatedInstagram(SimConfig())
    world.add_account("kim.new", password="kim-secret-pw", two_factor_code="112233")
    first, second = instance(engine, world), instance(engine, world.another_process())
    await new_member(first, "kim.new")
    kim = Person(Dispatcher(first), "tg-kim.new", "kim", platform="telegram")
    await kim.say("/producer")
    await kim.say("kim.new")
    replies = await kim.say("kim-secret-pw")
    assert replies[0].delete_incoming and "보안 코드" in kim.text
    stored = await raw_state(engine, "tg-kim.new")
    assert stored.startswith("code ") and "kim-secret-pw" not in stored  # sealed
    again = Person(Dispatcher(second), "tg-kim.new", "kim", platform="telegram")
    replies = await again.say("000000")  # a wrong code first: asked again, there too
    assert replies[0].delete_incoming and "코드" in again.text
    assert "kim-secret-pw" not in await raw_state(engine, "tg-kim.new")
    await again.say("112233")
    assert "로그인과 확인을 마쳤어요" in again.text, again.text
    async with second.transaction() as tx:
        producer = await tx.session.scalar(select(Producer).where(
            Producer.instagram_username == "kim.new"))
        assert producer is not None and producer.verified
        assert producer.password == "kim-secret-pw" and producer.session
    async with engine.connect() as connection:  # the producer row holds it encrypted
        raw = (await connection.execute(text("SELECT password FROM producer"))).scalar()
    assert raw and "kim-secret-pw" not in raw
    async with engine.connect() as connection:  # the flow is over: nothing left of it
        left = (await connection.execute(text(
            "SELECT count(*) FROM conversation_state WHERE platform_user_id = 'tg-kim.new'"
        ))).scalar()
    assert left == 0


async def test_a_helpers_code_on_another_instance_logs_it_in(engine: AsyncEngine) -> None:
    world = SimulatedInstagram(SimConfig())
    world.add_account("helper.one", password="pw-1", two_factor_code="424242")
    first, second = instance(engine, world), instance(engine, world.another_process())
    await new_admin(first, "boss")
    boss = Person(Dispatcher(first), "boss", "boss", platform="telegram", language_hint="en")
    await boss.say("/addhelper")
    await boss.say("helper.one")
    await boss.say("pw-1")
    assert "two-factor authentication" in boss.text
    assert "pw-1" not in await raw_state(engine, "boss")
    other = Person(Dispatcher(second), "boss", "boss", platform="telegram",
                   language_hint="en")
    await other.say("424242")
    assert "@helper.one is logged in" in other.text, other.text
    async with second.transaction() as tx:
        helper = await tx.session.scalar(select(Helper))
        assert helper is not None and helper.status == "ready" and helper.session


async def test_yes_that_was_my_password_on_another_instance(engine: AsyncEngine) -> None:
    world = SimulatedInstagram(SimConfig())
    world.add_account("minji", password="내 현황")
    first, second = instance(engine, world), instance(engine, world.another_process())
    await new_member(first, "minji")
    minji = Person(Dispatcher(first), "tg-minji", "minji", platform="telegram")
    await minji.say("/unfollowlogin")
    await minji.say("minji")
    await minji.say("내 현황")
    assert "비밀번호" in minji.text
    assert "내 현황" not in await raw_state(engine, "tg-minji")
    other = Person(Dispatcher(second), "tg-minji", "minji", platform="telegram")
    other.last = minji.last
    await other.press("네, 비밀번호예요")
    assert "로그인했어요" in other.text, other.text


async def test_an_e_mail_challenge_waits_in_its_own_instance(engine: AsyncEngine) -> None:
    """instagrapi waits for an e-mail/SMS code in a thread of the process that got the
    password: another instance says to start again; the first one takes it."""
    world = SimulatedInstagram(SimConfig())
    world.add_account("me.kim", password="pw", checkpoint=True)
    first, second = instance(engine, world), instance(engine, world.another_process())
    await new_member(first, "me.kim")
    me = Person(Dispatcher(first), "tg-me.kim", "kim", platform="telegram")
    await me.say("/unfollowlogin")
    await me.say("me.kim")
    await me.say("pw")
    code = world.pending_code("me.kim") or ""
    other = Person(Dispatcher(second), "tg-me.kim", "kim", platform="telegram")
    replies = await other.say(code)
    assert replies[0].delete_incoming
    assert "처음부터 다시 해 주세요" in other.text and "로그인했어요" not in other.text
