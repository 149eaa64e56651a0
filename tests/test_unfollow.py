"""The unfollow check from Instagram's export: both formats, malformed files, the
whitelist, keeping a result and /forgetme."""

from __future__ import annotations

import pytest

from handlers.dispatcher import Dispatcher
from services.instagram_export import ExportProblem, read_export
from tests.chat_driver import Person
from tests.conftest import database_dump
from tests.instagram_export_builder import (
    export_zip,
    followers_json,
    following_json,
    html,
)

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
