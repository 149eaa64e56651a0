"""Telegram updates are recorded before they are acknowledged: a redelivered update runs
once, and updates recorded but never finished (the process was killed) run after a
restart. Over real HTTP against the Bot API emulator."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from services.container import Services
from storage.models import Member, Outbox, TelegramUpdate
from testkit.telegram_emulator import BotApiEmulator
from tests.support.telegram import (  # noqa: F401 (a fixture)
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




async def test_polling_acknowledges_a_batch_only_once_its_handling_committed(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    """The next getUpdates (Telegram's acknowledgement of the batch before it) is asked
    for only when every update of that batch is recorded as handled; a batch Telegram
    sends again (after a crash) runs nothing twice."""
    seen_unrecorded: list[int] = []
    ask = emulator._api_getUpdates

    async def acknowledging(params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        if offset:  # read as another process would: not queued behind this one's writes
            async with services.sessions() as session:
                done = set(await session.scalars(select(TelegramUpdate.update_id).where(
                    TelegramUpdate.done_at.is_not(None))))
            seen_unrecorded.extend(u["update_id"] for u in emulator.handed_out
                                   if u["update_id"] < offset and u["update_id"] not in done)
        return await ask(params)

    emulator._api_getUpdates = acknowledging  # type: ignore[method-assign]
    transport = await start_polling(emulator, services)
    handle = transport.dispatcher.handle

    async def slow_handle(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # a handling that takes a while to commit
        return await handle(*args, **kwargs)

    transport.dispatcher.handle = slow_handle  # type: ignore[method-assign]
    try:
        await claim_admin(emulator, services)
        for name in ("once.kim", "once.lee"):
            await emulator.send_text(ADMIN, f"/adduser {name}")
            await emulator.wait_for(ADMIN)
        # Telegram sends the last two again (the bot died before acknowledging them).
        await emulator.deliver_again(emulator.handed_out[-2:])
        await asyncio.sleep(1.5)
        assert await members(services) == 2
        assert len([m for m in emulator.messages_to(ADMIN) if "once.kim" in m["text"]]) == 1
        assert not seen_unrecorded
    finally:
        await transport.stop()


async def test_an_update_slow_to_commit_is_recorded_and_still_runs(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    """One that waits on the same person's earlier message longer than `commit_wait` is
    recorded on its own so the batch can be acknowledged, then runs once, in order."""
    transport = await start_polling(emulator, services)
    transport.commit_wait = 0.0
    try:
        await claim_admin(emulator, services)
        for n in range(5):
            await emulator.send_text(ADMIN, f"/adduser slow.{n}")
        for _ in range(100):
            if await members(services) == 5:
                break
            await asyncio.sleep(0.1)
        assert await members(services) == 5
        texts = [m["text"] for m in emulator.messages_to(ADMIN)]
        order = [next(n for n in range(5) if f"slow.{n}" in t) for t in texts if "slow." in t]
        assert order == list(range(5))
        async with services.transaction() as tx:
            open_rows = await tx.session.scalar(select(func.count()).select_from(
                TelegramUpdate).where(TelegramUpdate.done_at.is_(None)
                                      | TelegramUpdate.body.is_not(None)))
        assert open_rows == 0
    finally:
        await transport.stop()


async def outbox_rows(services: Services) -> int:
    async with services.transaction() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Outbox)) or 0)


async def test_an_answer_is_queued_with_the_handling_and_sent_once(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    """The normal path: the answer goes out right after the commit, once, and its outbox
    row is gone (sent); a new instance started afterwards sends nothing again."""
    transport, runner, _ = await webhook_bot(emulator, services)
    try:
        await claim_admin(emulator, services)
        assert await emulator.deliver_raw_webhook(
            update(910_001, "/adduser once.kim"), secret="s3cr3t-token") == 200
        await emulator.wait_for(ADMIN)
        await asyncio.sleep(0.3)
        assert await outbox_rows(services) == 0
    finally:
        await transport.stop()
        await runner.cleanup()
    before = len(emulator.messages_to(ADMIN))
    transport, runner, _ = await webhook_bot(emulator, services, stale_after=0.0)
    try:
        await asyncio.sleep(0.3)
        assert len(emulator.messages_to(ADMIN)) == before
        assert len([m for m in emulator.messages_to(ADMIN) if "once.kim" in m["text"]]) == 1
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_an_answer_lost_to_a_crash_after_the_commit_is_sent_after_a_restart(
    emulator: BotApiEmulator, services: Services  # noqa: F811
) -> None:
    """The process dies between the commit that marks the update handled and the
    sendMessage: the answer waits in the outbox, and the next instance sends it."""
    transport, runner, _ = await webhook_bot(emulator, services)
    killed = asyncio.Event()
    try:
        await claim_admin(emulator, services)

        async def killed_before_sending(_item: dict) -> None:
            killed.set()
            raise asyncio.CancelledError  # the task dies here, as in a kill

        transport._send_item = killed_before_sending  # type: ignore[method-assign]
        assert await emulator.deliver_raw_webhook(
            update(920_001, "/adduser crash.kim"), secret="s3cr3t-token") == 200
        await asyncio.wait_for(killed.wait(), 10)
        await asyncio.sleep(0.2)
        assert await members(services) == 1  # handled and committed ...
        assert not [m for m in emulator.messages_to(ADMIN) if "crash.kim" in m["text"]]
        assert await outbox_rows(services) == 1  # ... its answer queued, not sent
    finally:
        await transport.stop()
        await runner.cleanup()
    transport, runner, _ = await webhook_bot(emulator, services, stale_after=0.0)
    try:
        answers: list[dict] = []
        for _ in range(50):
            answers = [m for m in emulator.messages_to(ADMIN) if "crash.kim" in m["text"]]
            if answers:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert len(answers) == 1
        assert len([m for m in emulator.messages_to(ADMIN) if "crash.kim" in m["text"]]) == 1
        assert await outbox_rows(services) == 0  # marked sent
        assert await members(services) == 1  # the update itself did not run again
    finally:
        await transport.stop()
        await runner.cleanup()
