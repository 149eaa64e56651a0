"""The open-chat bridge: KakaoTalk exports in both layouts, imported with a full report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from handlers.open_chat import render_report
from jobs.open_chat_folder import import_new_files
from services.container import Services
from services.members.queries import MemberRepo
from services.open_chat.chat_export import ExportUnreadable, decode_export, parse_export
from services.week.post_links import PostLink, parse_post_link
from storage.models import Member, Submission
from testkit.kakao_export_builder import ExportBuilder
from tests.support.chat_driver import Person
from tests.support.open_chat import add_members
from tests.support.open_chat import world as world

SEOUL = ZoneInfo("Asia/Seoul")
W50, W51 = date(2025, 12, 8), date(2025, 12, 15)

REFERENCE_PHONE = """Talk_2025.12.22 10:01-1.txt
저장한 날짜 : 2025. 12. 22. 오후 3:13

2025년 12월 15일 월요일
2025. 12. 15. 오전 9:45, 김하나 @hana.daily : https://www.instagram.com/p/DAbCdEfGhIj/?igsh=MTc4MmM1YmI2Ng==
하나 (1/3)
2025. 12. 15. 오전 10:02, 이도윤 / dy_lee : 오늘 링크 올립니다
https://instagram.com/reel/DXyZ123abcd
도윤 (1/3)
2025. 12. 15. 오후 1:16, 오픈채팅봇 : 오늘의 과제는 오늘 해결하기!
2025. 12. 15. 오후 2:30, 박서준 @Seojun_P : 댓글 완료했어요 👍
2025. 12. 15. 오후 3:01: 최민아 @mina.c님이 들어왔습니다.
2025. 12. 16. 오전 8:02, 방장 @owner_id : 관리자가 1개의 메시지를 가렸습니다.
"""

REFERENCE_PC = """--------------- 2025년 4월 24일 목요일 ---------------
[김하나 @hana.daily] [오후 1:16] https://www.instagram.com/p/DAbCdEfGhIj/
[김하나 @hana.daily] [오후 1:16] 하나 (2/3)
[김하나 @hana.daily] [오전 12:05] 자정 직후
김하나 @hana.daily님이 나갔습니다.
"""


def test_the_reference_phone_export() -> None:
    parsed = parse_export(REFERENCE_PHONE, SEOUL)
    assert parsed.layout == "iphone"
    assert [(m.line_no, m.nickname, m.when.isoformat()) for m in parsed.messages] == [
        (5, "김하나 @hana.daily", "2025-12-15T09:45:00+09:00"),
        (7, "이도윤 / dy_lee", "2025-12-15T10:02:00+09:00"),
        (11, "박서준 @Seojun_P", "2025-12-15T14:30:00+09:00"),
    ]
    assert parsed.messages[1].text == (
        "오늘 링크 올립니다\nhttps://instagram.com/reel/DXyZ123abcd\n도윤 (1/3)")
    assert [(s.line_no, s.reason) for s in parsed.skipped] == [
        (10, "system"), (12, "system"), (13, "system")]


def test_the_reference_pc_export_and_the_twelve_oclock_hours() -> None:
    parsed = parse_export(REFERENCE_PC, SEOUL)
    assert parsed.layout == "pc"
    assert [m.when.strftime("%Y-%m-%d %H:%M") for m in parsed.messages] == [
        "2025-04-24 13:16", "2025-04-24 13:16", "2025-04-24 00:05"]
    assert [s.reason for s in parsed.skipped] == ["system"]


def test_unreadable_files_say_why() -> None:
    for data, name, reason in [
        (b"PK\x03\x04broken", "chat.zip", "bad_zip"),
        ("대화".encode("cp949"), "chat.txt", "not_text"),
        (b"", "chat.txt", "empty"),
    ]:
        with pytest.raises(ExportUnreadable) as failure:
            decode_export(data, name)
        assert failure.value.reason == reason




def kst(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2025, month, day, hour, minute)


def community_export(layout: str) -> tuple[ExportBuilder, dict[str, int]]:
    """Two weeks of the community's chat, with every kind of line; returns the line numbers."""
    b = ExportBuilder(layout)
    n: dict[str, int] = {}
    n["w50_seojun"] = b.message(kst(10, 21), "박서준 @Seojun_P",
                                "https://www.instagram.com/p/SEOJUN050/\n서준 (1/3)")
    n["hana_1"] = b.message(kst(15, 9, 45), "김하나 @hana.daily",
                            "https://www.instagram.com/p/DAbCdEfGhIj/?igsh=MTc4\n하나 (1/3)")
    n["doyun"] = b.message(kst(15, 10, 2), "이도윤 / dy_lee",
                           "오늘 링크 올립니다\nhttps://instagram.com/reel/DXyZ123abcd\n도윤 (1/3)")
    b.message(kst(15, 13, 16), "오픈채팅봇", "오늘의 과제는 오늘 해결하기!")
    b.message(kst(15, 14, 30), "박서준 @Seojun_P", "댓글 완료했어요 👍")
    b.system(kst(15, 15, 1), "최민아 @mina.c님이 들어왔습니다.")
    n["mina"] = b.message(kst(15, 15, 30), "최민아 mina.c",
                          "https://www.instagram.com/p/MINA00001/ "
                          "https://www.instagram.com/p/MINA00002/?utm_source=ig_web_copy_link 🙏")
    n["stranger"] = b.message(kst(16, 9), "홍길동 @not_member", "www.instagram.com/p/GILDONG01/")
    n["no_id"] = b.message(kst(16, 9, 30), "익명의 프로도", "https://www.instagram.com/p/FRODO0001/")
    n["profile"] = b.message(kst(16, 10), "김하나 @hana.daily", "https://www.instagram.com/hana.daily/")
    n["hana_2"] = b.message(kst(16, 11), "김하나 @hana.daily",
                            "https://www.instagram.com/p/HANA00002/ 하나 (2/3)")
    n["hana_again"] = b.message(kst(16, 12), "김하나 @hana.daily",
                                "https://www.instagram.com/p/DAbCdEfGhIj/")
    n["hana_3"] = b.message(kst(17, 8), "김하나 @HANA.daily", "https://www.instagram.com/p/HANA00003/")
    n["hana_4"] = b.message(kst(17, 9), "김하나 @hana.daily", "https://www.instagram.com/p/HANA00004/")
    n["taken"] = b.message(kst(17, 10), "이도윤 / dy_lee", "https://www.instagram.com/p/HANA00002/")
    b.system(kst(18, 8, 2), "관리자가 1개의 메시지를 가렸습니다.")
    n["blog"] = b.message(kst(18, 20), "박서준 seojun_p", "제 블로그도 봐 주세요 https://blog.naver.com/seojun/22334")
    n["late"] = b.message(kst(21, 13), "박서준 @Seojun_P", "https://www.instagram.com/p/TOOLATE01/")
    return b, n






