"""Telegram updates as recorded before they are acknowledged (a redelivery runs nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.models import TelegramUpdate

_UPDATES = TelegramUpdate.__table__
# Every update writes these two: built once, on the table (Core, without the ORM's
# bulk-statement work, which cost more than the statements themselves). The insert is
# text, the same on both databases: SQLAlchemy compiles an `on_conflict` insert anew
# each time (it has no cache key).
RECORD = text(
    "INSERT INTO telegram_update (update_id, body, received_at, claimed_at) "
    "VALUES (:update_id, :body, :received_at, :claimed_at) ON CONFLICT (update_id) DO NOTHING"
).bindparams(bindparam("body", type_=_UPDATES.c.body.type),
             bindparam("received_at", type_=_UPDATES.c.received_at.type),
             bindparam("claimed_at", type_=_UPDATES.c.claimed_at.type))
# Taken by the handling's own transaction: recorded as done at once, so the handling
# and its record commit together; nothing when it was done already (a redelivery).
TAKE = text(
    "INSERT INTO telegram_update (update_id, body, received_at, claimed_at, done_at) "
    "VALUES (:update_id, NULL, :now, :now, :now) ON CONFLICT (update_id) DO UPDATE "
    "SET done_at = excluded.done_at, body = NULL WHERE telegram_update.done_at IS NULL"
).bindparams(bindparam("now", type_=_UPDATES.c.done_at.type))
FINISH = (update(_UPDATES).where(_UPDATES.c.update_id == bindparam("finished"))
          .values(done_at=bindparam("done"), body=None))


class UpdateLog:
    """Telegram updates as recorded: new ones claimed by the instance that got them,
    unfinished ones taken up again once their claim is stale (a crash, a restart)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, update_id: int, body: dict[str, Any], now: datetime) -> bool:
        """Record an update; False when it was recorded already (a redelivery). Without
        an encryption key the body is not kept (it may hold a password): such an update
        still runs once, but a crash before it ends loses it."""
        kept = body if crypto.configured() else None
        result = await self.session.execute(RECORD, {
            "update_id": update_id, "body": kept, "received_at": now, "claimed_at": now})
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def take(self, update_id: int, now: datetime) -> bool:
        """Handled in this transaction (recorded before or not): only the id is kept.
        False when it was handled already: a redelivery, to be dropped."""
        result = await self.session.execute(TAKE, {"update_id": update_id, "now": now})
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(self, update_id: int, now: datetime) -> None:
        """Handled: only the id is kept (for redeliveries), the message is dropped."""
        await self.session.execute(FINISH, {"finished": update_id, "done": now})

    async def claim_stale(self, stale_before: datetime, now: datetime
                          ) -> list[tuple[int, dict[str, Any]]]:
        """Unfinished updates whose claim is older than `stale_before`, oldest first,
        claimed now by the caller (one instance each: the claim is a conditional update)."""
        rows = (await self.session.execute(
            select(TelegramUpdate.update_id, TelegramUpdate.body)
            .where(TelegramUpdate.done_at.is_(None),
                   TelegramUpdate.claimed_at <= stale_before)
            .order_by(TelegramUpdate.update_id).limit(500))).all()
        taken = []
        for update_id, body in rows:
            if body is None:  # not kept (no key): nothing to run again
                await self.finish(update_id, now)
                continue
            claimed = await self.session.execute(update(TelegramUpdate).where(
                TelegramUpdate.update_id == update_id, TelegramUpdate.done_at.is_(None),
                TelegramUpdate.claimed_at <= stale_before).values(claimed_at=now))
            if claimed.rowcount:  # type: ignore[attr-defined]
                taken.append((update_id, dict(body)))
        return taken

    async def forget_before(self, before: datetime) -> None:
        """Finished updates are kept a while (redeliveries), then dropped."""
        await self.session.execute(delete(TelegramUpdate).where(
            TelegramUpdate.done_at.is_not(None), TelegramUpdate.done_at < before))
