"""In a password or code step nothing typed is read as a command or echoed, and the
message is deleted even when the flow has expired; no key, no password asked."""

from __future__ import annotations

from datetime import timedelta

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from storage import crypto
from storage.models import Admin, ChatAccount
from tests.conftest import TEST_NOW, Clock
from tests.support.chat_driver import Person


async def admin(services: Services) -> Person:
    async with services.transaction() as tx:
        account = ChatAccount(platform="telegram", platform_user_id="boss", language="ko")
        tx.session.add(account)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=account.id, claimed_at=TEST_NOW))
    return Person(Dispatcher(services), "boss", "boss", platform="telegram")


async def test_a_password_that_looks_like_a_command_is_a_password(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="/mypass-123!")
    boss = await admin(timed)
    await boss.say("/addhelper")
    await boss.say("helper.one")
    replies = await boss.say("/mypass-123!")
    assert replies[0].delete_incoming
    assert "mypass" not in boss.text and "모르는 명령" not in boss.text
    assert "@helper.one" in boss.text and "로그인 완료" in boss.text


async def test_a_password_after_the_flow_expired_is_deleted_and_not_echoed(
    timed: Services, clock: Clock, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="pw")
    boss = await admin(timed)
    await boss.say("/addhelper")
    await boss.say("helper.one")
    clock.now = TEST_NOW + timedelta(hours=3)  # the flow expired meanwhile
    replies = await boss.say("/secret-pass")
    assert replies[0].delete_incoming
    assert "secret-pass" not in boss.text and "모르는 명령" not in boss.text
    assert "시간이 지나" in boss.text or "만료" in boss.text or "expired" in boss.text.lower()


async def test_without_an_encryption_key_no_password_is_asked(timed: Services) -> None:
    boss = await admin(timed)
    crypto.configure_keys([])
    await boss.say("/addhelper")
    assert "ENCRYPTION_KEYS" in boss.text and "autogram keygen" in boss.text
    await boss.say("helper.one")
    assert "비밀번호" not in boss.text or "ENCRYPTION_KEYS" in boss.text
