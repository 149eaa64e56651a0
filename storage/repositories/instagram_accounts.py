"""Helpers, consumers, producers and the comment log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CommentLog, Consumer, Helper, Producer


class HelperRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, instagram_username: str, password: str) -> Helper:
        helper = Helper(instagram_username=instagram_username.lower(), password=password)
        self.session.add(helper)
        await self.session.flush()
        return helper

    async def by_username(self, instagram_username: str) -> Helper | None:
        return await self.session.scalar(
            select(Helper).where(Helper.instagram_username == instagram_username.lower())
        )

    async def list(self) -> list[Helper]:
        return list(await self.session.scalars(select(Helper).order_by(Helper.id)))

    async def delete(self, helper: Helper) -> None:
        await self.session.delete(helper)
        await self.session.flush()


class ConsumerRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, member_id: int, instagram_username: str) -> Consumer:
        consumer = Consumer(member_id=member_id, instagram_username=instagram_username.lower())
        self.session.add(consumer)
        await self.session.flush()
        return consumer

    async def active(self) -> list[Consumer]:
        rows = await self.session.scalars(select(Consumer).where(Consumer.status == "active"))
        return list(rows)


class ProducerRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, member_id: int, instagram_username: str, password: str) -> Producer:
        producer = Producer(
            member_id=member_id, instagram_username=instagram_username.lower(), password=password
        )
        self.session.add(producer)
        await self.session.flush()
        return producer

    async def by_member(self, member_id: int) -> Producer | None:
        return await self.session.scalar(select(Producer).where(Producer.member_id == member_id))


class CommentLogRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, producer_id: int, consumer_id: int, post_shortcode: str, status: str
    ) -> CommentLog:
        entry = CommentLog(
            producer_id=producer_id,
            consumer_id=consumer_id,
            post_shortcode=post_shortcode,
            status=status,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry
