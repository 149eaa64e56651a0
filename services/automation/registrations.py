"""Consumers and producers as members register them and admins approve them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.gateway import Session
from services.instagram.pool import ASKED_SHARE
from services.instagram.runtime import Instagram
from storage.models import AuditEntry, CommentLog, Consumer, Producer


async def look_at_consumer(instagram: Instagram, username: str) -> str:
    """A would-be consumer's account, looked at through a helper (never inside a
    transaction): its pk, once its posts could be read. Raises NotFound (nobody has the
    name), PrivateProfile (its posts cannot be read, so nobody could comment on them) or
    another InstagramError (it could not be checked now)."""
    gateway = instagram.gateway

    async def look(session: Session) -> str:
        found = await gateway.profile(session, username)
        await gateway.recent_posts(session, username, 1)
        return found.pk

    return await instagram.pool.run(look, share=ASKED_SHARE)


class ProducerRegistry:
    """Consumers and producers as members register them and admins approve them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def consumer_of(self, member_id: int) -> Consumer | None:
        return await self.session.scalar(select(Consumer).where(Consumer.member_id == member_id))

    async def producer_of(self, member_id: int) -> Producer | None:
        return await self.session.scalar(select(Producer).where(Producer.member_id == member_id))

    async def username_taken(self, kind: str, username: str, member_id: int) -> bool:
        """Another member already registered this Instagram account as `kind`."""
        table: type[Consumer] | type[Producer] = Consumer if kind == "consumer" else Producer
        other = await self.session.scalar(select(table).where(
            table.instagram_username == username, table.member_id != member_id))
        return other is not None

    async def register_consumer(self, member_id: int, username: str,
                                pk: str | None = None) -> Consumer:
        """The account's pk is the one the registration's look at Instagram showed."""
        consumer = await self.consumer_of(member_id)
        if consumer is None:
            consumer = Consumer(member_id=member_id, instagram_username=username)
            self.session.add(consumer)
        consumer.instagram_username, consumer.status = username, "pending"
        consumer.instagram_pk = pk
        await self.session.flush()
        return consumer

    async def register_producer(self, member_id: int, username: str, password: str,
                                session: dict, pk: str | None = None) -> Producer:
        """A producer logged in: password and session stored encrypted, verified; the
        login's pk kept (None: the login did not say, a known one is left)."""
        producer = await self.producer_of(member_id)
        if producer is None:
            producer = Producer(member_id=member_id, instagram_username=username)
            self.session.add(producer)
        if pk is not None or producer.instagram_username != username:
            producer.instagram_pk = pk  # another account: its old pk goes
        producer.instagram_username, producer.password = username, password
        producer.session, producer.verified = session, True
        if producer.status != "active":
            producer.status = "pending"
        await self.session.flush()
        return producer

    async def switch(self, kind: str, member_id: int, on: bool) -> str | None:
        """`/consumer off` and on again: the new status, or None when not registered.
        Switching never approves: a request still waiting for an admin is "off_pending"
        while off, and waits again when switched on."""
        row = await (self.consumer_of(member_id) if kind == "consumer"
                     else self.producer_of(member_id))
        if row is None:
            return None
        if not on:
            if row.status == "pending":
                row.status = "off_pending"
            elif row.status != "off_pending":
                row.status = "off"
        elif row.status == "off_pending":
            row.status = "pending"
        elif row.status == "off":
            row.status = "active" if (row.approved_at if isinstance(row, Consumer)
                                      else row.verified) else "pending"
        return row.status

    async def approve(self, actor_id: int, kind: str, row_id: int, now: datetime
                      ) -> tuple[int, str] | None:
        """(member id, username) of the approved consumer or producer."""
        table = Consumer if kind == "consumer" else Producer
        row = await self.session.get(table, row_id)
        if row is None or row.status != "pending":
            return None
        row.status = "active"
        if isinstance(row, Consumer):
            row.approved_at = now
        self.session.add(AuditEntry(actor_id=actor_id, action=f"{kind}_approved",
                                    target=row.instagram_username))
        return row.member_id, row.instagram_username

    async def waiting(self) -> list[tuple[str, int, str]]:
        """(kind, id, username) of every request waiting for an admin."""
        found: list[tuple[str, int, str]] = []
        for kind, table in (("consumer", Consumer), ("producer", Producer)):
            rows = await self.session.scalars(select(table).where(table.status == "pending")
                                              .order_by(table.id))
            found += [(kind, row.id, row.instagram_username) for row in rows]
        return found

    async def usage(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """Comments written for each consumer in [start, end): the basis for charging."""
        rows = await self.session.execute(
            select(Consumer.instagram_username, func.count(CommentLog.id))
            .join(CommentLog, CommentLog.consumer_id == Consumer.id)
            .where(CommentLog.status == "written", CommentLog.created_at >= start,
                   CommentLog.created_at < end)
            .group_by(Consumer.instagram_username).order_by(Consumer.instagram_username))
        return [(name, int(count)) for name, count in rows.all()]
