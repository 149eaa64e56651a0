"""Telegram updates are recorded before they are acknowledged: a redelivered update runs
once, and updates recorded but never finished (the process was killed) run after a
restart. Over real HTTP against the Bot API emulator."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.container import Services
from storage.models import Member, TelegramUpdate
from tests.telegram_emulator import BotApiEmulator
from tests.test_telegram import (  # noqa: F401 (a fixture)
    ADMIN,
    claim_admin,
    emulator,
    start_polling,
    webhook_bot,
)


def update(update_id: int, text: str, user: int = ADMIN) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "text": text,
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "Boss"},
        **({"entities": [{"type": "bot_command", "offset": 0,
                          "length": len(text.split()[0])}]} if text.startswith("/") else {})}}


async def members(services: Services) -> int:
    async with services.transaction() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Member)) or 0)


async def test_an_update_delivered_twice_runs_once(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    transport, runner, _ = await webhook_bot(emulator, services)
    try:
        await claim_admin(emulator, services)
        body = update(900_001, "/adduser twice.kim")
        first = await emulator.deliver_raw_webhook(body, secret="s3cr3t-token")
        second = await emulator.deliver_raw_webhook(body, secret="s3cr3t-token")
        assert first == second == 200
        await emulator.wait_for(ADMIN)
        await asyncio.sleep(0.3)
        assert await members(services) == 1
        assert len([m for m in emulator.messages_to(ADMIN) if "twice.kim" in m["text"]]) == 1
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_recorded_updates_run_after_a_restart(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    # Acknowledged and recorded by an instance that was killed before it handled them.
    async with services.transaction() as tx:
        await tx.updates.record(800_001, update(800_001, f"/claim {code}"), tx.now())
        for n in range(2, 32):
            await tx.updates.record(800_000 + n, update(800_000 + n, f"/adduser lost.{n:02d}"),
                                    tx.now())
    transport, runner, _ = await webhook_bot(emulator, services, stale_after=0.0)
    try:
        for _ in range(100):
            if await members(services) == 30:
                break
            await asyncio.sleep(0.1)
        assert await members(services) == 30
        async with services.transaction() as tx:
            unfinished = await tx.session.scalar(select(func.count()).select_from(
                TelegramUpdate).where(TelegramUpdate.done_at.is_(None)))
            bodies = await tx.session.scalar(select(func.count()).select_from(
                TelegramUpdate).where(TelegramUpdate.body.is_not(None)))
        assert unfinished == 0 and bodies == 0  # handled, and the messages not kept
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_polling_records_every_update(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    transport = await start_polling(emulator, services)
    try:
        await emulator.send_text(ADMIN, "/help")
        await emulator.wait_for(ADMIN)
        await asyncio.sleep(0.2)
        async with services.transaction() as tx:
            rows = (await tx.session.execute(select(TelegramUpdate.update_id,
                                                    TelegramUpdate.done_at))).all()
        assert len(rows) == 1 and rows[0][1] is not None
    finally:
        await transport.stop()


