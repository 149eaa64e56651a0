"""The Telegram transport polling the local Bot API emulator, and its people."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from aiohttp import web

from bot.config import Settings, load_settings
from bot.telegram import TelegramTransport
from bot.web import build_web_app
from handlers.dispatcher import Dispatcher
from services.container import Services
from testkit.telegram_emulator import BotApiEmulator

ADMIN = 1001


MEMBER = 2002


def telegram_settings(emulator: BotApiEmulator, **extra: object) -> Settings:
    return load_settings(
        telegram_token=emulator.token,
        telegram_api_url=emulator.url,
        telegram_poll_timeout=1,
        database_url="sqlite://",  # unused: services come from the test database
        **extra,
    )


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emu:
        yield emu


async def start_polling(emulator: BotApiEmulator, services: Services) -> TelegramTransport:
    async def admins() -> list[tuple[str, str, str]]:
        async with services.transaction() as tx:
            return await tx.accounts.admin_accounts()

    transport = TelegramTransport(telegram_settings(emulator), Dispatcher(services), admins)
    await transport.start()
    return transport


async def claim_admin(emulator: BotApiEmulator, services: Services, user: int = ADMIN) -> None:
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await emulator.send_text(user, f"/claim {code}")
    (reply,) = await emulator.wait_for(user)
    assert "관리자로 등록됐어요" in reply["text"]


async def free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def webhook_bot(emulator: BotApiEmulator, services: Services, **options: float
                      ) -> tuple[TelegramTransport, web.AppRunner, str]:
    """A transport in webhook mode behind the web app on a free port, started; its URL."""
    port = await free_port()
    settings = telegram_settings(emulator, telegram_webhook_url=f"http://127.0.0.1:{port}",
                                 telegram_webhook_secret="s3cr3t-token")
    transport = TelegramTransport(settings, Dispatcher(services), **options)
    web_app = build_web_app([])
    transport.add_routes(web_app)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await transport.start()
    return transport, runner, f"http://127.0.0.1:{port}/telegram/webhook"


def big_android_export(size: int, last_day: date) -> bytes:
    """An Android export of about `size` bytes whose days end on `last_day`: years of
    chatter and links, one of @hana.daily's links on the last day."""
    day_lines = []
    for minute in range(0, 24 * 60, 3):
        hour, half = (minute // 60) % 12 or 12, "오전" if minute < 720 else "오후"
        stamp = f"{{day}} {half} {hour}:{minute % 60:02d}"
        day_lines.append(f"{stamp}, 이름{minute % 50} @member_{minute % 50:03d} : "
                         f"https://www.instagram.com/p/M{{code}}{minute:04d}/ 댓글 부탁해요\n"
                         f"이름 (1/3) 오늘도 화이팅\n{stamp}, 누군가님이 들어왔습니다.")
    block = "\n".join(day_lines)
    label = f"{last_day.year}년 {last_day.month}월 {last_day.day}일"
    days = [f"{label} 오후 11:59, 김하나 @hana.daily : https://www.instagram.com/p/HANABIG01/"]
    header = "품앗이 카카오톡 대화\n저장한 날짜 : 2026년 11월 25일 오후 3:13\n\n\n"
    used, moment = len(header.encode()) + len(days[0].encode()) + 1, last_day
    while True:
        label = f"{moment.year}년 {moment.month}월 {moment.day}일"
        day = f"{label} 오전 12:00\n" + block.replace("{day}", label).replace(
            "{code}", moment.strftime("%y%m%d"))
        if used + len(day.encode()) + 1 > size:
            break
        days.append(day)
        used += len(day.encode()) + 1
        moment -= timedelta(days=1)
    return (header + "\n".join(reversed(days)) + "\n").encode()

