"""The instaloader reader through instaloader itself, its HTTP intercepted by `responses`."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses

from services.instagram import errors
from services.instagram.gateway import PostComments
from services.instagram.instaloader_adapter import CombinedGateway, InstaloaderCommentReader

SHORTCODE = "DAbCdEfGhIj"
PK = 3300000000000000001
SESSION = {"authorization_data": {"ds_user_id": "111", "sessionid": "111%3Afake%3A1"},
           "cookies": {"csrftoken": "tok"}, "username": "helper.one"}


def metadata(comment_count: int) -> dict[str, Any]:
    return {"data": {"xdt_api__v1__media__shortcode__web_info": {"items": [{
        "code": SHORTCODE, "pk": str(PK), "media_type": 1, "taken_at": 1765000000,
        "comment_count": comment_count, "like_count": 3,
        "user": {"pk": "42", "username": "hana.daily", "full_name": "김하나"},
        "image_versions2": {"candidates": [{"url": "https://x/y.jpg"}]}, "caption": None}]}}}


def iphone_comment(pk: int, username: str, children: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    def user(name: str, n: int) -> dict[str, Any]:
        return {"pk": str(n), "username": name, "is_private": False, "full_name": name,
                "profile_pic_url": "https://x/p.jpg"}
    return {"pk": str(pk), "created_at": 1765000100, "text": "좋아요", "comment_like_count": 0,
            "child_comment_count": len(children), "user": user(username, pk),
            "preview_child_comments": [
                {"pk": str(pk * 1000 + n), "created_at": 1765000200, "text": "답글",
                 "comment_like_count": 0, "user": user(child, pk * 1000 + n)}
                for n, child in enumerate(children)]}


@responses.activate
async def test_commenters_through_the_iphone_endpoint_with_answers() -> None:
    responses.post("https://www.instagram.com/graphql/query", json=metadata(14))
    url = re.compile(rf"https://i\.instagram\.com/api/v1/media/{PK}/comments/.*")
    first = [iphone_comment(n, f"user{n}") for n in range(1, 9)]
    first[0] = iphone_comment(1, "Hana.Daily", children=["jun", "mina"])
    responses.get(url, match=[responses.matchers.query_param_matcher(
        {"can_support_threading": "true", "permalink_enabled": "false"})],
        json={"comments": first, "next_min_id": "NEXT", "status": "ok"})
    responses.get(url, match=[responses.matchers.query_param_matcher(
        {"can_support_threading": "true", "permalink_enabled": "false", "min_id": "NEXT"})],
        json={"comments": [iphone_comment(n, f"user{n}") for n in range(9, 13)],
              "status": "ok"})
    result = await InstaloaderCommentReader().commenters(SESSION, SHORTCODE)
    assert {"hana.daily", "jun", "mina", "user12"} <= result.usernames
    assert (result.seen, result.reported, result.complete) == (14, 14, True)
    assert result.author == "hana.daily"


@responses.activate
async def test_a_missing_post_is_not_found() -> None:
    responses.post("https://www.instagram.com/graphql/query",
                   json={"data": {"xdt_api__v1__media__shortcode__web_info": {"items": []}}})
    with pytest.raises(errors.NotFound):
        await InstaloaderCommentReader().commenters(SESSION, SHORTCODE)


@responses.activate
async def test_a_429_is_a_rate_limit_at_once() -> None:
    responses.post("https://www.instagram.com/graphql/query", status=429,
                   json={"message": "Please wait a few minutes", "status": "fail"})
    with pytest.raises(errors.RateLimited):
        await InstaloaderCommentReader().commenters(SESSION, SHORTCODE)


async def test_the_second_reader_steps_in_when_instagrapi_fails_on_a_post() -> None:
    class Failing:
        async def commenters(self, session: dict, shortcode: str, resume: object = None
                         ) -> PostComments:
            raise errors.NetworkError("ClientStatusFail")

        async def restore(self, session: dict) -> str:
            return "helper.one"

    class Second(InstaloaderCommentReader):
        async def commenters(self, session: dict, shortcode: str, resume: object = None
                         ) -> PostComments:
            return PostComments("hana", frozenset({"jun"}), 1, 1)

    combined = CombinedGateway(Failing(), Second())
    assert (await combined.commenters(SESSION, SHORTCODE)).usernames == {"jun"}
    assert await combined.restore(SESSION) == "helper.one"
