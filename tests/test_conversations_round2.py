"""Conversations, round two: what a new admin and a KakaoTalk member tripped on, met as
they meet it (the console driver, the Kakao endpoint with real skill payloads)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from storage.models import Admin, ChatAccount, Helper
from tests.conftest import TEST_NOW
from tests.support.chat_driver import Person
from tests.support.kakao import kakao_factory  # noqa: F401  (the fixture)


async def admin(services: Services, platform: str = "console", language: str = "ko",
                name: str = "boss") -> Person:
    async with services.transaction() as tx:
        account = ChatAccount(platform=platform, platform_user_id=name, language=language)
        tx.session.add(account)
        await tx.session.flush()
        tx.session.add(Admin(name=name, chat_account_id=account.id, claimed_at=TEST_NOW))
    return Person(Dispatcher(services), name, name, platform=platform,
                  language_hint=language)


async def member(services: Services, name: str, platform: str = "console",
                 language: str = "ko") -> Person:
    async with services.transaction() as tx:
        (added,) = await tx.members.add(None, [name])  # type: ignore[arg-type]
    person = Person(Dispatcher(services), f"user-{name}", name, platform=platform,
                    language_hint=language)
    await person.say(f"/start {added.code}")
    return person


def logins(simulated: SimulatedInstagram) -> int:
    return sum(1 for operation, _ in simulated.calls if operation == "login")


async def helpers(services: Services) -> int:
    async with services.transaction() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(Helper))
                   or 0)


# --- 1. the cancel words at a password step --------------------------------------------


async def test_cancel_words_at_a_password_step_end_it_and_try_no_login(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="right")
    boss = await admin(timed)
    for word in ("/cancel", "취소", "cancel", "CANCEL"):
        await boss.say("/addhelper")
        await boss.say("helper.one")
        replies = await boss.say(word)
        assert "취소했어요" in boss.text, word
        assert replies[0].delete_incoming
    assert logins(simulated) == 0 and await helpers(timed) == 0
    await boss.say("helper.one")  # no flow any more: not taken as a name or password
    assert logins(simulated) == 0


async def test_a_menu_word_at_a_password_step_is_asked_about_first(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="내 현황")
    boss = await admin(timed, language="en")
    await boss.say("/addhelper")
    await boss.say("helper.one")
    replies = await boss.say("내 현황")
    assert "Is it your password?" in boss.text and "내 현황" not in boss.text
    assert replies[0].delete_incoming
    assert [b.label for b in replies[0].buttons] == ["Yes, it is my password", "Cancel"]
    assert logins(simulated) == 0
    await boss.press("Yes, it is my password")  # now it is tried, and it is right
    assert logins(simulated) == 1 and "@helper.one" in boss.text
    assert await helpers(timed) == 1


async def test_a_menu_word_twice_is_the_menu_and_the_password_step_is_gone(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("helper.one", password="right")
    boss = await admin(timed)
    await boss.say("/addhelper")
    await boss.say("helper.one")
    await boss.say("/helpers")
    assert "비밀번호인가요?" in boss.text
    await boss.say("/helpers")
    assert "헬퍼 계정" in boss.text or "등록된 헬퍼" in boss.text
    await boss.say("right")  # a later conversation: nothing of the step is left
    assert logins(simulated) == 0 and await helpers(timed) == 0


async def test_a_menu_button_at_a_password_step_ends_it(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    simulated.add_account("minji.producer", password="pw")
    minji = await member(timed, "minji.producer")
    await minji.say("/producer")
    await minji.say("minji.producer")
    await minji._send("내 현황", "/status")  # a quick reply of an earlier answer
    assert "이번 주" in minji.text or "내 제출" in minji.text
    await minji.say("pw")  # not a password any more
    assert logins(simulated) == 0


async def test_kakao_cancel_words_at_the_producer_password_step(
    kakao_factory: Any, timed: Services, simulated: SimulatedInstagram  # noqa: F811
) -> None:
    simulated.add_account("hana.daily", password="pw")
    kakao, _ = await kakao_factory()
    async with timed.transaction() as tx:
        (added,) = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(added.code or "")
    for word in ("취소", "/cancel"):
        await kakao.say("/producer")
        await kakao.say("hana.daily")
        assert "취소했어요" in await kakao.say(word)
    await kakao.say("/producer")
    await kakao.say("hana.daily")
    assert "비밀번호인가요?" in await kakao.say("내 현황")
    assert "내 제출" in await kakao.say("내 현황")
    assert logins(simulated) == 0


# --- 3. a numbered list answered by its number -------------------------------------------


async def test_a_withdraw_list_takes_its_number_and_keeps_itself_otherwise(
    timed: Services,
) -> None:
    minji = await member(timed, "minji")
    await minji.say("https://www.instagram.com/p/AAAAA111/ https://www.instagram.com/p/BBBBB222/")
    await minji.say("제출 취소")
    assert "1. https://www.instagram.com/p/AAAAA111/" in minji.text
    await minji.say("무슨 말인지")  # neither a number nor a button: the list stays
    assert "번호(1~2)" in minji.text and "2. https://www.instagram.com/p/BBBBB222/" in minji.text
    assert [b.label for b in minji.last.replies[0].buttons] == [
        "1. AAAAA111", "2. BBBBB222", "취소"]
    await minji.say("7")  # not on the list
    assert "번호(1~2)" in minji.text
    await minji.say("2번")
    assert "제출을 취소했어요. 이번 주 제출: 1/3" in minji.text
    await minji.say("1")  # the list is gone: a plain number is no choice any more
    assert "제출을 취소했어요" not in minji.text


async def test_kakao_withdraw_by_typed_number_in_english(
    kakao_factory: Any, timed: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    async with timed.transaction() as tx:
        (added,) = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(added.code or "")
    await kakao.say("/lang en")
    await kakao.say("https://www.instagram.com/p/KAKAO0001/ https://www.instagram.com/p/KAKAO0002/")
    await kakao.say("withdraw")
    assert "Send the number of your choice (1 to 2)" in await kakao.say("hello")
    assert "2. https://www.instagram.com/p/KAKAO0002/" in kakao_text(kakao)
    answer = await kakao.say("2")
    assert "1/3" in answer and "KAKAO0002" not in await kakao.say("/status")


def kakao_text(kakao: Any) -> str:
    return "\n".join(o["simpleText"]["text"] for o in kakao.last["template"]["outputs"])


# --- 4. a confirmation's cancel says what was not done -------------------------------------


async def test_cancelled_confirmations_say_what_stays(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    await member(timed, "newbie")
    async with timed.transaction() as tx:
        await tx.helpers.helpers.add("helper3", "pw")
    boss = await admin(timed)
    for command, kept in (("/remove newbie", "내보내지 않았어요. @newbie는 그대로예요."),
                          ("/deluser newbie", "삭제하지 않았어요. @newbie는 그대로예요."),
                          ("/delhelper helper3", "헬퍼 @helper3은 그대로예요.")):
        await boss.say(command)
        await boss.press("취소")
        assert kept in boss.text and "진행 중인 작업이 없어요" not in boss.text, command
    english = await admin(timed, language="en", name="boss-en")
    await english.say("/deluser newbie")
    await english.say("cancel")
    assert "Nothing was deleted: @newbie stays as they are." in english.text


# --- 9. a week's pause or suspension lasts at least seven days -----------------------------


async def test_a_one_week_pause_given_on_sunday_lasts_past_the_next_sunday(
    timed: Services, clock: Any
) -> None:
    from datetime import UTC, datetime

    await member(timed, "seojun")
    await member(timed, "minho")
    boss = await admin(timed)
    clock.now = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)  # Sunday 20:00 in Seoul
    await boss.say("/pause seojun 1")
    assert "12월 7일" in boss.text and "휴식" in boss.text  # Monday Dec 7, 00:00
    await boss.say("/suspend minho 2")
    assert "12월 14일" in boss.text
    english = await admin(timed, language="en", name="boss-en")
    clock.now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # Monday 12:00: seven days on
    await english.say("/pause seojun 1")  # is Monday 12:00, so the Monday after
    assert "paused until Mon 14 Dec 00:00" in english.text


# --- 7. invites: one code per new member, none for a member, "already connected" -----------


async def test_adduser_gives_one_code_per_new_member_and_none_to_members(
    timed: Services,
) -> None:
    minji = await member(timed, "kim.minji")
    boss = await admin(timed)
    await boss.say("/adduser kim.minji KIM.MINJI newbie newbie")
    lines = boss.text.split("\n")
    assert sum("@kim.minji" in line for line in lines) == 1
    assert sum("@newbie" in line for line in lines) == 1
    assert "새 초대 코드를 만들지 않았어요" in boss.text and "/relink kim.minji" in boss.text
    code = next(line for line in lines if "@newbie" in line).rsplit(" ", 1)[1]
    newbie = Person(minji.dispatcher, "newbie-phone", "newbie")
    await newbie.say(code)
    assert "@newbie 계정과 연결됐어요" in newbie.text
    await newbie.say(code)  # sent again by its own member
    assert "이미 @newbie 멤버로 연결돼 있어요" in newbie.text
    stranger = Person(minji.dispatcher, "someone-else", "x")
    await stranger.say(code)  # anyone else: used
    assert "이미 사용된 초대 코드" in stranger.text
    english = await admin(timed, language="en", name="boss-en")
    await english.say("/adduser newbie")
    assert "already a member, so no new invite code" in english.text
    assert "/relink newbie" in english.text and "Each invite works once" not in english.text


# --- 5. no link asked for only to be refused -----------------------------------------------


async def test_after_the_deadline_no_link_is_asked_for_and_no_button_offered(
    kakao_factory: Any, timed: Services, clock: Any, simulated: SimulatedInstagram  # noqa: F811
) -> None:
    from datetime import UTC, datetime

    kakao, _ = await kakao_factory()
    async with timed.transaction() as tx:
        (added,) = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(added.code or "")
    clock.now = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # Sunday 13:00: an hour past it
    answer = await kakao.say("링크 제출")
    assert "제출 마감" in answer and "링크를 보내 주세요" not in answer
    calls = len(simulated.calls)
    answer = await kakao.say("https://www.instagram.com/share/BAHmX1yZ2q")
    assert "제출 마감" in answer and len(simulated.calls) == calls  # Instagram not asked
    await kakao.say("내 현황")
    labels = [q["label"] for q in kakao.last["template"].get("quickReplies", [])]
    assert "링크 제출" not in labels
    minji = await member(timed, "minji", language="en")
    await minji.say("/lang en")
    await minji.say("/submit")
    assert "submissions closed" in minji.text and "Send this week" not in minji.text


async def test_at_a_full_quota_submit_says_so_up_front(timed: Services) -> None:
    minji = await member(timed, "minji")
    await minji.say(" ".join(f"https://www.instagram.com/p/FULL000{n}x/" for n in range(3)))
    await minji.say("/submit")
    assert "이미 3개를 모두 제출했어요" in minji.text and "링크를 보내 주세요" not in minji.text
    assert [b.label for b in minji.last.replies[0].buttons] == ["제출 취소"]
    await minji.say("내 현황")
    assert "링크 제출" not in [b.label for b in minji.last.replies[0].buttons]


# --- 2. KakaoTalk: no dead ends, one true text per platform and flow ----------------------


async def test_kakao_password_prompts_say_one_true_thing(
    kakao_factory: Any, timed: Services  # noqa: F811
) -> None:
    kakao, _ = await kakao_factory()
    async with timed.transaction() as tx:
        (added,) = await tx.members.add(None, ["hana.daily"])  # type: ignore[arg-type]
    await kakao.say(added.code or "")
    await kakao.say("/producer")
    text = await kakao.say("hana.daily")
    assert len(kakao.last["template"]["outputs"]) == 1
    assert "지울 수 없어서" in text and "바로 지우고" not in text
    assert "/addhelper" not in text and "/producer" in text
    await kakao.say("취소")
    await kakao.say("/unfollowlogin")
    text = await kakao.say("hana.daily")
    assert "지울 수 없어서" in text and "바로 지우고" not in text
    assert "비밀번호인가요?" in await kakao.say("/lang en")  # a command: asked about first
    await kakao.say("취소")
    await kakao.say("/lang en")
    await kakao.say("/producer")
    text = await kakao.say("hana.daily")
    assert "cannot delete" in text and "deleted at once" not in text and "/addhelper" not in text
    console = await member(timed, "minji")  # where the bot deletes it, it says so
    await console.say("/producer")
    await console.say("minji")
    assert "바로 지우고" in console.text and "지울 수 없어서" not in console.text


@pytest.mark.web_site
async def test_kakao_unfollow_goes_to_the_members_upload_page_which_takes_the_zip(
    kakao_factory: Any, services: Services, simulated: SimulatedInstagram  # noqa: F811
) -> None:

    import aiohttp

    from testkit.instagram_export_builder import export_zip, followers_json
    from tests.support.web_site import demo_site

    async with demo_site(services, simulated) as site:
        kakao, _ = await kakao_factory()
        async with services.transaction() as tx:
            (added,) = await tx.members.add(None, ["hana.kakao"])  # type: ignore[arg-type]
        await kakao.say(added.code or "")
        text = await say_with_cards(kakao, "언팔 확인")
        assert "카카오톡으로는 봇에게 파일을 보낼 수 없어요" in text and "여기에 파일로" not in text
        cards = [o["textCard"] for o in kakao.last["template"]["outputs"] if "textCard" in o]
        url = cards[0]["buttons"][0]["webLinkUrl"]
        assert url.startswith(site.url + "/m/") and url.endswith("/unfollow") and url in text
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200 and "@hana.kakao 님만 쓰는 페이지" in await page.text()
            form = aiohttp.FormData()
            form.add_field("export", export_zip(["jun", "yuna"], ["jun", "minho.cafe"]),
                           filename="instagram-hana.zip", content_type="application/zip")
            async with http.post(url, data=form) as page:
                html = await page.text()
            assert page.status == 200
            not_back, fans = html.split("내가 팔로우하지만", 1)[1].split("<h2>", 2)[:2]
            assert "@minho.cafe" in not_back and "@yuna" not in not_back
            assert "@yuna" in fans and "@minho.cafe" not in fans
            half = aiohttp.FormData()  # only the followers: says what is missing
            half.add_field("export", followers_json(["jun"]), filename="followers_1.json")
            async with http.post(url + "?lang=en", data=half) as page:
                assert page.status == 400
                assert "Upload the following file" in await page.text()
            wrong = aiohttp.FormData()
            wrong.add_field("export", b"2026. 11. 20. 21:00, minji : hi\n",
                            filename="KakaoTalk_Chat.txt")
            async with http.post(url, data=wrong) as page:
                assert page.status == 400 and "인스타그램" in await page.text()
            async with http.post(url.replace("/m/", "/m/x"), data=b"") as page:
                assert page.status == 403  # no link, no upload
        await kakao.say("/lang en")
        text = await say_with_cards(kakao, "/unfollow")
        assert "KakaoTalk cannot send files to a bot" in text and "?lang=en" in text


async def say_with_cards(kakao: Any, utterance: str) -> str:
    """What KakaoTalk shows for an utterance, a card of link buttons included."""
    from tests.support.kakao import skill_request

    status, body = await kakao.post(skill_request(utterance))
    assert status == 200, body
    kakao.last = body
    return "\n".join(o["simpleText"]["text"] for o in body["template"]["outputs"]
                     if "simpleText" in o)


async def test_kakao_import_names_the_mailbox_or_telegram(
    kakao_factory: Any, services: Services  # noqa: F811
) -> None:
    from dataclasses import replace

    kakao, _ = await kakao_factory()
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await kakao.say(f"/claim {code}")
    text = await kakao.say("/import")
    assert "텔레그램에서 이 봇에게" in text and "이 채팅에 보내" not in text
    # The operator sets the mailbox and restarts: the same chat, the new container.
    kakao, _ = await kakao_factory(replace(services, rules=replace(
        services.rules, import_mail_address="pod@example.com")))
    text = await kakao.say("대화 가져오기")
    assert "pod@example.com을 적어" in text
    boss = await admin(services, name="console-boss")  # where files can be sent: here
    await boss.say("/import")
    assert "이 채팅에 보내" in boss.text


def test_the_mail_address_comes_from_the_mailbox_setting() -> None:
    from bot.config import load_settings
    from bot.wiring import mail_address

    senders = {"kakao_import_senders": "boss@example.com",
               "kakao_import_mailbox_password": "pw",
               "kakao_import_authserv_id": "mx.example.com"}
    settings = load_settings(database_url="sqlite://", **senders,
                             kakao_import_mailbox="imaps://pod%40example.com@imap.example.com")
    assert mail_address(settings) == "pod@example.com"
    settings = load_settings(database_url="sqlite://", **senders,
                             kakao_import_mailbox="imaps://exports@mail.example.org/Kakao")
    assert mail_address(settings) == "exports@mail.example.org"
    assert mail_address(load_settings(database_url="sqlite://")) == ""


async def test_a_confirmed_menu_word_password_is_never_in_the_database(
    timed: Services, simulated: SimulatedInstagram, engine: Any
) -> None:
    from storage import crypto
    from tests.conftest import database_dump

    simulated.add_account("minji", password="내 현황")
    minji = await member(timed, "minji")
    await minji.say("/unfollowlogin")
    await minji.say("minji")
    await minji.say("내 현황")
    assert "내 현황" not in await database_dump(engine)  # sealed in the state, never plain
    await minji.press("네, 비밀번호예요")  # tried at once (tests/test_login_instances.py:
    assert logins(simulated) == 1 and "로그인했어요" in minji.text  # on any instance)
    # Without ENCRYPTION_KEYS nothing of it is kept: "yes" asks for it once more.
    crypto.configure_keys([])
    await minji.say("/unfollowlogin")
    await minji.say("minji")
    await minji.say("내 현황")
    await minji.press("네, 비밀번호예요")
    assert "한 번 더 보내 주세요" in minji.text and logins(simulated) == 1
    await minji.say("내 현황")  # taken as it is this time
    assert logins(simulated) == 2 and "로그인했어요" in minji.text


async def test_withdraw_with_a_typed_number_takes_that_line_of_the_list(
    timed: Services,
) -> None:
    jun = await member(timed, "jun")
    await jun.say("https://www.instagram.com/p/JUNJUN01/")
    minji = await member(timed, "minji")
    await minji.say("https://www.instagram.com/p/MINJI001/ https://www.instagram.com/p/MINJI002/")
    await minji.say("/withdraw 1")  # the first of her list, whatever its id
    assert "제출을 취소했어요. 이번 주 제출: 1/3" in minji.text
    await minji.say("/status")
    assert "MINJI002" in minji.text and "MINJI001" not in minji.text
    await minji.say("/withdraw 5")
    assert "번호(1~1)" in minji.text
    await jun.say("/status")
    assert "JUNJUN01" in jun.text


async def test_a_link_at_a_forgotten_password_step_is_a_submission_not_a_login(
    timed: Services, simulated: SimulatedInstagram
) -> None:
    minji = await member(timed, "minji")
    await minji.say("/producer")
    await minji.say("minji")  # the password step, then left for twenty minutes
    await minji.say("https://www.instagram.com/p/LATER001/")
    assert "비밀번호인가요?" in minji.text and logins(simulated) == 0
    await minji.say("https://www.instagram.com/p/LATER001/")
    assert "접수했어요" in minji.text and logins(simulated) == 0
