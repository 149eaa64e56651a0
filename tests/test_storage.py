"""The services' queries and the constraints the weekly rules rely on, on the configured
database."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.community import NoticeRepo
from services.conversations import ConversationRepo
from services.instagram.helper_queries import HelperRepo
from services.members.queries import ChatAccountRepo, MemberRepo
from services.operations.job_runs import JobRunRepo
from services.week.submissions import SubmissionRepo
from storage.db import session_factory
from storage.models import (
    ChatAccount,
    CommentLog,
    Consumer,
    JobRun,
    Producer,
    Submission,
    Verification,
)
from tests.conftest import record_verdict

Row = TypeVar("Row")
MONDAY = date(2026, 11, 16)
NEXT_MONDAY = date(2026, 11, 23)


async def _added(session: AsyncSession, row: Row) -> Row:
    """A row written as it stands (consumers, producers and the comment log have no query
    class: their services write them in their own statements)."""
    session.add(row)
    await session.flush()
    return row


async def test_member_usernames_are_unique_without_case(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        await MemberRepo(s).add("Kim.Minji", "김민지")
        await s.commit()
        assert (await MemberRepo(s).by_username("KIM.MINJI")).display_name == "김민지"
        with pytest.raises(IntegrityError):
            await MemberRepo(s).add("kim.minji")


async def test_a_post_is_submitted_once_a_week(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = (await MemberRepo(s).add("alice")).id
        b = (await MemberRepo(s).add("bob")).id
        subs = SubmissionRepo(s)
        await subs.add(a, MONDAY, "https://www.instagram.com/p/ABC123/", "ABC123")
        await s.commit()
        with pytest.raises(IntegrityError):
            await subs.add(b, MONDAY, "https://www.instagram.com/p/ABC123/", "ABC123")
        await s.rollback()
        # The same post in another week is a different submission.
        await subs.add(a, NEXT_MONDAY, "https://www.instagram.com/p/ABC123/", "ABC123")
        await s.commit()
        assert [x.shortcode for x in await subs.of_week(MONDAY)] == ["ABC123"]
        assert [x.shortcode for x in await subs.of_week(NEXT_MONDAY)] == ["ABC123"]


async def test_one_verification_row_per_member_and_post(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = await MemberRepo(s).add("alice")
        b = await MemberRepo(s).add("bob")
        sub = await SubmissionRepo(s).add(a.id, MONDAY, "https://instagram.com/p/X1/", "X1")
        await record_verdict(s, b.id, sub.id, "missing")
        await record_verdict(s, b.id, sub.id, "done")
        await s.commit()
        assert list(await s.scalars(select(Verification.status).where(
            Verification.member_id == b.id))) == ["done"]
        s.add(Verification(member_id=b.id, submission_id=sub.id, status="missing",
                           checked_at=sub.submitted_at))
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_removing_a_member_cascades_like_the_seed(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = await MemberRepo(s).add("alice")
        b = await MemberRepo(s).add("bob")
        sub = await SubmissionRepo(s).add(a.id, MONDAY, "https://instagram.com/p/X1/", "X1")
        await record_verdict(s, b.id, sub.id, "done")
        account = await ChatAccountRepo(s).get_or_create("telegram", "42", "Alice", "ko")
        account.member_id = a.id
        await s.commit()
        await MemberRepo(s).delete(a)
        await s.commit()
        s.expunge_all()
        assert (await s.scalars(select(Submission))).all() == []
        assert (await s.scalars(select(Verification))).all() == []
        # The chat account survives (the person may be invited again), unlinked.
        kept = await s.scalar(select(ChatAccount))
        assert kept is not None and kept.member_id is None


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        with pytest.raises(IntegrityError):
            await SubmissionRepo(s).add(999, MONDAY, "https://instagram.com/p/X1/", "X1")


async def test_a_member_links_one_account_per_platform(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = await MemberRepo(s).add("alice")
        accounts = ChatAccountRepo(s)
        tg = await accounts.get_or_create("telegram", "1", "Alice", "ko")
        kakao = await accounts.get_or_create("kakao", "k-1", "앨리스", "ko")
        tg.member_id = kakao.member_id = a.id
        await s.commit()
        assert {x.platform for x in await accounts.of_member(a.id)} == {"telegram", "kakao"}
        second = await accounts.get_or_create("telegram", "2", "Alice again", "en")
        second.member_id = a.id
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_chat_account_is_found_again_not_duplicated(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        accounts = ChatAccountRepo(s)
        first = await accounts.get_or_create("telegram", "7", "Old name", "en")
        again = await accounts.get_or_create("telegram", "7", "New name", "ko")
        assert first.id == again.id and again.display_name == "New name"
        assert again.language == "en"


async def test_instagram_ids_are_unique_per_role(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = (await MemberRepo(s).add("alice")).id
        b = (await MemberRepo(s).add("bob")).id
        await HelperRepo(s).add("helper_one", "pw")
        await _added(s, Consumer(member_id=a, instagram_username="alice"))
        await _added(s, Producer(member_id=b, instagram_username="bob", password="pw"))
        await s.commit()
        for attempt in (
            lambda: HelperRepo(s).add("HELPER_ONE", "pw2"),
            lambda: _added(s, Consumer(member_id=b, instagram_username="alice")),
            lambda: _added(s, Producer(member_id=a, instagram_username="bob", password="pw")),
        ):
            with pytest.raises(IntegrityError):
                await attempt()
            await s.rollback()


async def test_a_comment_is_logged_once_per_producer_and_post(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        a = await MemberRepo(s).add("alice")
        b = await MemberRepo(s).add("bob")
        consumer = await _added(s, Consumer(member_id=a.id, instagram_username="alice"))
        producer = await _added(s, Producer(member_id=b.id, instagram_username="bob",
                                            password="pw"))
        await _added(s, CommentLog(producer_id=producer.id, consumer_id=consumer.id,
                                   post_shortcode="POST1", status="written"))
        await s.commit()
        with pytest.raises(IntegrityError):
            await _added(s, CommentLog(producer_id=producer.id, consumer_id=consumer.id,
                                       post_shortcode="POST1", status="pending"))


async def test_a_job_period_runs_once(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        runs = JobRunRepo(s)
        run = await runs.start("weekly_results", "2026-W47")
        await runs.finish(run, "done", {"posts": 12})
        await s.commit()
        assert (await runs.get("weekly_results", "2026-W47")).summary == {"posts": 12}
        s.add(JobRun(job="weekly_results", period="2026-W47", status="running", summary={},
                     started_at=run.started_at))
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_conversation_state_round_trips(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        repo = ConversationRepo(s)
        expires = (await NoticeRepo(s).add("공지")).created_at
        await repo.save("telegram", "1", "add_helper", "password", {"username": "h"}, expires)
        await s.commit()
    async with session_factory(engine)() as s:
        state = await ConversationRepo(s).get("telegram", "1")
        assert (state.flow, state.step, state.data) == ("add_helper", "password", {"username": "h"})
        assert state.expires_at == expires and state.expires_at.tzinfo is not None
        await ConversationRepo(s).clear("telegram", "1")
        await s.commit()
        assert await ConversationRepo(s).get("telegram", "1") is None
