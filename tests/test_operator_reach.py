"""What reaches the operator and the admins whatever the mode: a fault that is not a
user's mistake (told to the admins' chat once per window, counted in /healthz), and the
messages the bot sends admins on its own in the console chat (an approval request)."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import FrozenInstanceError, replace
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.config import load_settings
from bot.console import connect_console, converse
from bot.delivery import Delivery
from bot.error_report import ErrorReport
from bot.telegram import TelegramTransport
from bot.web import build_web_app, errors_check
from handlers.dispatcher import Dispatcher
from jobs.schedule import JobRunner, Schedule
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.members.chat_accounts import AccountService
from services.web.links import NoWebLinks
from storage.models import ChatAccount, Consumer, Helper, Member
from testkit.telegram_emulator import BotApiEmulator
from tests.conftest import TEST_NOW
from tests.support.telegram import emulator as emulator
from tests.support.web_site import free_port

ADMIN, MEMBER = 1001, 2002
SECRET_TEXT = "hunter2-the-users-own-words"


class Clock:
    def __init__(self) -> None:
        self.now = TEST_NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


async def telegram(emulator: BotApiEmulator, services: Services) -> TelegramTransport:
    """The Telegram transport as `autogram run` wires it: its delivery connected."""
    async def admins() -> list[tuple[str, str, str]]:
        async with services.transaction() as tx:
            return await tx.accounts.admin_accounts()

    settings = load_settings(telegram_token=emulator.token, telegram_api_url=emulator.url,
                             telegram_poll_timeout=1, database_url="sqlite://")
    transport = TelegramTransport(settings, Dispatcher(services), admins)
    services.delivery.connect(Delivery(services, [transport]))
    await transport.start()
    return transport


async def healthz(services: Services) -> dict[str, str]:
    port = free_port()
    runner = web.AppRunner(build_web_app([errors_check(services)]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200  # faults never make the bot unhealthy
            return await response.json()
    finally:
        await runner.cleanup()


async def test_an_unexpected_fault_reaches_the_admins_once_a_window_and_healthz_counts(
    emulator: BotApiEmulator, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    report = ErrorReport(services.delivery, clock=clock)
    reported = replace(services, faults=report)
    assert (await healthz(reported))["errors"] == "none since start"
    bot = await telegram(emulator, reported)
    try:
        async with reported.transaction() as tx:
            code = await tx.admins.create_claim("boss")
        await emulator.send_text(ADMIN, f"/claim {code}")
        await emulator.wait_for(ADMIN)
        original = AccountService.identify

        async def broken(self, platform, user_id, *args, **kwargs):  # type: ignore[no-untyped-def]
            if user_id == str(MEMBER):  # a bug that only this person's events meet
                raise KeyError(SECRET_TEXT)
            return await original(self, platform, user_id, *args, **kwargs)

        monkeypatch.setattr(AccountService, "identify", broken)
        for _ in range(3):
            await emulator.send_text(MEMBER, SECRET_TEXT)
            (answer,) = await emulator.wait_for(MEMBER)
            assert "문제가 생겼어요" in answer["text"]  # the user hears it went wrong
        await report.settled()
        (told,) = await emulator.wait_for(ADMIN)
        assert "handler" in told["text"] and "KeyError" in told["text"]
        assert SECRET_TEXT not in told["text"]  # neither the exception's text nor theirs
        body = await healthz(reported)
        assert body["errors"].startswith("3 since start; last 2026-") and \
            body["errors"].endswith("handler (KeyError)")

        clock.now += timedelta(minutes=11)  # the window is over: the next one is told
        await emulator.send_text(MEMBER, "again")
        await emulator.wait_for(MEMBER)
        await report.settled()
        (again,) = await emulator.wait_for(ADMIN)
        assert "KeyError" in again["text"]  # with the two held back meanwhile:
        assert "같은 오류 2건" in again["text"] or "2 more like it" in again["text"]
        assert len(emulator.messages_to(ADMIN)) == 3  # claim answer + two reports
    finally:
        await bot.stop()


async def test_a_fault_over_kakao_waits_for_the_kakao_admin_and_is_counted(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KakaoTalk cannot push (no Event API here): the report waits in the outbox and
    comes with the admin's next message."""
    from bot.kakao import KakaoSkill
    from tests.support.kakao import BOT_ID, SECRET, KakaoClient, serve

    report = ErrorReport(services.delivery)
    reported = replace(services, faults=report)
    skill = KakaoSkill(load_settings(kakao_bot_id=BOT_ID, kakao_skill_secret=SECRET,
                                     database_url="sqlite://"), Dispatcher(reported), reported)
    reported.delivery.connect(Delivery(reported, [skill]))
    app = build_web_app([errors_check(reported)])
    skill.add_routes(app)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            admin = KakaoClient(http, f"{base}/kakao/skill")
            async with reported.transaction() as tx:
                code = await tx.admins.create_claim("boss")
            assert "관리자로 등록됐어요" in await admin.say(f"/claim {code}", user="kakao-boss")
            original = AccountService.identify

            async def broken(self, platform, user_id, *args, **kwargs):  # type: ignore[no-untyped-def]
                if user_id == "kakao-member":
                    raise LookupError(SECRET_TEXT)
                return await original(self, platform, user_id, *args, **kwargs)

            monkeypatch.setattr(AccountService, "identify", broken)
            member = KakaoClient(http, f"{base}/kakao/skill")
            assert "문제가 생겼어요" in await member.say(SECRET_TEXT, user="kakao-member")
            await report.settled()
            told = await admin.say("/help", user="kakao-boss")
            assert "handler" in told and "LookupError" in told and SECRET_TEXT not in told
            async with http.get(f"{base}/healthz") as response:
                body = await response.json()
            assert body["errors"].startswith("1 since start") and \
                body["errors"].endswith("handler (LookupError)")
    finally:
        await runner.cleanup()


