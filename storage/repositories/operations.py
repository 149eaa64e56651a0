"""Conversation state, group chats, notices, job runs and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.models import (
    AuditEntry,
    ConversationState,
    GroupChat,
    JobRun,
    Notice,
    Outbox,
    TelegramUpdate,
    utcnow,
)


class ConversationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, platform: str, platform_user_id: str) -> ConversationState | None:
        return await self.session.scalar(
            select(ConversationState).where(
                ConversationState.platform == platform,
                ConversationState.platform_user_id == platform_user_id,
            )
        )

    async def save(
        self,
        platform: str,
        platform_user_id: str,
        flow: str,
        step: str,
        data: dict[str, Any],
        expires_at: datetime,
    ) -> ConversationState:
        state = await self.get(platform, platform_user_id)
        if state is None:
            state = ConversationState(platform=platform, platform_user_id=platform_user_id)
            self.session.add(state)
        state.flow, state.step, state.data = flow, step, dict(data)
        state.expires_at, state.updated_at = expires_at, utcnow()
        await self.session.flush()
        return state

    async def clear(self, platform: str, platform_user_id: str) -> None:
        await self.session.execute(
            delete(ConversationState).where(
                ConversationState.platform == platform,
                ConversationState.platform_user_id == platform_user_id,
            )
        )


class GroupChatRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, platform: str, chat_id: str, title: str | None) -> GroupChat:
        group = GroupChat(platform=platform, chat_id=chat_id, title=title)
        self.session.add(group)
        await self.session.flush()
        return group

    async def get(self, platform: str, chat_id: str) -> GroupChat | None:
        return await self.session.scalar(
            select(GroupChat).where(GroupChat.platform == platform, GroupChat.chat_id == chat_id)
        )

    async def all(self) -> list[GroupChat]:
        return list(await self.session.scalars(select(GroupChat).order_by(GroupChat.id)))


class NoticeRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, text: str, open_chat_url: str | None = None) -> Notice:
        notice = Notice(text=text, open_chat_url=open_chat_url)
        self.session.add(notice)
        await self.session.flush()
        return notice

    async def current(self) -> Notice | None:
        return await self.session.scalar(
            select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc()).limit(1)
        )


class JobRunRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, job: str, period: str) -> JobRun | None:
        return await self.session.scalar(
            select(JobRun).where(JobRun.job == job, JobRun.period == period)
        )

    async def start(self, job: str, period: str) -> JobRun:
        run = JobRun(job=job, period=period, status="running", summary={}, started_at=utcnow())
        self.session.add(run)
        await self.session.flush()
        return run

    async def finish(self, run: JobRun, status: str, summary: dict[str, Any]) -> None:
        run.status, run.summary, run.finished_at = status, summary, utcnow()
        await self.session.flush()


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
        rows = [r for r in await self._rows(platform, user_id, now) if _kind(r) == "result"]
        if rows:
            await self.session.execute(delete(Outbox).where(Outbox.id.in_([r.id for r in rows])))
        return [reply for row in rows for reply in row.replies]

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


class AuditRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        actor_id: int | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(actor_id=actor_id, action=action, target=target, detail=detail)
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def recent(self, limit: int = 20) -> list[AuditEntry]:
        rows = await self.session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        )
        return list(rows)


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
