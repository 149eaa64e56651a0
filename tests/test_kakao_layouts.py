# ruff: noqa: E501 (export lines are as long as KakaoTalk writes them)
"""Every KakaoTalk export layout read whole: messages, times, nicknames and links, with
the system lines recognised (shapes from the reference, lines made up here)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.open_chat.chat_export import parse_export

SEOUL = ZoneInfo("Asia/Seoul")

ANDROID_KO = """\ufeff품앗이방 카카오톡 대화
저장한 날짜 : 2025년 12월 22일 오후 3:13


2025년 12월 15일 오전 9:45
2025년 12월 15일 오전 9:45, 김하나 @hana.daily : https://www.instagram.com/p/DAbCdEfGhIj/
하나 (1/3)
2025년 12월 15일 오전 10:02, 이도윤님이 최민아님, 박서준님과 정다은님을 초대했습니다.
2025년 12월 15일 오후 12:55, 박서준 @seojun_p : 사진
2025년 12월 15일 오후 12:00, 오픈채팅봇 : 오늘의 과제는
오늘 해결하기!
2025년 12월 15일 오후 1:00, 최민아 @mina.c : 메시지가 삭제되었습니다.
2025년 12월 16일 오전 12:05
2025년 12월 16일 오전 12:05, 이도윤 / dy_lee : https://instagram.com/reel/DXyZ123abcd 도윤 (1/3)
"""

ANDROID_EN = """KakaoTalk Chats with sns club (24)
Date Saved : Dec 22, 2025, 3:13 PM


December 15, 2025, 9:45 AM
December 15, 2025, 9:45 AM, Hana Kim @hana.daily : https://www.instagram.com/reel/DXyZ123abcd/
December 15, 2025, 10:02 AM, Doyun Lee joined this chatroom.
You may temporarily be banned from using KakaoTalk if other members report you for violating our Operation Policy.
December 15, 2025, 10:05 AM, Minji invited Seojun and Dana.
Dec 15, 2025, 12:30 PM, Seojun @seojun_p : done 👍
December 15, 2025, 11:20 PM, Dana left this chatroom.
"""

ANDROID_EN_DAY_FIRST = """Date Saved : 22 Dec 2025, 3:13 PM

15 December 2025, 9:45 AM
15 December 2025, 9:45 AM, Hana Kim @hana.daily : https://www.instagram.com/p/DAbCdEfGhIj/
15 December 2025, 12:05 PM, Doyun @dy_lee : noon
"""

PC_EN = """sns club chat
Date Saved : 2025-12-22 15:13:02

--------------- Thursday, April 24, 2025 ---------------
Hana joined this chatroom.
[Hana Kim @hana.daily] [1:16 PM] https://www.instagram.com/p/DAbCdEfGhIj/
[Hana Kim @hana.daily] [12:01 AM] Hana (2/3)
--------------- Friday, 25 April 2025 ---------------
[Doyun @dy_lee] [9:00 AM] https://instagram.com/reel/DXyZ123abcd
"""

PC_KO = """오픈채팅방 님과 카카오톡 대화
저장한 날짜 : 2025-12-22 15:13:02

