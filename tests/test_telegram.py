"""The real PTB Application against the local Bot API emulator, over HTTP.

Polling and webhook mode; flows with buttons, secrets deleted, groups, long replies,
flood control (429) and a failing front (502), and a restart on the same database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.logs import hold_back_libraries
from bot.telegram import TelegramTransport
from bot.text import split_text
from services.container import Services
from services.instagram.helper_queries import HelperRepo
from services.instagram.simulated import SimulatedInstagram
from services.messaging.notifier import Outgoing
from testkit.telegram_emulator import BotApiEmulator
from tests.conftest import Clock, database_dump
from tests.support.telegram import (
    ADMIN,
    MEMBER,
    big_android_export,
    claim_admin,
    start_polling,
    webhook_bot,
)
from tests.support.telegram import emulator as emulator

GROUP = -5005








@pytest.fixture
async def bot(emulator: BotApiEmulator, services: Services) -> AsyncIterator[TelegramTransport]:
    transport = await start_polling(emulator, services)
    yield transport
    await transport.stop()




def buttons_of(message: dict) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = markup.get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_multi_step_flow_with_buttons_secret_and_cancel(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport,
    simulated: SimulatedInstagram, caplog: pytest.LogCaptureFixture, engine: AsyncEngine,
) -> None:
    caplog.set_level(logging.DEBUG)
    hold_back_libraries(logging.DEBUG)  # as `autogram run` with LOG_LEVEL=DEBUG
    simulated.add_account("helper.one", password="s3cret!", two_factor_code="246810")
    await claim_admin(emulator, services)
    # The admin's own chat now has the admin command menu.
    admin_menus = [k for k in emulator.commands if str(ADMIN) in str(k[0])]
    assert admin_menus and any(
        c["command"] == "addhelper" for c in emulator.commands[admin_menus[0]]
    )

    await emulator.send_text(ADMIN, "/lang")
    (choose,) = await emulator.wait_for(ADMIN)
    assert buttons_of(choose) == [("한국어", "/lang ko"), ("English", "/lang en")]
    query_id = await emulator.press_button(ADMIN, choose, "/lang en")
    (done,) = await emulator.wait_for(ADMIN)
    assert done["text"] == "I will speak English from now on."
    assert query_id in emulator.answered_callbacks

    await emulator.send_text(ADMIN, "/addhelper")
    (ask,) = await emulator.wait_for(ADMIN)
    assert buttons_of(ask) == [("Cancel", "/cancel")]
    await emulator.send_text(ADMIN, "@Helper.One")
    (ask_password,) = await emulator.wait_for(ADMIN)
    assert "password of @helper.one" in ask_password["text"]
    wrong = await emulator.send_text(ADMIN, "s3cret?")
    (checking, retry) = await emulator.wait_for(ADMIN, 2)  # Instagram is asked, then
    assert checking["text"] == "🔐 Logging in to Instagram…"
    assert "password is wrong" in retry["text"] and "2 tries left" in retry["text"]
    secret = await emulator.send_text(ADMIN, "s3cret!")
    (_, ask_code) = await emulator.wait_for(ADMIN, 2)
    assert "6-digit code" in ask_code["text"]
    code = await emulator.send_text(ADMIN, "246 810")
    (_, saved) = await emulator.wait_for(ADMIN, 2)
    assert "@helper.one is logged in" in saved["text"]
    for message in (wrong, secret, code):  # every secret message is deleted from the chat
        assert (ADMIN, message["message_id"]) in emulator.deleted
    assert all("s3cret" not in m.get("text", "") for m in emulator.sent)

    await emulator.send_text(ADMIN, "/addhelper")
    (ask,) = await emulator.wait_for(ADMIN)
    await emulator.press_button(ADMIN, ask, "/cancel")
    (cancelled,) = await emulator.wait_for(ADMIN)
    assert cancelled["text"].startswith("Cancelled.")
    # Nothing of the password reached the database in the clear, or any log line.
    assert "s3cret" not in await database_dump(engine)
    assert "s3cret" not in caplog.text


async def test_groups_get_commands_only_and_no_password_flows(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    await claim_admin(emulator, services)
    group = {"chat_id": GROUP, "chat_type": "supergroup", "chat_title": "품앗이방"}
    await emulator.send_text(ADMIN, "/addhelper", **group)
    (refusal,) = await emulator.wait_for(GROUP)
    assert "개인 채팅에서만" in refusal["text"]
    await emulator.send_text(ADMIN, "그냥 잡담이에요", **group)
    await emulator.send_text(ADMIN, "/help@some_other_bot", **group)
    await emulator.send_text(ADMIN, f"/help@{emulator.bot_username}", **group)
    (help_reply,) = await emulator.wait_for(GROUP)
    assert help_reply["text"].startswith("쓸 수 있는 명령")
    await asyncio.sleep(0.3)
    assert len(emulator.messages_to(GROUP)) == 2  # the chatter and the other bot's command: silence


async def test_a_long_reply_is_split_on_line_boundaries(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    await claim_admin(emulator, services)
    async with services.transaction() as tx:
        for n in range(150):
            await HelperRepo(tx.session).add(f"helper_account_number_{n:03d}", "pw")
    await emulator.send_text(ADMIN, "/helpers")
    parts = await emulator.wait_for(ADMIN, count=3)
    assert all(len(part["text"]) <= 4096 for part in parts)
    assert parts[0]["text"].startswith("헬퍼 계정 (150개)")
    lines = "\n".join(part["text"] for part in parts).split("\n")
    names = [line for line in lines if line.startswith("• @helper_account_number_")]
    # Whole lines, in order: each helper's line is followed by its details line.
    assert names == [f"• @helper_account_number_{n:03d} — 로그인 전 (/checkhelper로 로그인)"
                     for n in range(150)]
    assert len(lines) == 301 and all(line.startswith("   마지막 사용") for line in lines[2::2])


def test_split_text_keeps_lines_whole() -> None:
    text = "\n".join(f"line {n:04d} " + "x" * 40 for n in range(300))
    chunks = split_text(text, limit=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert "\n".join(chunks) == text
    assert split_text("y" * 2500, limit=1000) == ["y" * 1000, "y" * 1000, "y" * 500]


async def test_the_bot_survives_flood_control_and_a_bad_gateway(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    emulator.fail_next("sendMessage", status=429, retry_after=1)
    await emulator.send_text(MEMBER, "/start")
    (reply,) = await emulator.wait_for(MEMBER, timeout=10)
    assert "초대 코드" in reply["text"]

    emulator.fail_next("sendMessage", status=502, html=True, times=2)
    await emulator.send_text(MEMBER, "/help")
    (reply,) = await emulator.wait_for(MEMBER, timeout=10)
    assert reply["text"].startswith("쓸 수 있는 명령")

    emulator.fail_next("getUpdates", status=502, html=True)
    await emulator.send_text(MEMBER, "/lang")
    (reply,) = await emulator.wait_for(MEMBER, timeout=10)
    assert reply["text"] == "언어를 골라 주세요."


async def test_a_conversation_continues_after_a_restart(
    emulator: BotApiEmulator, services: Services
) -> None:
    first = await start_polling(emulator, services)
    try:
        await claim_admin(emulator, services)
        await emulator.send_text(ADMIN, "/addhelper")
        await emulator.wait_for(ADMIN)
    finally:
        await first.stop()
    second = await start_polling(emulator, services)
    try:
        await emulator.send_text(ADMIN, "helper.two")
        (reply,) = await emulator.wait_for(ADMIN)
        assert "@helper.two의 비밀번호" in reply["text"]
    finally:
        await second.stop()


async def test_command_menus_are_scoped(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    menus = {k: [c["command"] for c in v] for k, v in emulator.commands.items()}
    private = [v for k, v in menus.items() if "all_private_chats" in str(k[0])]
    groups = [v for k, v in menus.items() if "all_group_chats" in str(k[0])]
    assert private and groups
    assert all("addhelper" not in v and "helpers" not in v for v in private + groups)
    assert all("help" in v for v in private)
    assert {k[1] for k in menus} >= {None, "en"}  # Korean by default, English for en apps


async def test_broadcast_paces_and_reports_blocked_chats(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    emulator.block(3003)
    messages = [Outgoing(str(chat), f"리마인더 {chat}") for chat in (3001, 3002, 3003, 3004)]
    report = await bot.broadcast(messages)
    assert report.sent == 3 and report.unreachable == ["3003"]
    assert [m["text"] for m in emulator.messages_to(3004)] == ["리마인더 3004"]






async def test_webhook_mode_checks_the_secret(
    emulator: BotApiEmulator, services: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.three", password="pw-123")
    transport, runner, url = await webhook_bot(emulator, services)
    try:
        assert emulator.webhook["url"] == url
        forged = {
            "update_id": 999,
            "message": {
                "message_id": 1, "date": 0, "text": "/start",
                "chat": {"id": MEMBER, "type": "private"},
                "from": {"id": MEMBER, "is_bot": False, "first_name": "Mallory"},
            },
        }
        assert await emulator.deliver_raw_webhook(forged, secret=None) == 403
        assert await emulator.deliver_raw_webhook(forged, secret="wrong") == 403
        await asyncio.sleep(0.3)
        assert emulator.messages_to(MEMBER) == []  # reached no handler

        await claim_admin(emulator, services)
        await emulator.send_text(ADMIN, "/addhelper")
        await emulator.wait_for(ADMIN)
        await emulator.send_text(ADMIN, "helper.three")
        await emulator.wait_for(ADMIN)
        secret = await emulator.send_text(ADMIN, "pw-123")
        (_, saved) = await emulator.wait_for(ADMIN, 2)
        assert "@helper.three 로그인 완료" in saved["text"]
        assert (ADMIN, secret["message_id"]) in emulator.deleted
        assert set(emulator.webhook_responses) == {200, 403}
    finally:
        await transport.stop()
        await runner.cleanup()


async def test_invite_deep_link_submission_and_an_admin_command(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    await claim_admin(emulator, services)
    await emulator.send_text(ADMIN, "/adduser minji")
    (added,) = await emulator.wait_for(ADMIN)
    prefix = f"https://t.me/{emulator.bot_username}?start="
    link = next(word for word in added["text"].split() if word.startswith(prefix))
    await emulator.send_text(MEMBER, f"/start {link.removeprefix(prefix)}")  # what t.me sends
    (welcome,) = await emulator.wait_for(MEMBER)
    assert "@minji 계정과 연결됐어요" in welcome["text"]

    await emulator.send_text(MEMBER, "/submit")
    (ask,) = await emulator.wait_for(MEMBER)
    assert "게시물 링크를 보내 주세요" in ask["text"]
    await emulator.send_text(MEMBER, "https://www.instagram.com/stories/minji/123/")
    (story,) = await emulator.wait_for(MEMBER)
    assert "스토리 링크는 받을 수 없어요" in story["text"]
    await emulator.send_text(MEMBER, "https://www.instagram.com/p/MINJI0001/?igsh=abc")
    (accepted,) = await emulator.wait_for(MEMBER)
    assert "✅ 접수했어요 (1/3)" in accepted["text"]
    assert ("내 현황", "/status") in buttons_of(accepted)

    await emulator.send_text(ADMIN, "/week")
    (week,) = await emulator.wait_for(ADMIN)
    assert "• @minji: 1/3\n   https://www.instagram.com/p/MINJI0001/" in week["text"]

    await emulator.send_text(ADMIN, "/setnotice 규칙\nhttps://open.kakao.com/o/gAbCdEf1")
    await emulator.wait_for(ADMIN)
    await emulator.send_text(MEMBER, "/notice")
    (notice,) = await emulator.wait_for(MEMBER, count=1)
    assert "https://open.kakao.com/o/gAbCdEf1" in notice["text"]
    (photo,) = await emulator.wait_for(MEMBER)
    assert photo["method"] == "sendPhoto"
    assert emulator.photos[-1]["bytes"].startswith(b"\x89PNG")


async def test_an_admin_uploads_the_open_chat_export(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from testkit.kakao_export_builder import ExportBuilder

    await claim_admin(emulator, services)
    async with services.transaction() as tx:
        await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    today = services.clock().astimezone(ZoneInfo("Asia/Seoul")).replace(tzinfo=None)
    now = (today - timedelta(days=today.weekday())).replace(hour=0, minute=1)  # this Monday
    export = ExportBuilder("iphone", saved=today)
    export.message(now, "김하나 @hana.daily", "https://www.instagram.com/p/UPLOAD001/\n하나 (1/3)")
    export.message(now, "누군가 @somebody", "https://www.instagram.com/p/UPLOAD002/")

    await emulator.send_document(MEMBER, "KakaoTalk.zip", export.zip())
    (refused,) = await emulator.wait_for(MEMBER)
    assert "관리자가 보낸 카카오톡 대화 내보내기만" in refused["text"]

    await emulator.send_document(ADMIN, "KakaoTalk.zip", export.zip())
    (reading, report) = await emulator.wait_for(ADMIN, 2)  # read off the loop, then the report
    assert reading["text"] == "📂 대화 파일을 읽고 있어요…"
    assert "메시지 2개 · 링크 2개 · 새로 추가 1개" in report["text"]
    unused = "[누군가 @somebody] https://www.instagram.com/p/UPLOAD002/ — 닉네임의 인스타그램"
    assert unused in report["text"]

    await emulator.send_document(ADMIN, "photo.jpg", b"\xff\xd8\xff\xe0 not a chat")
    (_, unreadable) = await emulator.wait_for(ADMIN, 2)
    assert unreadable["text"].startswith("파일을 읽을 수 없어요: 텍스트(UTF-8) 파일이 아니에요")


async def test_long_results_arrive_whole_and_in_order_with_a_start_button(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport,
    simulated: SimulatedInstagram, clock: Clock,
) -> None:
    from datetime import UTC, datetime

    from bot.delivery import Delivery
    from handlers.announcements import group_results
    from jobs.weekly_loop import WeeklyJobs
    from services.sample_community import build
    from services.week.calendar import Week
    from storage.models import ChatAccount, GroupChat, Member

    # The members' own messages go out at the broadcast rate (20 a second, half this
    # test's time); what is tested here is the group's, so they go out faster.
    bot.settings.telegram_broadcast_rate = 1_000.0
    week = Week.containing(datetime(2026, 11, 25, 3, 0, tzinfo=UTC), services.rules.timezone)
    simulated.config.calls_per_hour = 10_000
    async with services.transaction() as tx:
        found = await build(tx.session, simulated, week, members=60, posts_each=2,
                            comment_rate=0.3, helpers=2)
        ids = dict((await tx.session.execute(
            select(Member.instagram_username, Member.id))).tuples().all())
        for n, name in enumerate(found.members[:50]):
            tx.session.add(ChatAccount(platform="telegram", platform_user_id=str(3000 + n),
                                       member_id=ids[name]))
        tx.session.add(GroupChat(platform="telegram", chat_id=str(GROUP), title="품앗이방"))
    emulator.block(3001)  # this member blocked the bot
    after = datetime(2026, 11, 29, 15, 10, tzinfo=UTC)
    clock.now = after  # the final check reads after the comment deadline
    jobs = WeeklyJobs(services, Delivery(services, [bot]), clock=lambda: after)
    await jobs.final()
    everything = emulator.messages_to(GROUP)
    posts = [p for p in everything if "text" in p]
    assert len(posts) >= 2 and all(len(p["text"]) <= 4096 for p in posts)
    # The results picture comes after the text: one photo, a PNG a phone can show.
    (photo,) = [p for p in everything if "photo" in p]
    assert everything[-1] is photo
    (sent,) = [p for p in emulator.photos if p["chat_id"] == GROUP]
    assert sent["bytes"].startswith(b"\x89PNG")
    async with services.transaction() as tx:
        results = await tx.progress.week_results(week)
    expected = group_results(results, results.unchecked({}))("ko")
    shown = "\n".join(p["text"] for p in posts)
    assert shown.startswith(expected)  # whole and in order; the start request follows
    tail = shown[len(expected):]
    assert f"@{found.members[1]}" in tail and f"@{found.members[55]}" in tail
    markup = posts[-1]["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["inline_keyboard"][0][0]["url"] == f"https://t.me/{emulator.bot_username}"
    summary, *ladder = emulator.messages_to(3000)  # each reachable member: a summary
    assert summary["text"].startswith("📊") and all("경고" in m["text"] for m in ladder)


async def test_verify_edits_its_progress_message_and_reports(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport,
    simulated: SimulatedInstagram,
) -> None:
    from services.sample_community import build
    from services.week.calendar import Week

    await claim_admin(emulator, services)
    async with services.transaction() as tx:
        await build(tx.session, simulated, Week.containing(services.clock(),
                                                           services.rules.timezone),
                    members=4, posts_each=2)
    await emulator.send_text(ADMIN, "/verify")
    (started,) = await emulator.wait_for(ADMIN)
    assert started["text"] == "🔎 이번 주 게시물 8개를 인스타그램에서 확인하고 있어요…"
    arrived = [started]
    while "확인을 마쳤어요" not in arrived[-1]["text"]:
        arrived += await emulator.wait_for(ADMIN, timeout=10)
    edits = [m for m in arrived if m["method"] == "editMessageText"]
    # The progress message is edited in place (at most once every few seconds).
    assert 1 <= len(edits) <= 2 and all(e["message_id"] == started["message_id"]
                                        for e in edits)
    assert edits[0]["text"].startswith("🔎 인스타그램 확인 중: 게시물 8개 중")
    finished = arrived[-1]
    assert finished["method"] == "sendMessage" and "게시물 8개 · 가져옴 8" in finished["text"]


async def test_a_long_unfollow_answer_comes_with_the_whole_list_as_a_file(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    from testkit.instagram_export_builder import export_zip

    following = [f"account.{n:04d}" for n in range(300)]
    followers = [*following[:120], "fan.one"]
    await emulator.send_document(MEMBER, "instagram-me.zip", export_zip(followers, following))
    reading, answer, _file = await emulator.wait_for(MEMBER, count=3)
    assert reading["text"] == "📂 파일을 읽고 있어요…"
    assert "팔로워 121명, 팔로잉 300명" in answer["text"]
    assert "… 외 130개 (전체 목록은 파일에 있어요)" in answer["text"]
    (document,) = emulator.documents
    listed = document["bytes"].decode()
    assert all(f"@account.{n:04d}" in listed for n in range(120, 300))
    assert document["filename"] == "unfollow-check.txt"




async def test_others_are_answered_while_an_admin_s_20_mb_export_is_read(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    from zoneinfo import ZoneInfo

    from services.open_chat.chat_export import MAX_UPLOAD

    await claim_admin(emulator, services)
    async with services.transaction() as tx:
        await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    today = services.clock().astimezone(ZoneInfo("Asia/Seoul")).date()
    export = big_android_export(MAX_UPLOAD - 1000, today - timedelta(days=1))
    assert len(export) > 19 * 1024 * 1024

    await emulator.send_document(ADMIN, "KakaoTalkChats.txt", export)
    (reading,) = await emulator.wait_for(ADMIN, timeout=30)
    assert reading["text"] == "📂 대화 파일을 읽고 있어요…"
    for n in range(3):  # the bot answers while the file is read in its worker
        await emulator.send_text(MEMBER + n, "/help")
        (answer,) = await emulator.wait_for(MEMBER + n, timeout=30)
        assert answer["text"]
        assert len(emulator.messages_to(ADMIN)) == 2, "the import finished first"
    (report,) = await emulator.wait_for(ADMIN, timeout=120)
    assert "안드로이드 내보내기" in report["text"]
    assert "@hana.daily 1" in report["text"]


async def _status_of_minji(emulator: BotApiEmulator, services: Services) -> dict:
    from storage.models import ChatAccount, Member

    async with services.transaction() as tx:
        minji = Member(instagram_username="minji", status="active")
        tx.session.add(minji)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="telegram", platform_user_id=str(MEMBER),
                                   member_id=minji.id, language="ko"))
    await emulator.send_text(MEMBER, "/status")
    (status,) = await emulator.wait_for(MEMBER)
    return status


# WEB_PUBLIC_URL unset: this machine's address, which Telegram refuses in a button.
@pytest.mark.web_site(root="http://127.0.0.1:8080", public=False)
async def test_status_has_no_personal_page_button_from_a_local_address(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    status = await _status_of_minji(emulator, services)
    assert "내 현황" in status["text"] and "/m/" not in json.dumps(status)


@pytest.mark.web_site(root="https://autogram.example.org")
async def test_status_opens_the_personal_page_from_a_public_address(
    emulator: BotApiEmulator, services: Services, bot: TelegramTransport
) -> None:
    status = await _status_of_minji(emulator, services)
    markup = status["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    (url,) = [b["url"] for row in markup["inline_keyboard"] for b in row if "url" in b]
    assert url.startswith("https://autogram.example.org/m/")
