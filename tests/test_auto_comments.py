"""Consumers, producers and the automatic comments, against the simulated Instagram;
the comment writers, one of them against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.delivery import Delivery
from handlers.dispatcher import Dispatcher
from jobs.comments import CommentJob
from services.automation.auto_comments import AutoCommenter, CommentRules
from services.automation.comment_text import PHRASES, BuiltinWriter, OpenAIWriter
from services.container import Services
from services.instagram.errors import NotFound, RateLimited
from services.instagram.simulated import SimulatedInstagram
from storage.models import (
    ChatAccount,
    CommentLog,
    Consumer,
    Helper,
    Member,
    Producer,
)
from tests.conftest import TEST_NOW, database_dump
from tests.support.chat_driver import Person
from tests.support.members import make_admin
from tests.support.weekly_jobs import Phone

NIGHT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 03:00 in Seoul


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def no_pause(_seconds: float) -> None:
    return None


async def setup(services: Services, sim: SimulatedInstagram, *, producers: int = 4,
                posts: int = 2) -> dict[str, int]:
    """A consumer (hana) with new posts, `producers` producers (one of them hana's own
    member, who must never comment on her), and a helper to read with."""
    sim.add_account("helper.x", password="pw")
    names = ["hana", *[f"prod.{n}" for n in range(producers)]]
    async with services.transaction() as tx:
        tx.session.add(Helper(instagram_username="helper.x", password="pw",
                              session=sim.session_for("helper.x"), status="ready"))
        members = {n: Member(instagram_username=n, joined_at=TEST_NOW - timedelta(days=30))
                   for n in names}
        tx.session.add_all(members.values())
        await tx.session.flush()
        tx.session.add(Consumer(member_id=members["hana"].id, instagram_username="hana",
                                status="active", approved_at=TEST_NOW))
        for name in names:
            sim.add_account(name, password=f"{name}-pw")
            producer_name = "hana.writer" if name == "hana" else name
            sim.add_account(producer_name, password="x")
            tx.session.add(Producer(member_id=members[name].id,
                                    instagram_username=producer_name, password="x",
                                    session=sim.session_for(producer_name), verified=True,
                                    status="active"))
            tx.session.add(ChatAccount(platform="telegram", platform_user_id=f"tg-{name}",
                                       member_id=members[name].id))
        ids = {n: m.id for n, m in members.items()}
    for n in range(posts):
        sim.add_post("hana", f"HANA{n:04d}", taken_at=NIGHT - timedelta(hours=5 - n),
                     caption="오늘 카페에서 라떼 한 잔 ☕")
    return ids


def commenter(services: Services, clock: Clock, **rules: Any) -> AutoCommenter:
    base = {"comments_per_post": 3, "jitter": (0.0, 0.0), "window": timedelta(hours=1)}
    return AutoCommenter(services, BuiltinWriter(seed=3), CommentRules(**(base | rules)),
                         clock=clock, sleep=no_pause, seed=1)


async def logs(services: Services) -> list[CommentLog]:
    async with services.transaction() as tx:
        return list(await tx.session.scalars(select(CommentLog).order_by(CommentLog.id)))


async def test_each_new_post_gets_distinct_comments_from_other_members(
    services: Services, simulated: SimulatedInstagram
) -> None:
    await setup(services, simulated)
    report = await commenter(services, Clock(NIGHT)).run()
    assert report.posts == 2 and report.written == 6
    for n in range(2):
        written = simulated.posts[f"HANA{n:04d}"].comments
        authors = [a for a, _ in written]
        texts = [t for _, t in written]
        assert len(authors) == 3 == len(set(authors)) and "hana.writer" not in authors
        assert len(set(texts)) == 3  # one distinct text per producer on a post
        assert all(t.rstrip(" ☕😋🙂✨👏🌸🐾🥰💪👍🙌🌿🌊✈️") [-1] in "요다!ㅎ" for t in texts)
    # Least recently used producers first: the second post went to the fourth one too.
    used = [log.producer_id for log in await logs(services)]
    assert len(set(used)) == 4


async def test_re_runs_and_a_crash_never_write_a_comment_twice(
    services: Services, simulated: SimulatedInstagram
) -> None:
    await setup(services, simulated, posts=1)
    clock = Clock(NIGHT)
    crashing = commenter(services, clock)
    real = simulated.comment
    calls = 0

    async def dying(session: dict, shortcode: str, text: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise SystemExit("the process died in the middle of a write")
        await real(session, shortcode, text)

    simulated.comment = dying  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await crashing.run()
    simulated.comment = real  # type: ignore[method-assign]
    # The cut attempt stays "pending": its producer is never used on that post again.
    assert [log.status for log in await logs(services)] == ["written", "pending"]
    await commenter(services, clock).run()
    await commenter(services, clock).run()
    rows = await logs(services)
    assert sorted(r.status for r in rows) == ["pending", "written", "written"]
    assert len({(r.producer_id, r.post_shortcode) for r in rows}) == len(rows)
    assert len(simulated.posts["HANA0000"].comments) == 2  # never a second time


async def test_caps_hold_over_a_simulated_day(
    services: Services, simulated: SimulatedInstagram
) -> None:
    await setup(services, simulated, producers=2, posts=0)
    clock = Clock(NIGHT)
    job = commenter(services, clock, comments_per_post=2, producer_hourly_cap=3,
                    producer_daily_cap=5, window=timedelta(days=2))
    for hour in range(24):  # a new post every hour, the job every hour
        clock.now = NIGHT + timedelta(hours=hour)
        simulated.add_post("hana", f"DAY{hour:03d}", taken_at=clock.now - timedelta(minutes=5))
        await job.run()
    rows = [r for r in await logs(services) if r.status in ("pending", "written")]
    by_producer: dict[int, list[datetime]] = {}
    for row in rows:
        by_producer.setdefault(row.producer_id, []).append(row.created_at)
    assert len(by_producer) == 2
    for times in by_producer.values():
        assert len(times) <= 5  # the daily cap
        for t in times:
            assert sum(1 for x in times if t <= x < t + timedelta(hours=1)) <= 3


async def test_failures_cool_down_unverify_or_skip(
    services: Services, simulated: SimulatedInstagram
) -> None:
    ids = await setup(services, simulated, posts=1)
    simulated.add_post("hana", "GONEPOST", taken_at=NIGHT - timedelta(hours=1))
    phone = Phone()
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    simulated.expire_sessions("prod.0")
    # prod.1's write is refused with 429 "please wait".
    original = simulated.comment

    async def limited(session: dict, shortcode: str, text: str) -> None:
        if shortcode == "GONEPOST":  # deleted between the listing and the write
            raise NotFound("Media not found or unavailable")
        if session.get("username") == "prod.1":
            raise RateLimited("Please wait a few minutes", retry_after=600)
        await original(session, shortcode, text)

    simulated.comment = limited  # type: ignore[method-assign]
    job = CommentJob(services, services.delivery, BuiltinWriter(seed=1),
                     CommentRules(jitter=(0.0, 0.0)), clock=Clock(NIGHT), sleep=no_pause)
    report = await job.run()
    assert report is not None and report.unverified == ["prod.0"] and report.skipped == 1
    async with services.transaction() as tx:
        producers = {p.instagram_username: p for p in await tx.session.scalars(
            select(Producer))}
    assert producers["prod.0"].verified is False
    assert producers["prod.1"].cooldown_until is not None
    (told,) = phone.to("tg-prod.0")
    assert "/producer로 다시 로그인" in told
    assert ids["prod.0"]
    assert await job.run() is None  # once a night


async def test_consumer_and_producer_registration_from_chat(
    services: Services, simulated: SimulatedInstagram, dispatcher: Dispatcher, engine,
    caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    await setup(services, simulated, producers=0, posts=0)
    simulated.add_account("kim.new", password="kim-secret-pw", two_factor_code="112233")
    simulated.add_account("secret.acct", private=True)
    phone = Phone()
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    admin = Person(dispatcher, "tg-admin", platform="telegram")
    await make_admin(services, admin)
    async with services.transaction() as tx:
        member = Member(instagram_username="kim.new", joined_at=TEST_NOW)
        tx.session.add(member)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="telegram", platform_user_id="tg-kim",
                                   member_id=member.id))
    kim = Person(dispatcher, "tg-kim", platform="telegram")
    await kim.say("/consumer")
    await kim.say("nobody.here")
    assert "인스타그램에 @nobody.here 계정이 없어요" in kim.text
    await kim.say("/consumer secret.acct")
    assert "비공개라" in kim.text
    await kim.say("/consumer @Kim.New")
    assert "@kim.new를 등록했어요. 관리자가 승인하면" in kim.text
    assert phone.buttons["tg-admin"][0].payload.startswith("/approve consumer ")
    replies = await admin.say("/approve")  # the waiting requests, also without a push
    assert "소비자 #" in admin.text and "@kim.new" in admin.text
    assert replies[0].buttons[0].payload == phone.buttons["tg-admin"][0].payload
    await admin.say(phone.buttons["tg-admin"][0].payload)
    assert "@kim.new" in admin.text
    assert any("승인됐어요" in t for t in phone.to("tg-kim"))
    await kim.say("/consumer off")
    assert "자동 댓글을 껐어요" in kim.text
    await kim.say("/consumer on")
    assert "다시 켰어요" in kim.text
    # Producer: password deleted, the code asked, stored encrypted, approved by an admin.
    await kim.say("/producer")
    await kim.say("kim.new")
    replies = await kim.say("kim-secret-pw")
    assert replies[0].delete_incoming and "보안 코드" in kim.text
    replies = await kim.say("112233")
    assert replies[0].delete_incoming and "로그인과 확인을 마쳤어요" in kim.text
    payload = phone.buttons["tg-admin"][0].payload
    assert payload.startswith("/approve producer ")
    await admin.say(payload)
    async with services.transaction() as tx:
        producer = await tx.session.scalar(select(Producer).where(
            Producer.instagram_username == "kim.new"))
        assert producer is not None and producer.status == "active" and producer.verified
    assert "kim-secret-pw" not in await database_dump(engine)
    assert "kim-secret-pw" not in caplog.text
    group = Person(dispatcher, "tg-kim", platform="telegram", chat_kind="group",
                   chat_id="-100")
    await group.say("/producer")
    assert "개인 채팅에서만" in group.text  # never asks a password in a group


async def test_usage_counts_written_comments_per_consumer_and_month(
    services: Services, simulated: SimulatedInstagram, dispatcher: Dispatcher
) -> None:
    await setup(services, simulated)
    await commenter(services, Clock(NIGHT)).run()
    admin = Person(dispatcher, "tg-admin", platform="telegram")
    await make_admin(services, admin)
    await admin.say("/usage 2026-11")
    assert "• @hana: 6개" in admin.text
    await admin.say("/usage 2026-10")
    assert "자동 댓글이 없었어요" in admin.text
    await admin.say("/usage November")
    assert "/usage 2026-11처럼" in admin.text


# --- the writers -------------------------------------------------------------------------


async def test_the_builtin_writer_is_polite_varied_and_on_topic() -> None:
    writer = BuiltinWriter(seed=5)
    texts = await writer.write("주말 제주 여행, 바다가 너무 예뻤어요", 6)
    assert len(set(texts)) == 6
    assert any("여행" in t or "풍경" in t or "바다" in t or "시원" in t for t in texts[:2])
    many = await writer.write("", 20)
    assert len(set(many)) == 20


class FakeModel:
    """A local OpenAI-compatible chat-completions server: answers, errors, slowness."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict[str, Any]] = []
        self.closing = asyncio.Event()  # the test is over: a slow answer stops waiting

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("Authorization")})
        if self.mode == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if self.mode == "slow":  # longer than the writer waits (the server's stop waits)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), 2)
        if self.mode == "garbage":
            return web.json_response({"choices": []})
        content = json.dumps(["사진이 정말 멋져요!", "분위기가 좋네요 😊", "잘 보고 갑니다!"],
                             ensure_ascii=False)
        if self.mode == "lines":
            content = "1. 정말 예뻐요!\n2. 최고예요 👍\n3. 멋진 하루 보내세요"
        return web.json_response({"choices": [{"message": {"role": "assistant",
                                                           "content": content}}]})