--------------- 2025년 4월 24일 목요일 ---------------
정하나님이 들어왔습니다.운영정책을 위반한 메시지로 신고 접수 시 카카오톡 이용에 제한이 있을 수 있습니다.
김하나님이 이도윤님, 박서준님과 최민아님을 초대했습니다.
[김하나 @hana.daily] [오후 1:16] https://www.instagram.com/p/DAbCdEfGhIj/
[김하나 @hana.daily] [오후 1:16] 하나 (2/3)
"""

MAC = """Date,User,Message
2025-12-15 09:45:12,"김하나 @hana.daily","https://www.instagram.com/p/DAbCdEfGhIj/
하나 (1/3)"
2025-12-15 10:02:40,"이도윤 / dy_lee","오늘 ""링크"" 올립니다"
2025-12-15 13:00:00,"","최민아님이 들어왔습니다."
"""


@pytest.mark.parametrize(("text", "layout", "expected"), [
    (ANDROID_KO, "android", [
        (datetime(2025, 12, 15, 9, 45), "김하나 @hana.daily", "DAbCdEfGhIj/\n하나 (1/3)"),
        (datetime(2025, 12, 15, 12, 55), "박서준 @seojun_p", "사진"),
        (datetime(2025, 12, 16, 0, 5), "이도윤 / dy_lee", "도윤 (1/3)")]),
    (ANDROID_EN, "android_en", [
        (datetime(2025, 12, 15, 9, 45), "Hana Kim @hana.daily", "DXyZ123abcd/"),
        (datetime(2025, 12, 15, 12, 30), "Seojun @seojun_p", "done 👍")]),
    (ANDROID_EN_DAY_FIRST, "android_en", [
        (datetime(2025, 12, 15, 9, 45), "Hana Kim @hana.daily", "DAbCdEfGhIj/"),
        (datetime(2025, 12, 15, 12, 5), "Doyun @dy_lee", "noon")]),
    (PC_EN, "pc_en", [
        (datetime(2025, 4, 24, 13, 16), "Hana Kim @hana.daily", "DAbCdEfGhIj/"),
        (datetime(2025, 4, 24, 0, 1), "Hana Kim @hana.daily", "Hana (2/3)"),
        (datetime(2025, 4, 25, 9, 0), "Doyun @dy_lee", "DXyZ123abcd")]),
    (PC_KO, "pc", [
        (datetime(2025, 4, 24, 13, 16), "김하나 @hana.daily", "DAbCdEfGhIj/"),
        (datetime(2025, 4, 24, 13, 16), "김하나 @hana.daily", "하나 (2/3)")]),
    (MAC, "mac", [
        (datetime(2025, 12, 15, 9, 45, 12), "김하나 @hana.daily", "DAbCdEfGhIj/\n하나 (1/3)"),
        (datetime(2025, 12, 15, 10, 2, 40), "이도윤 / dy_lee", '오늘 "링크" 올립니다')]),
])
def test_every_layout_reads_its_messages_and_only_them(
    text: str, layout: str, expected: list[tuple[datetime, str, str]]
) -> None:
    for variant in (text, text.replace("\n", "\r\n")):
        parsed = parse_export(variant, SEOUL)
        assert parsed.layout == layout
        got = [(m.when.replace(tzinfo=None), m.nickname, m.text) for m in parsed.messages]
        assert len(got) == len(expected), got
        for (when, nick, text_end), (g_when, g_nick, g_text) in zip(expected, got, strict=True):
            assert (g_when, g_nick) == (when, nick) and g_text.endswith(text_end), got
        assert not [s for s in parsed.skipped if s.reason == "not_understood"], parsed.skipped


def test_nothing_recognised_lists_the_first_lines() -> None:
    parsed = parse_export("hello\nthis is not a chat\n", SEOUL)
    assert parsed.layout == "unknown" and not parsed.messages
    assert [s.text for s in parsed.skipped][:2] == ["hello", "this is not a chat"]


async def test_an_admin_imports_an_android_export_and_a_wrong_file_is_explained(
    dispatcher: object, services: object
) -> None:
    from handlers.dispatcher import Dispatcher
    from services.container import Services
    from tests.support.chat_driver import Person
    from tests.support.members import make_admin

    assert isinstance(dispatcher, Dispatcher) and isinstance(services, Services)
    boss = Person(dispatcher, "boss")
    await make_admin(services, boss)
    await boss.say("/adduser hana.daily dy_lee")
    now = services.clock().astimezone(SEOUL)
    stamp = f"{now.year}년 {now.month}월 {now.day}일 오전 9:45"
    export = (f"품앗이방 카카오톡 대화\n저장한 날짜 : {stamp}\n\n{stamp}\n"
              f"{stamp}, 김하나 @hana.daily : https://www.instagram.com/p/ANDRO0001x/\n하나 (1/3)\n"
              f"{stamp}, 이도윤님이 최민아님을 초대했습니다.\n")
    await boss.send_file("KakaoTalkChats.txt", export.encode())
    assert "안드로이드 내보내기" in boss.text and "1" in boss.text
    await boss.send_file("notes.txt", "장보기 목록\n우유\n".encode())
    assert "읽어 본 형식" in boss.text and "장보기 목록" in boss.text


def test_a_chat_export_past_its_limits_is_refused_naming_them() -> None:
    import io
    import zipfile

    from services.open_chat import chat_export as kakao_export
    from services.open_chat.chat_export import ExportUnreadable, read_chat_export

    with pytest.raises(ExportUnreadable) as refused:
        read_chat_export(b"x" * (kakao_export.MAX_UPLOAD + 1), "big.txt", SEOUL)
    assert (refused.value.reason, refused.value.limit) == ("upload_too_big", 20)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("Kakao/KakaoTalkChats.txt", "w") as out:
        for _ in range(1100):
            out.write(b"2025. 12. 15. \xec\x98\xa4\xec\xa0\x84 9:45, a : b\n" * 2000)
    with pytest.raises(ExportUnreadable) as refused:
        read_chat_export(bomb.getvalue(), "chat.zip", SEOUL)
    assert refused.value.reason in ("text_too_big", "too_many_lines")
    media = io.BytesIO()
    with zipfile.ZipFile(media, "w") as archive:
        archive.writestr("Kakao/readme.txt", "x")
        archive.writestr("Kakao/KakaoTalkChats.txt", ANDROID_KO)
        archive.writestr("Kakao/3f9a01e1.jpg", b"\xff\xd8" + b"\0" * 100)
    parsed = read_chat_export(media.getvalue(), "chat.zip", SEOUL)
    assert parsed.layout == "android" and len(parsed.messages) == 3


IPHONE_EN_NUMERIC = """Talk_2025.12.22 15:13-1.txt
Date Saved : 2025. 12. 22. 3:13 PM

Monday, December 15, 2025
2025. 12. 15. 9:45 PM, Hana Kim @hana.daily : https://www.instagram.com/p/DAbCdEfGhIj/
2025. 12. 15. 9:46 PM: Doyun joined this chatroom.
2025. 12. 15. 12:05 AM, Doyun @dy_lee : midnight
"""

MAC_KO_HEADER = """날짜,사용자,메시지
2025-12-15 09:45:12,"김하나 @hana.daily","https://www.instagram.com/p/DAbCdEfGhIj/"
"""


@pytest.mark.parametrize(("text", "layout", "expected"), [
    (IPHONE_EN_NUMERIC, "iphone_en", [
        (datetime(2025, 12, 15, 21, 45), "Hana Kim @hana.daily", "DAbCdEfGhIj/"),
        (datetime(2025, 12, 15, 0, 5), "Doyun @dy_lee", "midnight")]),
    (MAC_KO_HEADER, "mac", [
        (datetime(2025, 12, 15, 9, 45, 12), "김하나 @hana.daily", "DAbCdEfGhIj/")]),
])
def test_the_iphone_s_numeric_dates_with_an_english_clock_and_a_korean_csv_header(
    text: str, layout: str, expected: list[tuple[datetime, str, str]]
) -> None:
    test_every_layout_reads_its_messages_and_only_them(text, layout, expected)