async def stored(world: Services) -> set[tuple[str, date, str, str]]:
    async with world.transaction() as tx:
        rows = await tx.session.execute(
            select(Member.instagram_username, Submission.week_start, Submission.shortcode,
                   Submission.source).join(Member, Member.id == Submission.member_id))
        return set(rows.all())


@pytest.mark.parametrize("layout", ["iphone", "pc"])
async def test_an_export_imports_exactly_with_every_unused_link_listed(
    world: Services, layout: str
) -> None:
    await add_members(world)
    builder, n = community_export(layout)
    async with world.transaction() as tx:
        report = await tx.open_chat.import_file(builder.bytes(), "chat.txt", tx.now(), None)

    assert await stored(world) == {
        ("seojun_p", W50, "SEOJUN050", "kakao"),
        ("hana.daily", W51, "DAbCdEfGhIj", "kakao"),
        ("dy_lee", W51, "DXyZ123abcd", "kakao"),
        ("mina.c", W51, "MINA00001", "kakao"),
        ("mina.c", W51, "MINA00002", "kakao"),
        ("hana.daily", W51, "HANA00002", "kakao"),
        ("hana.daily", W51, "HANA00003", "kakao"),
    }
    assert (report.layout, report.messages, report.links, report.added, report.duplicates) == (
        layout, 15, 15, 7, 1)
    assert report.weeks == ["2025-W50", "2025-W51"]
    assert [(u.line_no, u.reason) for u in report.unused] == [
        (n["stranger"], "unknown_member"),
        (n["no_id"], "no_instagram_id"),
        (n["profile"], "not_a_post_link"),
        (n["hana_4"], "over_quota"),
        (n["taken"], "repost"),
        (n["blog"], "not_a_post_link"),
        (n["late"], "after_deadline"),
    ]
    assert report.not_understood == []
    text = render_report(report, "ko")
    assert "링크 15개 · 새로 추가 7개 · 이미 있음 1개" in text
    assert f"• {n['hana_4']}줄 [김하나 @hana.daily] https://www.instagram.com/p/HANA00004/ — " \
           "그 주의 최대 제출 개수를 넘었어요" in text

    async with world.transaction() as tx:  # the same file again adds nothing
        again = await tx.open_chat.import_file(builder.bytes(), "chat.txt", tx.now(), None)
    assert (again.added, again.duplicates) == (0, 8)
    assert len(await stored(world)) == 7