class Faults:
    """Records what is reported (kind, exception type)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def report(self, kind: str, error: BaseException) -> None:
        self.seen.append((kind, type(error).__name__))

    def summary(self) -> str:
        return ""


async def test_a_failing_scheduled_job_is_reported(services: Services) -> None:
    class Leading:
        leading = True

        async def ensure(self) -> bool:
            return True

    faults = Faults()
    counted = replace(services, faults=faults)
    runner = JobRunner(WeeklyJobs(counted, counted.delivery), Leading(),  # type: ignore[arg-type]
                       Schedule())

    async def fails() -> None:
        raise ZeroDivisionError

    await runner.guarded("reminder 08:00", fails)  # logged, never raised
    assert faults.seen == [("scheduled job reminder 08:00", "ZeroDivisionError")]


async def test_an_unexpected_mail_import_failure_is_reported_a_server_away_is_not(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.open_chat_mail as mail
    from services.open_chat.mailbox_address import Mailbox

    faults = Faults()
    counted = replace(services, faults=faults)
    box = Mailbox.from_url("imaps://bot@mail.example.org")

    async def tell(_report: object) -> None:
        raise AssertionError("no mail was read")

    for error in (ConnectionRefusedError(), ValueError("a bug of ours")):
        def fetch(*_args: object, error: Exception = error) -> None:
            raise error

        monkeypatch.setattr(mail, "fetch_new_mail", fetch)
        assert await mail.import_mail(counted, box, "pw", frozenset({"boss@example.org"}),
                                      tell, authserv_id="mx.example.org") == 0
    assert faults.seen == [("mail import", "ValueError")]  # the server away is expected


async def test_the_console_admin_sees_an_approval_request_and_approves_it(
    services: Services, simulated: SimulatedInstagram
) -> None:
    """The console cannot push: the request waits for the admin's next exchange, with
    its button, and the approval waits for the member's."""
    simulated.add_account("helper.x", password="pw")
    simulated.add_account("kim.new", password="pw")
    async with services.transaction() as tx:
        tx.session.add(Helper(instagram_username="helper.x", password="pw",
                              session=simulated.session_for("helper.x"), status="ready"))
        kim = Member(instagram_username="kim.new", joined_at=TEST_NOW)
        tx.session.add(kim)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="console", platform_user_id="kim",
                                   member_id=kim.id, language="ko"))
        code = await tx.admins.create_claim("boss")
    connect_console(services)
    dispatcher = Dispatcher(services)

    async def chat(name: str, *lines: str) -> str:
        out = io.StringIO()
        await converse(dispatcher, name, io.StringIO("".join(f"{x}\n" for x in lines)), out)
        return out.getvalue()

    await chat("boss", f"/claim {code}")
    asked = await chat("kim", "/consumer @kim.new")
    assert "관리자가 승인하면" in asked
    async with services.transaction() as tx:
        row_id = await tx.session.scalar(select(Consumer.id))
    # The request shows after the admin's next answer, its button pressable there.
    seen = await chat("boss", "/help", f"#{row_id} 승인")
    waiting = seen.split("📬 도착한 메시지:")[1]
    assert f"소비자 신청 #{row_id}: @kim.new" in waiting
    assert re.search(rf"\[\d+\] #{row_id} 승인", waiting)
    async with services.transaction() as tx:
        assert await tx.session.scalar(select(Consumer.status)) == "active"
    told = await chat("kim", "/help")
    assert "승인됐어요" in told
    assert "승인됐어요" not in await chat("kim", "/help")  # shown once


async def test_a_container_without_a_chat_says_so_and_is_never_patched(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(services.web, NoWebLinks) and not services.web.available
    assert not services.web.personal and not services.web.public
    assert not services.delivery.connected and not services.finish_week.connected
    caplog.set_level(logging.WARNING)
    await services.delivery.to_admins(lambda language: f"approve me ({language})")
    assert "no chat is connected: not delivered to the admins: approve me (en)" in caplog.text
    with pytest.raises(FrozenInstanceError):
        services.delivery = services.delivery  # type: ignore[misc]
    for name in ("instagram", "clock", "rules", "web", "checks"):  # tests move their clock
        with pytest.raises(FrozenInstanceError):
            setattr(services, name, getattr(services, name))
