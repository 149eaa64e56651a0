"""The outbox: answers and messages that wait for a user's next message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outbox


class OutboxRepo:
    """What waits for a user's next message, by kind: "result" (an answer or a message
    that could not be delivered: work that outlived the reply window, a callback Kakao
    refused, a weekly message to a member the bot cannot push to) and "rest" (the rest of
    a long answer, behind a "more" button). Each reply's dict says its kind. A rest
    expires after REST_TTL, a result after RESULT_TTL."""

    REST_TTL = timedelta(minutes=30)
    RESULT_TTL = timedelta(days=7)

    def __init__(self, session: AsyncSession,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.session = session
        self.clock = clock  # the services' clock (rows are stamped with it)

    async def put(self, platform: str, user_id: str, replies: list[dict[str, Any]],
                  kind: str = "result") -> None:
        items = [{**reply, "kind": kind} for reply in replies]
        row = Outbox(platform=platform, platform_user_id=user_id, replies=items)
        if self.clock is not None:
            row.created_at = self.clock()
        self.session.add(row)
        await self.session.flush()

    async def _rows(self, platform: str, user_id: str, now: datetime) -> list[Outbox]:
        rows = list(await self.session.scalars(
            select(Outbox).where(Outbox.platform == platform,
                                 Outbox.platform_user_id == user_id)
            .order_by(Outbox.id)))
        expired = [r.id for r in rows if r.created_at < now - (
            self.RESULT_TTL if _kind(r) == "result" else self.REST_TTL)]
        if expired:
            await self.session.execute(delete(Outbox).where(Outbox.id.in_(expired)))
        return [r for r in rows if r.id not in expired]

    async def take_results(self, platform: str, user_id: str, now: datetime
                           ) -> list[dict[str, Any]]:
        """Undelivered answers, oldest first; taken out of the box."""
        return (await self.take_results_and_count(platform, user_id, now))[0]

    async def take_results_and_count(self, platform: str, user_id: str, now: datetime
                                     ) -> tuple[list[dict[str, Any]], int]:
        """`take_results`, and how many rows still wait after it (`waiting`), from one
        look at the box: every Kakao message asks both."""
        rows = await self._rows(platform, user_id, now)
        results = [r for r in rows if _kind(r) == "result"]
        if results:
            await self.session.execute(delete(Outbox).where(
                Outbox.id.in_([r.id for r in results])))
        return [reply for row in results for reply in row.replies], len(rows) - len(results)

    async def take_newest(self, platform: str, user_id: str, now: datetime
                          ) -> list[dict[str, Any]]:
        """The newest waiting row (the rest of the latest long answer first)."""
        rows = await self._rows(platform, user_id, now)
        if not rows:
            return []
        await self.session.execute(delete(Outbox).where(Outbox.id == rows[-1].id))
        return list(rows[-1].replies)

    async def waiting(self, platform: str, user_id: str, now: datetime) -> int:
        return len(await self._rows(platform, user_id, now))

    # --- answers to send now (kind "send"): a platform that pushes (Telegram) ---------
    # Queued by the transaction that marks an update handled, sent right after its
    # commit and then deleted (sent); one left behind (a crash) is claimed by one
    # instance once it is older than a stale limit and sent then. The claim moves
    # `created_at` on (a conditional update), so two instances never both take it.

    async def queue(self, platform: str, user_id: str, item: dict[str, Any]) -> int:
        """One answer to send as soon as this transaction commits; its row id."""
        row = Outbox(platform=platform, platform_user_id=user_id,
                     replies=[{**item, "kind": "send"}])
        if self.clock is not None:
            row.created_at = self.clock()
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def sent(self, row_id: int) -> None:
        await self.session.execute(delete(Outbox).where(Outbox.id == row_id))

    async def claim_unsent(self, platform: str, stale_before: datetime, now: datetime
                           ) -> list[tuple[int, dict[str, Any]]]:
        """Answers queued before `stale_before` and still not sent, oldest first, claimed
        now by the caller (one instance each)."""
        rows = list(await self.session.scalars(
            select(Outbox).where(Outbox.platform == platform,
                                 Outbox.created_at <= stale_before)
            .order_by(Outbox.id).limit(500)))
        taken = []
        for row in rows:
            if _kind(row) != "send":
                continue
            claimed = await self.session.execute(update(Outbox).where(
                Outbox.id == row.id, Outbox.created_at <= stale_before).values(created_at=now))
            if claimed.rowcount:  # type: ignore[attr-defined]
                taken.append((row.id, dict(row.replies[0])))
        return taken


def _kind(row: Outbox) -> str:
    return str(row.replies[0].get("kind", "result")) if row.replies else "rest"
