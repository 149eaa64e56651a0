"""Every layout built line by line and read back: the same messages, times, nicknames and
links; every system line recognised as one; any generated chat yields exactly its
messages (a property test over every layout, clock, line ending and BOM)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.open_chat import chat_export as kx
from services.open_chat.chat_export import parse_export, read_chat_export
from services.week.post_links import ANY_URL
from testkit.kakao_export_builder import LAYOUTS, SYSTEM_WORDS, ExportBuilder

SEOUL = ZoneInfo("Asia/Seoul")
VARIANTS = [(layout, clock24, day_first) for layout in LAYOUTS for clock24 in (False, True)
            for day_first in ((False, True) if layout == "android_en" else (False,))]
MEDIA_LINES = ("사진", "사진 3장", "동영상", "3f9a0c1de1.jpg", "Photo", "Video", "이모티콘",
               "Emoticons", "파일: 회칙.pdf")


def community_chat(layout: str, clock24: bool = False, day_first: bool = False) -> ExportBuilder:
    """A week of the community's habits: links with counters, links glued to words, two
    links in one message, media, multi-line chatter, midnight and noon, and every kind
    of system line."""
    b = ExportBuilder(layout, clock24=clock24, day_first=day_first,
                      short_months=layout == "iphone_en")
    day = datetime(2025, 12, 15, 0, 5)
    b.message(day, "김하나 @hana.daily",
              "https://www.instagram.com/p/DAbCdEfGhIj/?igsh=MTc4MmM1YmI2Ng==\n하나 (1/3)")
    b.system(day + timedelta(minutes=1), "join_policy", a="최민아 @mina.c")
    b.message(day + timedelta(hours=12), "이도윤 / dy_lee",
              "오늘 링크 올립니다\nhttps://instagram.com/reel/DXyZ123abcd\n\n도윤 (1/3)")
    for n, kind in enumerate(SYSTEM_WORDS, 1):
        b.system(day + timedelta(hours=12, minutes=n), kind)
    b.system(day + timedelta(hours=13), "bot")
    for n, media in enumerate(MEDIA_LINES):
        b.message(day + timedelta(hours=14, minutes=n), "박서준 @Seojun_P", media)
    b.message(day + timedelta(days=1, hours=23, minutes=59), "Dana Jung @dana.j",
              "두 개요 https://www.instagram.com/p/DDana0001x/ 그리고"
              "https://www.instagram.com/p/DDana0002x/?img_index=1 감사합니다 (2/3)")
    b.system(day + timedelta(days=2), "invite_many", a="김하나")
    b.message(day + timedelta(days=2, hours=12), "@Owner", "공지: 이번 주도 화이팅, 여러분 :)")
    return b


def _messages(parsed: kx.ParsedExport) -> list[tuple[datetime, str, str]]:
    return [(m.when.replace(tzinfo=None), m.nickname, m.text) for m in parsed.messages]


@pytest.mark.parametrize(("layout", "clock24", "day_first"), VARIANTS)
def test_every_layout_round_trips_messages_times_nicknames_links_and_system_lines(
    layout: str, clock24: bool, day_first: bool,
) -> None:
    built = community_chat(layout, clock24, day_first)
    for crlf, bom in ((False, False), (True, True), (False, True)):
        parsed = parse_export(built.text(crlf, bom), SEOUL)
        assert parsed.layout == layout
        assert _messages(parsed) == built.expected
        links = [link for m in parsed.messages for link in ANY_URL.findall(m.text)]
        assert len(links) == 4
        assert [s.reason for s in parsed.skipped] == ["system"] * built.system_lines, [
            s for s in parsed.skipped if s.reason != "system"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_zip_the_phone_mails_with_photos_and_a_folder(layout: str) -> None:
    built = community_chat(layout)
    parsed = read_chat_export(built.zip(media=True), "Kakaotalk_Chat.zip", SEOUL)
    assert parsed.layout == layout and _messages(parsed) == built.expected


def test_the_header_and_saved_on_line_are_never_messages() -> None:
    for layout in LAYOUTS:
        built = ExportBuilder(layout, saved=datetime(2025, 12, 22, 15, 13))
        built.message(datetime(2025, 12, 22, 15, 20), "김하나 @hana.daily", "안녕하세요")
        parsed = parse_export(built.text(), SEOUL)
        assert _messages(parsed) == built.expected, layout
        assert parsed.skipped == [], layout


def test_a_file_of_no_layout_reports_what_was_tried() -> None:
    parsed = parse_export("장보기 목록\n우유\n계란\n", SEOUL)
    assert parsed.layout == "unknown" and not parsed.messages
    assert [s.text for s in parsed.skipped] == ["장보기 목록", "우유", "계란"]


# ---- the property: any chat in any layout yields exactly its messages

NICK_CHARS = st.sampled_from([*"가나다라마바사아자차카타파하민지서준도윤abcXYZ019 ._@/-", "😀"])
TEXT_CHARS = st.sampled_from([*"가나다라마하댓글완료 abcxyz0123.,!?()~^#_-/:", "👍", "🙏"])
LINK = st.builds(lambda code: f"https://www.instagram.com/p/{code}/",
                 st.text("ABCDEFabcdef0123456789", min_size=8, max_size=11))


def _looks_like_a_line_of_its_own(line: str) -> bool:
    """A line a person could not type inside a message without starting a new one in
    some layout (a timestamp, a day line, a PC prefix, a system notice)."""
    patterns = (kx.IPHONE, kx.ANDROID, kx.PHONE_EN, kx.KO_DAY, kx.EN_DAY, kx.PC_DAY,
                kx.PC_MESSAGE, kx.SAVED_LINE)
    return any(p.match(line) for p in patterns) or bool(kx.SYSTEM_TEXT.search(line.strip()))


@st.composite
def message_text(draw: st.DrawFn) -> str:
    lines = []
    for n in range(draw(st.integers(1, 4))):
        words = draw(st.text(TEXT_CHARS, min_size=0 if n else 1, max_size=30)).strip()
        if draw(st.booleans()):
            words = f"{words} {draw(LINK)}".strip()
        lines.append(words)
    while lines and not lines[-1]:
        lines.pop()
    text = "\n".join(lines)
    assume(text and lines[0] and not any(_looks_like_a_line_of_its_own(x) for x in lines))
    return text


@st.composite
def chat(draw: st.DrawFn) -> ExportBuilder:
    layout = draw(st.sampled_from(LAYOUTS))
    built = ExportBuilder(layout, clock24=draw(st.booleans()),
                          day_first=draw(st.booleans()), short_months=draw(st.booleans()),
                          narrow_space=draw(st.booleans()))
    moment = datetime(2025, 1, 1) + timedelta(minutes=draw(st.integers(0, 500_000)))
    for _ in range(draw(st.integers(1, 12))):
        moment += timedelta(minutes=draw(st.integers(0, 3000)),
                            seconds=draw(st.integers(0, 59)))
        if draw(st.integers(0, 4)) == 0:
            built.system(moment, draw(st.sampled_from([*SYSTEM_WORDS, "join_policy", "bot"])))
            continue
        nickname = draw(st.text(NICK_CHARS, min_size=1, max_size=20)).strip()
        assume(nickname and " : " not in f" {nickname} " and "] [" not in nickname
               and nickname not in kx.SYSTEM_NICKNAMES and not nickname.endswith(" :"))
        built.message(moment, nickname, draw(message_text()))
    return built


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(chat(), st.booleans(), st.booleans())
def test_any_chat_in_any_layout_yields_exactly_its_messages(
    built: ExportBuilder, crlf: bool, bom: bool,
) -> None:
    parsed = parse_export(built.text(crlf, bom), SEOUL)
    assert parsed.layout == built.layout
    assert _messages(parsed) == built.expected
    assert [s.reason for s in parsed.skipped] == ["system"] * built.system_lines
