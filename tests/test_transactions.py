"""The two doors to the database: a write transaction and a read-only one, never nested."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from services.container import Services
from services.members.queries import MemberRepo
from services.transactions import NestedTransaction, inside, nestings_raised
from storage.models import Member


async def test_a_transaction_inside_another_of_the_task_fails_before_it_waits(
        services: Services) -> None:
    async with services.transaction() as tx:
        await MemberRepo(tx.session).add("alice")
        with pytest.raises(NestedTransaction, match="write transaction opened inside a write"):
            async with asyncio.timeout(5), services.transaction():
                pass
        with pytest.raises(NestedTransaction, match="read-only transaction opened inside"):
            async with asyncio.timeout(5), services.reading():
                pass
        assert inside() == "write"
    assert inside() is None
    assert len(nestings_raised()) == 2  # kept for the suite's check: this test wanted them
    async with services.reading() as session:  # the first one committed
        assert await session.scalar(select(func.count()).select_from(Member)) == 1


async def test_a_task_started_inside_a_transaction_opens_its_own_after_it(
        services: Services) -> None:
    async def later() -> int:
        async with services.transaction() as tx:
            return await tx.session.scalar(select(func.count()).select_from(Member)) or 0

    async with services.transaction() as tx:
        await MemberRepo(tx.session).add("alice")
        task = asyncio.create_task(later())
    assert await task == 1


async def test_a_read_only_transaction_refuses_a_write_and_leaves_the_connection_writable(
        services: Services) -> None:
    async with services.transaction() as tx:
        await MemberRepo(tx.session).add("alice")
    with pytest.raises(DBAPIError):
        async with services.reading() as session:
            await session.execute(update(Member).values(display_name="x"))
    for _ in range(3):  # whichever pooled connection comes back writes
        async with services.transaction() as tx:
            await tx.session.execute(update(Member).values(display_name="앨리스"))
    async with services.reading() as session:
        assert await session.scalar(select(Member.display_name)) == "앨리스"


async def test_a_read_only_transaction_reads_one_snapshot(services: Services) -> None:
    async with services.transaction() as tx:
        await MemberRepo(tx.session).add("alice")

    async def writer() -> None:
        async with services.transaction() as tx:
            await MemberRepo(tx.session).add("bob")

    async with services.reading() as session:
        first = await session.scalar(select(func.count()).select_from(Member))
        await asyncio.create_task(writer())  # commits meanwhile, in a task of its own
        again = await session.scalar(select(func.count()).select_from(Member))
    assert (first, again) == (1, 1)
    async with services.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 2