async def test_an_upload_imports_only_recent_weeks(world: Services) -> None:
    await add_members(world)
    builder, n = community_export("iphone")
    async with world.transaction() as tx:
        report = await tx.open_chat.import_file(builder.zip(), "Talk.zip", tx.now(), 2)
    assert report.added == 6 and report.weeks == ["2025-W51"]
    assert report.links_outside == 1  # W50's link: counted, not listed
    assert n["w50_seojun"] not in [u.line_no for u in report.unused]
    assert "가져오는 주보다 앞선 링크 1개는 건너뛰었어요." in render_report(report, "ko")


async def test_a_post_handed_in_in_an_earlier_week_is_listed_with_why(
    world: Services, engine: AsyncEngine
) -> None:
    await add_members(world)
    b = ExportBuilder("iphone")
    first = b.message(kst(10, 9), "김하나 @hana.daily", "https://www.instagram.com/p/HANA00009/")
    again = b.message(kst(15, 9), "김하나 @hana.daily", "https://www.instagram.com/p/HANA00009/")
    old = b.message(kst(15, 10), "이도윤 / dy_lee", "https://www.instagram.com/reel/DOLDPOST01/")
    async with world.transaction() as tx:  # handed in in the chat, two weeks before
        doyun = await MemberRepo(tx.session).by_username("dy_lee")
        post = parse_post_link("https://www.instagram.com/reel/DOLDPOST01/")
        assert isinstance(post, PostLink)
        await tx.submissions.submit(doyun.id, post, datetime(2025, 12, 2, 3, tzinfo=UTC))
    asked: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if "request_by_week.shortcode IN" in statement:
            asked.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with world.transaction() as tx:
            report = await tx.open_chat.import_file(b.bytes(), "chat.txt", tx.now(), None)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(asked) == 1  # one query for all the import's posts
    assert report.added == 1 and first not in [u.line_no for u in report.unused]
    assert [(u.line_no, u.reason) for u in report.unused] == [
        (again, "earlier_week"), (old, "earlier_week")]
    assert f"• {again}줄 [김하나 @hana.daily] https://www.instagram.com/p/HANA00009/ — " \
           "앞선 주에 이미 제출된 게시물이에요" in render_report(report, "ko")

    # The operator allows it and restarts: a container with the new rules.
    restarted = replace(world, rules=replace(world.rules, allow_resubmitted_posts=True))
    async with restarted.transaction() as tx:
        allowed = await tx.open_chat.import_file(b.bytes() + b"\n", "chat.txt", tx.now(), None)
    assert (allowed.added, allowed.duplicates, allowed.unused) == (2, 1, [])


async def test_open_chat_members_get_their_status_once_linked(world: Services) -> None:
    await add_members(world)
    builder, _ = community_export("iphone")
    async with world.transaction() as tx:
        await tx.open_chat.import_file(builder.bytes(), "chat.txt", tx.now(), None)
        hana = await MemberRepo(tx.session).by_username("hana.daily")
        code = await tx.invites.create(hana.id)
    world.clock.now = datetime(2025, 12, 17, 3, 0, tzinfo=UTC)  # type: ignore[attr-defined]  # W51's Wednesday
    person = Person(Dispatcher(world), "tg-hana")
    await person.say(f"/start {code}")
    await person.say("/status")
    assert "내 제출: 3/3" in person.text
    assert "@dy_lee https://www.instagram.com/p/DXyZ123abcd/" in person.text


async def test_the_watched_folder_imports_each_file_once(
    world: Services, tmp_path: Path
) -> None:
    await add_members(world)
    builder, _ = community_export("pc")
    (tmp_path / "week51.txt").write_bytes(builder.bytes())
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04nope")
    (tmp_path / "notes.md").write_text("not an export")
    seen: list[tuple[str, int | None, str | None]] = []

    async def sink(name, result):  # type: ignore[no-untyped-def]
        if isinstance(result, ExportUnreadable):
            seen.append((name, None, result.reason))
        else:
            seen.append((name, result.added, None))

    assert await import_new_files(world, tmp_path, sink) == 2
    assert sorted(seen) == [("broken.zip", None, "bad_zip"), ("week51.txt", 6, None)]
    (tmp_path / "copy-of-week51.txt").write_bytes(builder.bytes())  # same content, new name
    assert await import_new_files(world, tmp_path, sink) == 0
    assert len(seen) == 2
