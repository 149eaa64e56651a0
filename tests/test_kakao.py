"""The KakaoTalk skill endpoint over real HTTP with realistic skill payloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels import press_line
from bot.kakao_render import MAX_BYTES, MAX_QUICK_REPLIES, render, size
from handlers.dispatcher import Dispatcher
from handlers.events import Button, Reply
from services.container import Services
from tests.support.chat_driver import Person
from tests.support.kakao import BOT_ID, SECRET, serve, skill_request
from tests.support.kakao import kakao_factory as kakao_factory


async def test_a_new_user_a_member_and_quick_replies(
    kakao_factory: Any, services: Services
) -> None:
    kakao, _ = await kakao_factory()
    assert "초대 코드를 받아서" in await kakao.say("안녕하세요")
    assert kakao.last["version"] == "2.0"
    async with services.transaction() as tx:
        member = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    assert "@hana.daily 계정과 연결됐어요" in await kakao.say(member[0].code or "")
    assert "게시물 링크를 보내 주세요" in await kakao.say("링크 제출")
    assert [q["label"] for q in kakao.last["template"]["quickReplies"]] == ["취소"]
    reply = await kakao.say("https://www.instagram.com/reel/KAKAO0001/?igsh=xyz")
    assert "✅ 접수했어요 (1/3)" in reply
    quick = {q["label"]: q for q in kakao.last["template"]["quickReplies"]}
    assert quick["내 현황"]["extra"] == {"payload": "/status"}
    assert quick["내 현황"]["action"] == "message"
    assert "내 제출: 1/3" in await kakao.press("내 현황")


async def test_an_admin_on_kakao_gets_the_password_warning(
    kakao_factory: Any, services: Services
) -> None:
    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    assert "관리자로 등록됐어요" in await kakao.say(f"/claim {code}")
    await kakao.say("/addhelper")
    text = await kakao.say("helper.kakao")
    assert "카카오톡에서는 봇이 메시지를 지울 수 없어서" in text
    assert "@helper.kakao 계정의 비밀번호" in text
    assert "즉시" not in text and len(kakao.last["template"]["outputs"]) == 1  # one true text


async def test_only_our_bot_with_the_secret_gets_in(kakao_factory: Any) -> None:
    kakao, _ = await kakao_factory()
    ok, _ = await kakao.post(skill_request("/help", bot_id=BOT_ID + "!"))  # dev channel
    assert ok == 200
    for body, secret in [
        (skill_request("/help"), None),
        (skill_request("/help"), "wrong"),
        (skill_request("/help", bot_id="someone-elses-bot"), SECRET),
    ]:
        status, answer = await kakao.post(body, secret=secret)
        assert status == 401 and "template" not in answer
    status, _ = await kakao.post(None, raw=b'{"userRequest": ')
    assert status == 400
    status, _ = await kakao.post(None, raw=b"[1, 2]")
    assert status == 400


async def test_unconfigured_endpoint_refuses_everything(kakao_factory: Any) -> None:
    kakao, skill = await kakao_factory(kakao_skill_secret="")
    assert not skill.enabled
    status, _ = await kakao.post(skill_request("/help"), secret="")
    assert status == 401


async def test_long_answers_continue_with_more(kakao_factory: Any, services: Services) -> None:
    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await kakao.say(f"/claim {code}")
    async with services.transaction() as tx:
        await tx.members.add(None, [f"member_with_a_long_name_{n:03d}" for n in range(10)])
        for n in range(100):
            await tx.helpers.helpers.add(f"helper_with_a_long_name_{n:03d}", "pw")
    first = await kakao.say("/helpers")
    outputs = kakao.last["template"]["outputs"]
    assert len(outputs) <= 3 and all(len(o["simpleText"]["text"]) <= 1000 for o in outputs)
    assert [q["label"] for q in kakao.last["template"]["quickReplies"]] == ["더 보기"]
    pages = [first]
    while kakao.last["template"].get("quickReplies"):
        pages.append(await kakao.press("더 보기"))
    lines = [line for line in "\n".join(pages).split("\n") if line.startswith("• @helper")]
    assert len(lines) == 100 and len(pages) > 1


class Receiver:
    """Stands in for Kakao's callback URL and Event API."""

    def __init__(self) -> None:
        self.callbacks: list[dict[str, Any]] = []
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.refuse_events = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/bots/{bot}/callback/{token}", self.callback)
        app.router.add_post("/v2/bots/{bot}/talk", self.talk)
        return app

    async def callback(self, request: web.Request) -> web.Response:
        self.callbacks.append(await request.json())
        self.arrived.set()
        return web.json_response({"taskId": "t-1", "status": "SUCCESS", "message": "",
                                  "timestamp": 1})

    async def talk(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.events.append((request.match_info["bot"],
                            request.headers.get("Authorization", ""), body))
        if self.refuse_events:
            return web.json_response({"taskId": "t-9", "status": "FAIL",
                                      "message": "Invalid bot ID"}, status=400)
        return web.json_response({"taskId": f"t-{len(self.events)}", "status": "SUCCESS"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    stand_in = Receiver()
    runner, base = await serve(stand_in.app())
    yield stand_in, base
    await runner.cleanup()


async def test_slow_work_answers_by_callback(
    kakao_factory: Any, receiver: tuple[Receiver, str]
) -> None:
    stand_in, base = receiver
    kakao, _ = await kakao_factory(kakao_reply_budget_seconds=0.0)
    callback = f"{base}/v1/bots/{BOT_ID}/callback/one-time-token"
    status, body = await kakao.post(skill_request("/help", callback=callback))
    assert status == 200
    assert body["useCallback"] is True and "template" not in body
    await asyncio.wait_for(stand_in.arrived.wait(), 5)
    (final,) = stand_in.callbacks
    assert final["version"] == "2.0"
    assert final["template"]["outputs"][0]["simpleText"]["text"].startswith("이렇게 보내면 돼요")


async def test_without_a_callback_the_result_comes_with_the_next_message(
    kakao_factory: Any, receiver: tuple[Receiver, str]
) -> None:
    stand_in, _base = receiver
    kakao, skill = await kakao_factory(kakao_reply_budget_seconds=0.0)
    # A callback URL on another host is never used (it would let anyone make us POST).
    text = await kakao.say("/help", callback="https://evil.example/v1/bots/x/callback/t")
    assert "다음에 아무 메시지나 보내면" in text
    await asyncio.gather(*skill._background)
    kakao, _ = await kakao_factory()  # the same database, a normal budget
    text = await kakao.say("/lang")
    assert text.startswith("언어를 골라 주세요")  # the current answer first
    assert "쓸 수 있는 명령" in text  # then the earlier result, which waited
    assert stand_in.callbacks == []


async def test_event_api_pushes_at_most_100_users_a_call(
    kakao_factory: Any, receiver: tuple[Receiver, str], caplog: Any
) -> None:
    from services.messaging.notifier import Outgoing

    stand_in, base = receiver
    _, skill = await kakao_factory(kakao_rest_api_key="rest-key", kakao_event_name="reminder",
                                   kakao_event_api_url=base)
    users = [f"user-{n}" for n in range(250)]
    report = await skill.broadcast([Outgoing(u, "오늘의 할 일이 있어요") for u in users])
    assert report.sent == 250
    assert [len(body["user"]) for _, _, body in stand_in.events] == [100, 100, 50]
    bot, auth, body = stand_in.events[0]
    assert (bot, auth) == (BOT_ID, "KakaoAK rest-key")
    assert body["event"] == {"name": "reminder", "data": {"text": "오늘의 할 일이 있어요"}}
    stand_in.refuse_events = True
    failed = await skill.broadcast([Outgoing("user-1", "x")])
    assert failed.failed == ["user-1"] and "t-9" in caplog.text


async def test_a_week_on_kakao_and_telegram_in_one_database(
    kakao_factory: Any, services: Services
) -> None:
    from sqlalchemy import select

    from storage.models import Member, Submission
    from tests.conftest import record_verdict

    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        added = await tx.members.add(None, ["hana.kakao", "jun.telegram"])  # type: ignore[arg-type]
    await kakao.say(added[0].code or "")
    telegram_user = Person(Dispatcher(services), "777", platform="telegram")
    await telegram_user.say(f"/start {added[1].code}")
    await kakao.say("https://www.instagram.com/p/HANAKAKAO1/")
    await telegram_user.say("https://www.instagram.com/p/JUNTELEG01/")
    taken = await kakao.say("https://www.instagram.com/p/JUNTELEG01/")
    assert "다른 멤버가 이번 주에 이미 제출한 게시물" in taken
    status = await kakao.say("내 현황")
    assert "⏳ @jun.telegram https://www.instagram.com/p/JUNTELEG01/" in status
    await telegram_user.say("/status")
    assert "⏳ @hana.kakao https://www.instagram.com/p/HANAKAKAO1/" in telegram_user.text
    async with services.transaction() as tx:
        ids = dict((await tx.session.execute(select(Member.instagram_username, Member.id))).all())
        subs = {s.shortcode: s.id for s in await tx.session.scalars(select(Submission))}
        await record_verdict(tx.session, ids["hana.kakao"], subs["JUNTELEG01"], "done")
    assert "✅ @jun.telegram" in await kakao.say("내 현황")

    # Last week, as the results show it on both platforms.
    from datetime import timedelta

    from services.week.calendar import Week
    from services.week.submissions import SubmissionRepo

    now = services.clock()
    last_week = Week.containing(now, services.rules.timezone).previous().start
    async with services.transaction() as tx:
        # Members since before last week (a later joiner would not owe its posts).
        for member in await tx.session.scalars(select(Member)):
            member.joined_at = now - timedelta(days=30)
        subs_repo = SubmissionRepo(tx.session)
        old_jun = await subs_repo.add(ids["jun.telegram"], last_week,
                                      "https://www.instagram.com/p/OLDJUN001/", "OLDJUN001",
                                      submitted_at=now - timedelta(days=7))
        old_hana = await subs_repo.add(ids["hana.kakao"], last_week,
                                       "https://www.instagram.com/p/OLDHANA01/", "OLDHANA01",
                                       submitted_at=now - timedelta(days=7))
        await record_verdict(tx.session, ids["hana.kakao"], old_jun.id, "missing")
        await record_verdict(tx.session, ids["jun.telegram"], old_hana.id, "done")
    results = await kakao.say("결과")
    assert "내 댓글: 1개 중 0개 완료" in results
    assert "❌ @jun.telegram https://www.instagram.com/p/OLDJUN001/" in results
    await telegram_user.say("/results")
    assert "내 댓글: 1개 중 1개 완료" in telegram_user.text
    assert "모두 완료 1명 · 빠진 댓글 있음 1명" in telegram_user.text


def replies_strategy() -> st.SearchStrategy[list[Reply]]:
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2500)
    button = st.builds(Button, label=st.text(min_size=1, max_size=40),
                       payload=st.text(min_size=1, max_size=64))
    reply = st.builds(Reply, text=text, buttons=st.lists(button, max_size=12).map(tuple))
    return st.lists(reply, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies_strategy())
def test_any_reply_renders_within_kakao_limits(replies: list[Reply]) -> None:
    rendered = render(replies, "더 보기")
    template = rendered.body["template"]
    assert rendered.body["version"] == "2.0"
    assert 1 <= len(template["outputs"]) <= 3
    assert all(len(o["simpleText"]["text"]) <= 1000 for o in template["outputs"])
    quick = template.get("quickReplies", [])
    assert len(quick) <= 10 and all(len(q["label"]) <= 14 for q in quick)
    assert size(rendered.body) <= MAX_BYTES
    def flat(texts: list[str]) -> str:  # what a reader sees, whitespace aside
        return "".join("".join(texts).split())

    # A reply of buttons only is shown as a blank bubble, so its buttons are not lost;
    # buttons past the answer's ten quick replies become lines saying what to type.
    expected, room = [], MAX_QUICK_REPLIES
    for r in replies:
        expected.append((r.text or (" " if r.buttons else ""))
                        + "".join(press_line(b, "ko") for b in r.buttons[room:]))
        room -= min(room, len(r.buttons))
    original = flat(expected)
    if original:  # nothing is lost: what is not shown now waits behind "더 보기"
        shown = [o["simpleText"]["text"] for o in template["outputs"]]
        assert flat(shown + [r.text for r in rendered.remainder]) == original


def test_buttons_shown_before_more_come_with_the_rest() -> None:
    """A reply's buttons followed by a long reply: "더 보기" takes the quick replies'
    place, and the buttons come with the rest instead of being lost."""
    from bot.kakao_render import from_plain, to_plain

    long = "\n".join(f"{n:03d} " + "가" * 80 for n in range(60))
    replies = [Reply("언어를 골라 주세요", buttons=(Button("한국어", "/lang ko"),)), Reply(long)]
    labels: list[str] = []
    rendered = render(replies, "더 보기")
    for _ in range(10):
        labels += [q["label"] for q in rendered.body["template"].get("quickReplies", [])]
        if not rendered.remainder:
            break
        rendered = render(from_plain(to_plain(rendered.remainder)), "더 보기")
    assert "한국어" in labels and labels[-1] == "한국어"


def test_buttons_past_ten_quick_replies_say_what_to_type() -> None:
    """Two replies of six buttons: ten quick replies, the other two as lines."""
    replies = [Reply(f"묶음 {n}", buttons=tuple(Button(f"{n}-{k}", f"/pick {n}{k}")
                                               for k in range(6))) for n in range(2)]
    body = render(replies, "더 보기").body
    quick = [q["label"] for q in body["template"]["quickReplies"]]
    assert len(quick) == 10 and "1-4" not in quick and "1-5" not in quick
    text = "\n".join(o["simpleText"]["text"] for o in body["template"]["outputs"])
    assert '1-4: "/pick 14"라고 보내 주세요' in text and '1-5: "/pick 15"' in text
