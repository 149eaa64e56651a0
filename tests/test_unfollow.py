"""The unfollow check from Instagram's export: both formats, malformed files, the
whitelist, keeping a result and /forgetme."""

from __future__ import annotations

import pytest

from handlers.dispatcher import Dispatcher
from services.unfollow.instagram_export import ExportProblem, read_export
from testkit.instagram_export_builder import (
    export_zip,
    followers_json,
    following_json,
    html,
)
from tests.conftest import database_dump
from tests.support.chat_driver import Person

FOLLOWERS = ["ana", "bo.ra", "chan_u", "fan.only"]
FOLLOWING = ["Ana", "bo.ra", "celeb.official", "ghost.friend", "chan_u"]


@pytest.mark.parametrize("kind", ["json", "html"])
def test_both_export_formats_read_the_same(kind: str) -> None:
    lists = read_export("instagram-kim-2025-11-20.zip", export_zip(FOLLOWERS, FOLLOWING, kind))
    assert lists.followers == {"ana", "bo.ra", "chan_u", "fan.only"}
    assert lists.following == {"ana", "bo.ra", "celeb.official", "ghost.friend", "chan_u"}


def test_the_newer_json_layout_and_single_files() -> None:
    assert read_export("followers_1.json", followers_json(["x.y"], new_style=True)
                       ).followers == {"x.y"}
    assert read_export("following.json", following_json(["z_z"], new_style=True)
                       ).following == {"z_z"}
    assert read_export("following.html", html("Following", ["q"])).following == {"q"}


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("followers_1.json", b'{"hello": 1}', "not_instagram"),
    ("followers_1.json", b'[{"title": "x", "string_list', "broken_file"),
    ("followers_1.json", b'[{"name": "not instagram"}]', "not_instagram"),
    ("export.zip", b"PK\x03\x04broken", "bad_zip"),
    ("notes.txt", b"just some text", "not_instagram"),
])
def test_wrong_or_broken_files_get_their_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ExportProblem) as caught:
        read_export(name, data)
    assert caught.value.reason == reason


def test_a_zip_without_follow_lists_says_so() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("your_instagram_activity/likes/liked_posts.json", b"{}")
    with pytest.raises(ExportProblem) as caught:
        read_export("x.zip", buffer.getvalue())
    assert caught.value.reason in ("zip_without_lists", "not_instagram")


async def test_the_check_from_files_with_whitelist_history_and_forgetme(
    dispatcher: Dispatcher, engine, services
) -> None:
    person = Person(dispatcher, "u1")  # anyone may run it, member or not
    await person.send_file("followers_1.json", followers_json(FOLLOWERS))
    assert "팔로워 4명을 받았어요. 이제 팔로잉 파일" in person.text
    await person.say("뭐 하면 돼요?")
    assert "팔로잉 파일" in person.text  # still waiting for the second file
    replies = await person.send_file("following.html", html("Following", FOLLOWING))
    text = person.text
    assert "🔍 언팔 확인: 팔로워 4명, 팔로잉 5명" in text
    not_back = text.split("🙅")[1].split("💛")[0]
    assert "@celeb.official" in not_back and "@ghost.friend" in not_back and "@ana" not in \
        not_back
    assert "@fan.only" in text.split("💛")[1]
    await person.say("/whitelist add @celeb.official")
    assert "화이트리스트에 추가했어요: @celeb.official" in person.text
    await person.send_file("kim.zip", export_zip(FOLLOWERS, FOLLOWING))
    assert "@celeb.official" not in person.text.split("💛")[0]
    assert "화이트리스트의 1개 계정은 뺐어요" in person.text
    await person.press("다음 비교용으로 보관")
    assert "보관했어요" in person.text
    # Next time: chan_u and bo.ra stopped following.
    await person.send_file("kim.zip", export_zip(["ana", "fan.only"], FOLLOWING))
    stopped = person.text.split("👋")[1].split("🙅")[0]
    assert "@bo.ra" in stopped and "@chan_u" in stopped and "@ana" not in stopped
    assert replies[0].document is None  # short lists: no file
    await person.say("/forgetme")
    assert "모두 지웠어요 (2개)" in person.text
    assert "celeb.official" not in await database_dump(engine)
    await person.send_file("broken.zip", b"PK\x03\x04nope")
    assert "ZIP 파일을 열 수 없어요" in person.text


def follow_world(simulated, followers: int = 5, following: int = 6, **account) -> None:  # type: ignore[no-untyped-def]
    simulated.add_account("me.kim", password="kim-pass-123", **account)
    for n in range(max(followers, following) + 1):
        simulated.add_account(f"friend.{n:05d}")
    for n in range(followers):
        simulated.follow(f"friend.{n:05d}", "me.kim")
    for n in range(following):
        simulated.follow("me.kim", f"friend.{n + 1:05d}")