@pytest.fixture
async def model() -> Any:
    fake = FakeModel()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/v1"
    fake.closing.set()
    await runner.cleanup()


async def test_the_openai_writer_and_its_fallback(model: Any) -> None:
    fake, url = model
    writer = OpenAIWriter(url, "tiny-model", "sk-test", timeout=0.5,
                          fallback=BuiltinWriter(seed=2))
    texts = await writer.write("카페 라떼", 3)
    assert texts == ["사진이 정말 멋져요!", "분위기가 좋네요 😊", "잘 보고 갑니다!"]
    request = fake.requests[-1]
    assert request["auth"] == "Bearer sk-test" and request["body"]["model"] == "tiny-model"
    assert "존댓말" in request["body"]["messages"][0]["content"]
    fake.mode = "lines"
    assert await writer.write("x", 3) == ["정말 예뻐요!", "최고예요 👍", "멋진 하루 보내세요"]
    for mode in ("error", "slow", "garbage"):
        fake.mode = mode
        fallback = await writer.write("카페 라떼", 3)
        assert len(set(fallback)) == 3 and all(t in str(
            PHRASES["ko"]) for t in fallback)
    fake.mode = "good"
    more = await writer.write("x", 5)  # the endpoint gave 3: the phrase bank adds 2
    assert len(set(more)) == 5 and more[:3] == ["사진이 정말 멋져요!", "분위기가 좋네요 😊",
                                                 "잘 보고 갑니다!"]
