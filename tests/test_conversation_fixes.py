"""Conversations, round two: what a new admin and a KakaoTalk member still tripped on
(counts that said more than was known, helper texts, Kakao help, ...), as a user meets it."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

import bot.web_pages as web_pages
from handlers.dispatcher import Dispatcher
from handlers.events import Reply
from handlers.open_chat import render_report
from services.container import Services
from services.open_chat.chat_export import parse_export
from services.open_chat.importer import ImportReport, digest, links_in
from services.web.week_picture import PictureTexts
from services.week.calendar import Week
from storage.models import Helper, Member, Submission, utcnow
from tests.conftest import Clock, record_verdict
from tests.support.chat_driver import Person
from tests.support.kakao import kakao_factory as kakao_factory
from tests.support.kakao import skill_request
from tests.support.telegram import emulator as emulator
from tests.support.web_site import demo_site, get
from tests.support.weekly_flows import admin_person, members
from tests.support.weekly_flows import bot as bot
from tests.support.weekly_flows import clock as clock
from tests.support.weekly_flows import world as world


@pytest.mark.web_site(root="https://autogram.example", keys=None)
async def test_an_open_week_counts_only_checked_members_as_done_and_says_so_far(
        world: Services, bot: Dispatcher, clock: Clock, monkeypatch: Any) -> None:
    admin = await admin_person(world, bot)
    _minji, jun = await members(world, bot, "minji", "jun")
    await jun.say("https://www.instagram.com/p/JUN00001/")
    # Nothing checked yet: minji owes one post, jun owes nothing. Nobody is done.
    await admin.say("/weeklink")
    assert "중간 현황" in admin.text and "확인된 완료 0명" in admin.text
    assert "완료 1명" not in admin.text
    week = Week.containing(clock.now, world.rules.timezone)
    seen: list[PictureTexts] = []
    monkeypatch.setattr(web_pages, "render", lambda board, texts: seen.append(texts) or b"")
    await web_pages.picture_of(world, week, "ko")
    assert seen[0].title.endswith("중간 현황") and "완료 0명" in seen[0].summary
    # Checked: minji's comment is there; /results of the open week is an interim standing.
    async with world.transaction() as tx:
        ids = dict((await tx.session.execute(select(Member.instagram_username, Member.id))).all())
        sub = await tx.session.scalar(select(Submission.id))
        assert sub is not None
        await record_verdict(tx.session, ids["minji"], sub, "done")
    await admin.say(f"/results {week.label}")
    assert "중간 현황" in admin.text and "결과" not in admin.text.split("\n")[0]
    assert "제출하지 않은 멤버" not in admin.text  # minji may still hand in
    await admin.say("/weeklink")
    assert "확인된 완료 1명" in admin.text


@pytest.mark.web_site
async def test_a_finished_weeks_board_says_what_was_missed_not_what_is_left(
        services: Services, simulated: Any) -> None:
    async with demo_site(services, simulated) as site:
        last = Week.containing(utcnow(), services.rules.timezone).previous()
        status, html, _ = await get(f"{site.url}/week/{last.label}")
        assert status == 200 and "최종 확인 결과" in html
        assert "남은 게시물" not in html and "댓글 없음" in html
        assert re.search(r"<title>[^<]*댓글 현황</title>", html)
        status, html, _ = await get(f"{site.url}/week")
        assert re.search(r"<title>[^<]*중간 현황</title>", html)


async def test_check_now_without_a_working_helper_tells_the_admins_not_to_wait(
        services: Services, simulated: Any) -> None:
    from bot.delivery import Delivery
    from tests.support.submissions import community
    from tests.support.weekly_jobs import Phone

    minji = await community(services, simulated)
    async with services.transaction() as tx:
        helper = await tx.session.scalar(select(Helper))
        assert helper is not None
        helper.status = "expired"  # Instagram logged it out: it cannot read
    phone = Phone()
    phone.platform = "console"
    services.delivery.connect(Delivery(services, [phone]))  # type: ignore[list-item]
    await minji.say("/checknow")
    assert "관리자에게 알렸어요" in minji.text and "잠시 뒤에" not in minji.text
    (told,) = phone.to("boss")
    assert "@minji" in told and "/checkhelper" in told
    await minji.say("/checknow")  # pressed again: the admins are not told twice an hour
    assert len(phone.to("boss")) == 1
    boss = Person(minji.dispatcher, "boss", "boss")
    await boss.say("/helpers")
    assert "실패: 0회" not in boss.text and "마지막 사용" in boss.text


async def test_kakao_help_lists_the_words_members_send_there(
        kakao_factory: Any, services: Services) -> None:
    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        member = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    joined = await kakao.say(member[0].code or "")
    assert "'도움말'을 보내 시작해 보세요" in joined and "/help" not in joined
    text = await kakao.say("도움말")
    assert "• 내 현황 — " in text and "• 링크 제출 — " in text and "• 결과 — " in text
    assert "/status" not in text and "/submit" not in text
    labels = [q["label"] for q in kakao.last["template"]["quickReplies"]]
    assert labels[:2] == ["링크 제출", "내 현황"] or {"내 현황", "링크 제출"} <= set(labels)
    assert "내 제출" in await kakao.press("내 현황")
    await kakao.say("/lang en")
    text = await kakao.say("help")
    assert "• status — " in text and "/status" not in text


async def test_telegram_and_console_help_keep_the_slash_commands(
        dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "someone")
    await person.say("/help")
    assert "/help — " in person.text


# -- every transport shows every part of a reply, or says what it cannot show ----------

PNG = b"\x89PNG\r\n\x1a\n" + b"picture" * 10
PARTS = [Reply("사진과 파일", image=PNG, document=("followers.csv", b"a,b\n"))]


def test_kakao_says_what_it_cannot_carry_and_shows_pictures_by_address() -> None:
    from bot.kakao_render import from_plain, render, to_plain

    body = render(PARTS, "더 보기", "ko").body
    text = body["template"]["outputs"][0]["simpleText"]["text"]
    assert "그림은 카카오톡에서 바로 보여 드릴 수 없어요" in text
    assert "파일(followers.csv)은 카카오톡으로 보낼 수 없어요" in text
    # The same after waiting in the outbox ("더 보기", an answer by callback).
    again = render(from_plain(to_plain(PARTS)), "more", "en").body
    assert "cannot show this picture" in again["template"]["outputs"][0]["simpleText"]["text"]
    by_url = render([Reply("QR", image=PNG, image_url="https://x.example/q.png")], "…").body
    outputs = by_url["template"]["outputs"]
    assert outputs[1]["simpleImage"]["imageUrl"] == "https://x.example/q.png"
    assert "카카오톡에서" not in outputs[0]["simpleText"]["text"]


def test_the_console_saves_pictures_and_files_and_prints_where() -> None:
    from bot.console import render

    text, _ = render(PARTS, "en")
    paths = re.findall(r"(?:Picture|File): (\S+)", text)
    assert len(paths) == 2
    assert Path(paths[0]).read_bytes() == PNG and Path(paths[1]).read_bytes() == b"a,b\n"


@pytest.mark.web_site
async def test_kakao_notice_shows_its_qr_code_as_an_image_card(
        kakao_factory: Any, services: Services, simulated: Any) -> None:
    async with demo_site(services, simulated) as site:
        kakao, _ = await kakao_factory()
        async with services.transaction() as tx:
            code = await tx.admins.create_claim("boss")
        await kakao.say(f"/claim {code}")
        await kakao.say("/setnotice")
        for said in ("규칙\n오픈채팅: https://open.kakao.com/o/gAbCdEf1", "공지"):
            status, body = await kakao.post(skill_request(said))
            assert status == 200
        outputs = body["template"]["outputs"]
        assert "오픈채팅" in outputs[0]["simpleText"]["text"]
        url = next(o["simpleImage"]["imageUrl"] for o in outputs if "simpleImage" in o)
        assert url.startswith(site.url + "/notice/qr.png")
        async with aiohttp.ClientSession() as client, client.get(url) as response:
            assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")


@pytest.mark.web_site
async def test_telegram_sends_the_week_picture_with_results(
        emulator: Any, services: Services, simulated: Any) -> None:
    from tests.support.telegram import ADMIN, claim_admin, start_polling

    async with demo_site(services, simulated):
        transport = await start_polling(emulator, services)
        try:
            await claim_admin(emulator, services)
            await emulator.send_text(ADMIN, "/results")
            text, photo = await emulator.wait_for(ADMIN, 2)
            assert "결과" in text["text"] and photo["method"] == "sendPhoto"
            assert emulator.photos[-1]["bytes"].startswith(b"\x89PNG")
        finally:
            await transport.stop()


# -- the open-chat import reads what real exports hold -----------------------------------

SEOUL = ZoneInfo("Asia/Seoul")


def test_a_mac_csv_whose_quote_never_closes_is_read_line_by_line_and_says_so() -> None:
    rows = [f'2026-03-{day:02d} 10:0{day % 10}:00,"김하나 @hana.daily",'
            f'"https://www.instagram.com/p/HANA{day:04d}/\n하나 ({day % 3 + 1}/3)"'
            for day in range(2, 22)]
    rows[3] = '2026-03-05 10:05:00,이도윤 / dy_lee,"내일 올릴게요'  # opens, never closes
    text = "Date,User,Message\n" + "\n".join(rows) + "\n"
    parsed = parse_export(text, SEOUL)
    assert len(parsed.messages) == 20 and parsed.csv_rows_before_lines is not None
    assert parsed.csv_rows_before_lines < 20
    assert parsed.messages[-1].text == "https://www.instagram.com/p/HANA0021/\n하나 (1/3)"
    assert parsed.messages[3].text == "내일 올릴게요"
    found = digest(parsed, None)
    assert len(found.with_links) == 19
    report = ImportReport(found.layout, messages=found.messages,
                          rows_before_lines=found.rows_before_lines)
    assert "따옴표가 닫히지 않아" in render_report(report, "ko")
    assert "quotes never close" in render_report(report, "en")
    # A sound CSV says nothing of the kind.
    sound = parse_export("Date,User,Message\n" + "\n".join(rows[:3]) + "\n", SEOUL)
    assert sound.csv_rows_before_lines is None and len(sound.messages) == 3


def test_a_fragment_without_a_header_keeps_its_first_lines() -> None:
    fragment = ("https://www.instagram.com/p/FRAG0001/\n"
                "하나 (1/3)\n"
                "2026. 3. 30. 오전 9:45, 김하나 @hana.daily : https://www.instagram.com/p/FRAG0002/\n"
                "2026. 3. 30. 오전 9:50, 이도윤 / dy_lee : 좋아요\n")
    parsed = parse_export(fragment, SEOUL)
    assert [s.line_no for s in parsed.skipped if s.reason == "not_understood"] == [1, 2]
    with_header = ("품앗이 님과 카카오톡 대화\n저장한 날짜 : 2026. 3. 31. 오후 3:13\n\n"
                   + fragment.split("\n", 2)[2])
    assert not [s for s in parse_export(with_header, SEOUL).skipped]


def test_only_urls_are_links_and_iso_dated_iphone_exports_are_read() -> None:
    text = ("2026년 3월 30일 월요일\n"
            "2026-03-30 오전 4:39, 김하나 @hana.daily : "
            "사과 1.5kg/박스 8.0/Data 메론1.달콤한돈1/포장\n"
            "2026-03-30 오후 1:05, 김하나 @hana.daily : instagram.com/p/ISO00001/ 그리고 "
            "https://www.instagram.com/reel/ISO00002/?igsh=x\n")
    parsed = parse_export(text, SEOUL)
    assert parsed.layout == "iphone" and len(parsed.messages) == 2 and not parsed.skipped
    assert parsed.messages[1].when.hour == 13
    assert links_in(parsed.messages[0].text) == ()
    assert links_in(parsed.messages[1].text) == (
        "instagram.com/p/ISO00001/", "https://www.instagram.com/reel/ISO00002/?igsh=x")


# -- small things a new admin met ----------------------------------------------------------

async def test_refused_kakao_calls_say_why_in_the_log_once_a_minute(
        kakao_factory: Any, caplog: Any) -> None:
    kakao, _ = await kakao_factory()
    caplog.set_level(logging.WARNING, logger="bot.kakao")
    for _ in range(3):
        status, _answer = await kakao.post(skill_request("/help"), secret="wrong")
        assert status == 401
        status, _answer = await kakao.post(skill_request("/help", bot_id="typo-bot-id"))
        assert status == 401
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2  # one line per reason, not one per call
    assert any("X-Skill-Secret" in line for line in refusals)
    assert any("KAKAO_BOT_ID" in line and "typo-bot-id" in line for line in refusals)


async def test_adduser_in_the_console_does_not_point_at_a_missing_link(
        world: Services, bot: Dispatcher) -> None:
    bot.invite_links.clear()
    admin = await admin_person(world, bot)
    await admin.say("/adduser newbie")
    assert "초대 코드" in admin.text and "링크" not in admin.text


async def test_a_folder_import_with_no_admin_to_tell_says_so_in_the_log(
        services: Services, caplog: Any) -> None:
    from bot.app import _to_admins
    from bot.delivery import Delivery
    from services.open_chat.chat_export import ExportUnreadable

    caplog.set_level(logging.INFO, logger="bot.app")
    tell = _to_admins(Delivery(services, []), "folder")
    await tell("chat.txt", ExportUnreadable("empty"))
    (said,) = [r.getMessage() for r in caplog.records if "chat.txt" in r.getMessage()]
    assert "No admin can be told" in said and "/claim" in said


def test_the_jobs_lock_file_is_not_committed() -> None:
    root = Path(__file__).resolve().parent.parent
    found = subprocess.run(["git", "check-ignore", "-q", "autogram.sqlite3.jobs.lock"],
                           cwd=root, check=False)
    assert found.returncode == 0


def test_the_demo_says_where_it_writes_first_and_a_closed_pipe_is_quiet(
        tmp_path: Path) -> None:
    from tests.support.cli import AUTOGRAM, ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    shown = subprocess.run(" ".join([*AUTOGRAM, "chat", "--demo"]) + " | head -1",
                           shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert str(tmp_path / "autogram" / "demo") in shown.stdout
    # A reader that is gone before anything is written (`| true`): no error, exit 0.
    gone = subprocess.run(" ".join([*AUTOGRAM, "chat", "--demo"]) + " | true; "
                          "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert gone.stdout.strip() == "0", gone.stderr
    assert "Broken pipe" not in gone.stderr and "Cannot start" not in gone.stderr


# -- texts -------------------------------------------------------------------------------

async def test_audit_in_english_says_what_happened_in_words_not_codes(
        world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    await members(world, bot, "minji")
    await admin.say("/lang en")
    await admin.say("/suspend minji 1")
    await admin.say("/unsuspend minji")
    stranger = Person(bot, "stranger", name="stranger")
    await stranger.say("/start WRONGCODE1")
    await admin.say("/audit")
    assert "suspension lifted" in admin.text and "unsuspendd" not in admin.text
    assert "wrong invite code 1" in admin.text and "invite_failed" not in admin.text


async def test_a_well_written_week_that_does_not_exist_is_said_so(
        world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    await admin.say("/results 2026-W00")
    assert "2026-W00 같은 주는 없어요: 2026년은 1주부터 53주까지" in admin.text
    await admin.say("/results 2026-X1")
    assert "2026-W47처럼" in admin.text


async def test_approving_says_consumer_in_korean(world: Services, bot: Dispatcher) -> None:
    admin = await admin_person(world, bot)
    await admin.say("/approve consumer 999")
    assert admin.text == "대기 중인 소비자 #999가 없어요."
    await admin.say("/approve 소비자 999")
    assert "소비자 #999" in admin.text and "consumer" not in admin.text
