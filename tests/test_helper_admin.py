"""Admins manage helper accounts from chat, against the simulated Instagram."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.channels import Capabilities
from bot.delivery import Delivery
from handlers.dispatcher import Dispatcher
from handlers.events import Reply
from services.container import Services
from services.instagram.errors import NetworkError, RateLimited
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from storage.models import AuditEntry
from tests.conftest import database_dump
from tests.support.helpers import add, admin_of, stored


async def test_a_wrong_password_is_never_kept_and_three_tries_end_the_flow(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="right-one")
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.one", "wrong-1")
    assert "password is wrong" in admin.text and "2 tries left" in admin.text
    await admin.say("wrong-2")
    assert "1 try left" in admin.text
    await admin.say("wrong-3")
    assert "refused three times, so nothing was stored" in admin.text
    assert await stored(services, "helper.one") is None
    await admin.say("right-one")  # the flow is over: not taken as a password
    assert "How can I help?" in admin.text


async def test_an_unknown_account_asks_for_the_username_again(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="pw")
    admin = await admin_of(dispatcher, services)
    await add(admin, "no.such.one", "pw")
    # Instagram answers an unknown username like a wrong password; either way, nothing kept.
    assert "password is wrong" in admin.text
    assert await stored(services, "no.such.one") is None


async def test_an_e_mail_checkpoint_code_and_a_wrong_code(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.two", password="pw-two", checkpoint=True)
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.two", "pw-two")
    assert "security code to the account's e-mail or phone" in admin.text
    helper = await stored(services, "helper.two")
    assert helper is not None and helper.status == "needs_code"
    await admin.say("abc")
    assert "digits only" in admin.text
    await admin.say("000000")
    assert "did not accept that code" in admin.text and "2 tries left" in admin.text
    await admin.say(simulated.pending_code("helper.two") or "")
    assert "@helper.two is logged in" in admin.text
    helper = await stored(services, "helper.two")
    assert helper is not None and helper.status == "ready" and helper.session


async def test_approval_in_the_app_then_checkhelper(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    account = simulated.add_account("helper.app", password="pw", approve_in_app=True)
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.app", "pw")
    assert "confirmed in its app" in admin.text and "/checkhelper helper.app" in admin.text
    await admin.say("/helpers")
    assert "@helper.app — needs confirming in the Instagram app" in admin.text
    account.approve_in_app = False  # the owner tapped "This was me"
    await admin.say("/checkhelper helper.app")
    assert "@helper.app is logged in" in admin.text
    await admin.say("/checkhelper helper.app")  # now the stored session is restored
    assert "✅ @helper.app works" in admin.text


async def test_instagram_down_at_login_keeps_the_account_for_later(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.three", password="pw3")
    admin = await admin_of(dispatcher, services)
    await admin.say("/addhelper")
    await admin.say("helper.three")
    simulated.fail_call(1, NetworkError("connection reset"))
    await admin.say("pw3")
    assert "stored (password encrypted) but could not log in yet" in admin.text
    assert "could not be reached" in admin.text
    await admin.say("/helpers")
    assert "not logged in" in admin.text and "last problem: Instagram could not" in admin.text
    await admin.say("/checkhelper @helper.three")  # logs in with the stored password
    assert "@helper.three is logged in" in admin.text


async def test_an_expired_session_is_renewed_by_checkhelper(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.four", password="pw4")
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.four", "pw4")
    simulated.expire_sessions("helper.four")
    await admin.say("/checkhelper helper.four")
    assert "@helper.four is logged in" in admin.text
    await admin.say("/checkhelper nobody.here")
    assert "There is no helper @nobody.here" in admin.text
    await admin.say("/checkhelper")
    assert "Name the helper" in admin.text


async def test_delhelper_asks_first_and_erases_the_secrets(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram,
    instagram: Instagram, engine
) -> None:
    simulated.add_account("helper.five", password="pw-five-secret")
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.five", "pw-five-secret")
    async with services.transaction() as tx:
        assert await tx.helpers.load_pool() == 1
    replies = await admin.say("/delhelper helper.five")
    assert "Delete the helper @helper.five?" in admin.text
    assert [b.label for b in replies[0].buttons] == ["Delete", "Cancel"]
    assert await stored(services, "helper.five") is not None
    await admin.press("Delete")
    assert admin.text == "Deleted the helper @helper.five."
    assert await stored(services, "helper.five") is None
    assert "helper.five" not in instagram.pool.helpers
    async with services.transaction() as tx:
        actions = (await tx.session.scalars(select(AuditEntry.action))).all()
    assert {"helper_added", "helper_deleted"} <= set(actions)


async def test_the_pool_state_is_written_back_and_shown(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram,
    instagram: Instagram
) -> None:
    simulated.add_account("helper.a", password="pa")
    simulated.add_account("helper.b", password="pb")
    simulated.add_post("owner", "POST1", ["kim"])
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.a", "pa")
    await add(admin, "helper.b", "pb")
    async with services.transaction() as tx:
        assert await tx.helpers.load_pool() == 2
    simulated.fail_call(1, RateLimited("Please wait a few minutes", retry_after=600))
    result = await instagram.pool.run(lambda s: simulated.commenters(s, "POST1"))
    assert result.usernames == {"kim"}
    async with services.transaction() as tx:
        await tx.helpers.save_pool()
    await admin.say("/helpers")
    assert "cooling down until" in admin.text and "failures: 0" not in admin.text
    assert "last problem: Instagram is limiting this account's requests" in admin.text  # why
    assert admin.text.count("last used: never") == 0
    from bot.web import helpers_check

    _, _, health = await helpers_check(services)()
    assert health.startswith("2 of 2 can read; helper.a cooling until ") and \
        health.endswith("(rate_limited)")
    # A restart keeps the cooldown: a new pool loaded from the table skips that helper.
    fresh = Instagram(simulated, max_wait=0.1, patience=0.1)
    async with replace(services, instagram=fresh).transaction() as tx:
        await tx.helpers.load_pool()
    cooling = [h.username for h in fresh.pool.helpers.values() if h.status == "cooling"]
    assert len(cooling) == 1


async def test_a_checkpointed_helper_is_taken_out_and_the_admins_are_told(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram,
    instagram: Instagram, engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = simulated.add_account("helper.c", password="pc-secret")
    simulated.add_post("owner", "POST2", ["lee"])
    admin = await admin_of(dispatcher, services)
    await add(admin, "helper.c", "pc-secret")

    class Recorder:
        """A channel that pushes text (bot/channels.py), keeping what it was given."""

        platform = "console"
        capabilities = Capabilities(push=True)
        start_link = None
        outbox = None

        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        async def post(self, chat_id: str, reply: Reply) -> bool:
            self.sent.append((chat_id, reply.text))
            return True

        async def broadcast(self, messages):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    recorder = Recorder()
    instagram.alert = Delivery(services, [recorder]).alert  # type: ignore[list-item]
    async with services.transaction() as tx:
        await tx.helpers.load_pool()
    account.checkpoint = True
    with pytest.raises(Exception) as caught:
        await instagram.pool.run(lambda s: simulated.commenters(s, "POST2"))
    assert type(caught.value).__name__ == "NoHelperAvailable"
    assert recorder.sent == [("a1", recorder.sent[0][1])]
    assert "The helper @helper.c was taken out of service" in recorder.sent[0][1]
    assert "/checkhelper helper.c" in recorder.sent[0][1]
    async with services.transaction() as tx:
        await tx.helpers.save_pool()
        assert await tx.helpers.load_pool() == 0
    await admin.say("/helpers")
    assert "needs confirming in the Instagram app" in admin.text
    assert "pc-secret" not in await database_dump(engine) and "pc-secret" not in caplog.text


def test_every_instagram_error_has_a_user_and_an_admin_message_in_both_languages() -> None:
    from handlers.messages import en, ko
    from services.instagram import errors

    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.InstagramError)}
    assert len(codes) >= 10
    for catalog in (ko.MESSAGES, en.MESSAGES):
        for code in codes:
            assert catalog[f"ig.user.{code}"] and catalog[f"ig.admin.{code}"]


async def test_a_helper_just_logged_in_reads_at_once(
    dispatcher: Dispatcher, services: Services, simulated: SimulatedInstagram,
    instagram: Instagram,
) -> None:
    """A link handed in right after /addhelper has its author read at submission: the
    pool takes the helper at its login, not at the next scheduled check."""
    simulated.add_account("helper.new", password="pw")
    admin = await admin_of(dispatcher, services)
    assert not instagram.pool.free_now()  # no helper yet
    await add(admin, "helper.new", "pw")
    assert "@helper.new is logged in" in admin.text
    assert instagram.pool.free_now() and "helper.new" in instagram.pool.helpers