async def test_the_check_with_login_keeps_nothing_of_it(
    dispatcher: Dispatcher, engine, simulated, caplog
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    follow_world(simulated, two_factor_code="135790")
    person = Person(dispatcher, "tg-1", platform="telegram")
    replies = await person.say("/unfollow")
    assert "내 정보 다운로드" in person.text
    assert replies[0].buttons[0].payload == "/unfollowlogin"
    await person.press("인스타그램 로그인으로 확인")
    await person.say("@Me.Kim")
    assert "@me.kim의 비밀번호" in person.text
    replies = await person.say("wrong-pass")
    assert replies[0].delete_incoming and "비밀번호가 틀리다고" in person.text
    replies = await person.say("kim-pass-123")
    assert replies[0].delete_incoming and "보안 코드" in person.text
    replies = await person.say("135 790")
    assert replies[0].delete_incoming and replies[0].text == "🔐 인스타그램에 로그인하고 있어요…"
    assert replies[1].text.startswith("🔍 @me.kim으로 로그인했어요")
    text = person.text
    assert "팔로워 5명, 팔로잉 6명" in text
    not_back = text.split("🙅")[1].split("💛")[0]
    assert "@friend.00005" in not_back and "@friend.00006" in not_back
    assert "@friend.00000" in text.split("💛")[1]
    # Nothing of the login was kept: no password, no session, in the database or logs.
    dump = await database_dump(engine)
    assert "kim-pass" not in dump and "me.kim" not in dump and "kim-pass" not in caplog.text
    assert simulated._sessions == {}  # the session was discarded


async def test_login_problems_and_the_daily_limit(dispatcher: Dispatcher, simulated) -> None:
    from services.instagram.errors import RateLimited

    follow_world(simulated, approve_in_app=True)
    person = Person(dispatcher, "tg-2", platform="telegram")
    await person.say("/unfollowlogin")
    await person.say("me.kim")
    await person.say("kim-pass-123")
    assert "본인 맞음" in person.text  # confirm in the app first
    simulated.accounts["me.kim"].approve_in_app = False
    await person.say("/unfollowlogin")
    await person.say("me.kim")
    simulated.fail_call(3, RateLimited("Please wait a few minutes", retry_after=600))
    await person.say("kim-pass-123")
    assert "요청을 제한하고" in person.text  # rate limited mid-fetch: said, nothing shown
    await person.say("/unfollowlogin")
    await person.say("me.kim")
    await person.say("kim-pass-123")
    assert "팔로워 5명" in person.text
    await person.say("/unfollowlogin")
    await person.say("me.kim")
    await person.say("kim-pass-123")
    await person.say("/unfollowlogin")
    assert "하루 한도" in person.text  # three checks with login today


async def test_a_big_account_shows_bounded_progress_and_can_be_cancelled(
    simulated, services
) -> None:
    """Over Telegram: a 20,000-follower account, progress edited in place a bounded
    number of times; then a slow check stopped with /cancel while it runs."""
    import asyncio

    from bot.telegram import TelegramTransport
    from testkit.telegram_emulator import BotApiEmulator
    from tests.support.telegram import start_polling

    follow_world(simulated, followers=20_000, following=300)
    async with BotApiEmulator() as emulator:
        bot: TelegramTransport = await start_polling(emulator, services)
        try:
            for text in ("/unfollowlogin", "me.kim", "kim-pass-123"):
                await emulator.send_text(3003, text)
            arrived = await emulator.wait_for(3003, count=3)
            while "팔로워 20000명" not in arrived[-1].get("text", ""):
                arrived += await emulator.wait_for(3003, timeout=20)
            edits = [m for m in arrived if m["method"] == "editMessageText"]
            assert 1 <= len(edits) <= 5  # 101 pages read, a handful of edits
            assert edits[0]["text"].startswith("🔍 팔로워")
            (document,) = await emulator.wait_for(3003)  # the whole lists, as a file
            assert document["method"] == "sendDocument"
            # A slow one, stopped while it runs; the chat answers meanwhile.
            simulated.config.latency = 0.05
            for text in ("/unfollowlogin", "me.kim", "kim-pass-123"):
                await emulator.send_text(3003, text)
            await emulator.wait_for(3003, count=3)
            await asyncio.sleep(0.3)
            await emulator.send_text(3003, "/cancel")
            texts: list[str] = []
            while not (any("확인을 멈췄어요" in t for t in texts)
                       and any("멈추고 있어요" in t for t in texts)):
                texts += [m["text"] for m in await emulator.wait_for(3003, timeout=10)]
            assert any("언팔 확인을 멈추고 있어요" in t for t in texts), texts
            assert any("확인을 멈췄어요" in t for t in texts)
        finally:
            await bot.stop()


async def test_a_flow_started_while_the_check_with_login_reads_goes_on(
    dispatcher: Dispatcher, simulated, monkeypatch
) -> None:
    """The check's answer comes back under the person's lock and leaves a flow they
    started meanwhile (the export's first file here) where it was: the second file still
    completes it. The answer itself arrives, without a "keep" button it could not serve."""
    import asyncio

    follow_world(simulated)
    person = Person(dispatcher, "tg-9", platform="telegram")
    meanwhile = Person(dispatcher, "tg-9", platform="telegram")
    reading, release = asyncio.Event(), asyncio.Event()
    followees = simulated.followees

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        reading.set()
        await release.wait()
        return await followees(*args, **kwargs)

    monkeypatch.setattr(simulated, "followees", held)
    await person.say("/unfollowlogin")
    await person.say("me.kim")
    check = asyncio.create_task(person.say("kim-pass-123"))
    await asyncio.wait_for(reading.wait(), 10)
    await meanwhile.send_file("followers_1.json", followers_json(FOLLOWERS))
    assert "팔로워 4명을 받았어요. 이제 팔로잉 파일" in meanwhile.text
    release.set()
    replies = await asyncio.wait_for(check, 10)
    assert "팔로워 5명, 팔로잉 6명" in person.text
    await meanwhile.send_file("following.html", html("Following", FOLLOWING))
    assert "🔍 언팔 확인: 팔로워 4명, 팔로잉 5명" in meanwhile.text
    assert replies[-1].buttons == ()  # no "keep": the export's flow held the state
