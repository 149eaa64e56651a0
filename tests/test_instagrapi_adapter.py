"""The instagrapi adapter through instagrapi itself, its HTTP intercepted by `responses`.

instagrapi runs on its `requests` transport here (its default curl transport bypasses
`responses`); the bodies have the shapes Instagram's mobile API answers with.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from unittest import mock

import pytest
import responses
from instagrapi import Client
from instagrapi import exceptions as ig

from services.instagram import errors
from services.instagram.instagrapi_adapter import InstagrapiGateway

API = "https://i.instagram.com/api/v1"
SHORTCODE = "DAbCdEfGhIj"
PK = Client().media_pk_from_code(SHORTCODE)


def gateway() -> InstagrapiGateway:
    return InstagrapiGateway(transport="requests", request_timeout=0, delay_range=None,
                             call_timeout=20)


def session(user_id: str = "111") -> dict[str, Any]:
    settings = Client().get_settings()
    settings["authorization_data"] = {"ds_user_id": user_id, "sessionid": f"{user_id}%3Afake%3A1"}
    return settings


def comment(pk: int, username: str, children: int = 0, previews: list[str] = ()) -> dict:  # type: ignore[assignment]
    return {"pk": pk, "text": "좋아요", "created_at_utc": 1700000000, "content_type": "comment",
            "status": "Active", "user": {"pk": pk * 10, "username": username},
            "child_comment_count": children,
            "preview_child_comments": [{"pk": pk * 100 + n, "user": {"pk": 1, "username": u}}
                                       for n, u in enumerate(previews)]}


def comments_url() -> re.Pattern[str]:
    return re.compile(rf"{API}/media/{PK}/comments/(\?.*)?$")


def info(author: str = "Hana.Daily", count: int | None = None, **extra: Any) -> None:
    """media/{pk}/info/: the post's author, count and comment state."""
    item: dict[str, Any] = {"pk": PK, "code": SHORTCODE, "user": {"pk": "42", "username": author},
                            **extra}
    if count is not None:
        item["comment_count"] = count
    responses.get(re.compile(rf"{API}/media/{PK}/info/.*"), json={"items": [item],
                                                                   "status": "ok"})


def page(params: dict[str, str], body: dict[str, Any]) -> None:
    responses.get(comments_url(), match=[responses.matchers.query_param_matcher(
        {"can_support_threading": "true", "permalink_enabled": "false", **params})],
        json={"status": "ok", **body})


@responses.activate
async def test_commenters_follow_every_page_and_the_replies() -> None:
    info(count=6)
    page({}, {"comments": [comment(1, "Hana.Daily"), comment(2, "jun", children=3,
                                                                previews=["mina"])],
              "comment_count": 6, "has_more_comments": True, "next_max_id": "PAGE2"})
    page({"max_id": "PAGE2"}, {"comments": [comment(3, "seojun")], "has_more_comments": False})
    responses.get(f"{API}/media/{PK}/comments/2/inline_child_comments/", json={
        "child_comments": [{"pk": 200, "user": {"pk": 5, "username": "mina"}},
                           {"pk": 22, "user": {"pk": 6, "username": "dy_lee"}},
                           {"pk": 23, "user": {"pk": 7, "username": "@Hana.Daily"}}],
        "has_more_tail_child_comments": False, "status": "ok"})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.usernames == {"hana.daily", "jun", "mina", "dy_lee", "seojun"}
    assert (result.seen, result.reported, result.complete) == (6, 6, True)
    assert result.author == "hana.daily"


@responses.activate
async def test_a_short_fetch_is_reported_incomplete() -> None:
    info(count=4)
    page({}, {"comments": [comment(1, "jun")], "comment_count": 4, "has_more_comments": False})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.usernames == {"jun"} and not result.complete


@responses.activate
async def test_a_comment_on_two_pages_counts_once() -> None:
    # Three distinct comments, one of them sent twice: 4 rows against a count of 4 must
    # not look complete (somebody's comment was never listed).
    info(count=4)
    page({}, {"comments": [comment(1, "jun"), comment(2, "mina")], "comment_count": 4,
              "has_more_comments": True, "next_max_id": "P2"})
    page({"max_id": "P2"}, {"comments": [comment(2, "mina"), comment(3, "seojun")],
                            "has_more_comments": False})
    result = await gateway().commenters(session(), SHORTCODE)
    assert (result.seen, result.reported, result.complete) == (3, 4, False)


@responses.activate
async def test_a_read_stopped_by_a_rate_limit_goes_on_from_the_page_that_failed() -> None:
    from services.instagram.comment_pages import CommentRead

    info(count=3)
    page({}, {"comments": [comment(1, "jun")], "comment_count": 3,
              "has_more_comments": True, "next_max_id": "P2"})
    limited = responses.get(comments_url(), status=429, json={"status": "fail", "message": ""},
                            match=[responses.matchers.query_param_matcher(
                                {"can_support_threading": "true", "permalink_enabled": "false",
                                 "max_id": "P2"})])
    read = CommentRead()
    with pytest.raises(errors.RateLimited) as stopped:
        await gateway().commenters(session(), SHORTCODE, read)
    assert stopped.value.retry_after == 60.0  # a bare 429: the pool's backoff, not an hour
    responses.remove(limited)
    page({"max_id": "P2"}, {"comments": [comment(2, "mina"), comment(3, "seojun")],
                            "has_more_comments": False})
    sent = len(responses.calls)
    result = await gateway().commenters(session("222"), SHORTCODE, read)  # another helper
    assert result.usernames == {"jun", "mina", "seojun"} and result.complete
    assert len(responses.calls) - sent == 1  # only the page that failed, not the info or page 1


@responses.activate
async def test_a_thread_sent_on_two_pages_is_read_once() -> None:
    info(count=6)
    page({}, {"comments": [comment(1, "jun"), comment(2, "mina", children=3)],
              "comment_count": 6, "has_more_comments": True, "next_max_id": "P2"})
    page({"max_id": "P2"}, {"comments": [comment(2, "mina", children=3), comment(3, "seojun")],
                            "has_more_comments": False})
    thread = responses.get(f"{API}/media/{PK}/comments/2/inline_child_comments/", json={
        "child_comments": [{"pk": 20 + n, "user": {"pk": 5, "username": f"fan{n}"}}
                           for n in range(3)],
        "has_more_tail_child_comments": False, "status": "ok"})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.complete and thread.call_count == 1


def replies(params: dict[str, str], body: dict[str, Any]) -> responses.BaseResponse:
    """A page of comment 2's replies (`inline_child_comments/`) asked with `params`."""
    return responses.get(re.compile(rf"{API}/media/{PK}/comments/2/inline_child_comments/"),
                         match=[responses.matchers.query_param_matcher(params)],
                         json={"status": "ok", **body})


def reply(pk: int, username: str) -> dict[str, Any]:
    return {"pk": pk, "text": "답글", "user": {"pk": pk * 10, "username": username}}


@responses.activate
async def test_reply_pages_are_followed_head_and_tail() -> None:
    # The thread's first reply page is from its middle (a 2025 body flagged the rest of a
    # thread as *head* replies): older replies by min_id, newer by max_id, each page once
    # even when a page points back at one already read.
    info(count=7)
    page({}, {"comments": [comment(1, "jun"), comment(2, "mina", children=5,
                                                       previews=["hana"])],
              "comment_count": 7, "has_more_comments": False})
    middle = replies({}, {"child_comments": [reply(21, "seojun")], "child_comment_count": 5,
                          "has_more_head_child_comments": True, "next_min_child_cursor": "HEAD",
                          "has_more_tail_child_comments": True, "next_max_child_cursor": "TAIL"})
    tail = replies({"max_id": "TAIL"}, {
        "child_comments": [reply(22, "doyun")], "has_more_tail_child_comments": False,
        "has_more_head_child_comments": True, "next_min_child_cursor": "HEAD"})
    head = replies({"min_id": "HEAD"}, {
        "child_comments": [reply(20, "yuna")], "has_more_head_child_comments": True,
        "next_min_child_cursor": "HEAD2", "has_more_tail_child_comments": True,
        "next_max_child_cursor": "TAIL"})
    head2 = replies({"min_id": "HEAD2"}, {"child_comments": [reply(19, "Jisoo")],
                                          "has_more_head_child_comments": False})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.usernames == {"jun", "mina", "hana", "seojun", "doyun", "yuna", "jisoo"}
    assert (result.seen, result.reported, result.complete) == (7, 7, True)
    assert [r.call_count for r in (middle, tail, head, head2)] == [1, 1, 1, 1]


@responses.activate
async def test_no_count_anywhere_is_never_complete() -> None:
    info()  # no comment_count in the info either
    page({}, {"comments": [comment(1, "jun")], "has_more_comments": False})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.reported is None and not result.complete


@responses.activate
async def test_headload_pages_are_followed_too() -> None:
    # The first page is from the middle: newer ones by max_id, older ones by min_id.
    info(count=3)
    page({}, {"comments": [comment(2, "mina")], "comment_count": 3,
              "has_more_comments": True, "next_max_id": "NEWER",
              "has_more_headload_comments": True, "next_min_id": "OLDER"})
    page({"max_id": "NEWER"}, {"comments": [comment(3, "seojun")], "has_more_comments": False})
    page({"min_id": "OLDER"}, {"comments": [comment(1, "Jun")],
                               "has_more_headload_comments": False})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.usernames == {"jun", "mina", "seojun"} and result.complete


@responses.activate
async def test_comments_turned_off() -> None:
    info(count=0, comments_disabled=True)
    page({}, {"comments": [], "comment_count": 0, "comments_disabled": True})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.comments_off and result.usernames == frozenset()


@responses.activate
async def test_the_post_info_names_its_author() -> None:
    info(author="@Hana.Daily", count=2)
    found = await gateway().post_info(session(), SHORTCODE)
    assert (found.author, found.comment_count) == ("hana.daily", 2)


@pytest.mark.parametrize(("status", "body", "expected"), [
    (429, {"message": "rate limited", "status": "fail"}, errors.RateLimited),
    (400, {"message": "Please wait a few minutes before you try again.", "status": "fail"},
     errors.RateLimited),
    (400, {"message": "challenge_required", "challenge": {"api_path": "/challenge/1/abc/"},
           "status": "fail"}, errors.CheckpointRequired),
    (403, {"message": "login_required", "status": "fail"}, errors.SessionExpired),
    (404, "Not Found", errors.CheckpointRequired),  # the masked challenge
    (400, {"message": "Media not found or unavailable", "status": "fail"}, errors.NotFound),
    (400, {"message": "Not authorized to view user", "status": "fail"}, errors.PrivateProfile),
])
@responses.activate
async def test_instagram_errors_become_the_products_errors(
    status: int, body: Any, expected: type[errors.InstagramError]
) -> None:
    both = re.compile(rf"{API}/media/{PK}/(info|comments)/(\?.*)?$")
    if isinstance(body, str):
        responses.get(both, body=body, status=status)
    else:
        responses.get(both, json=body, status=status)
    with pytest.raises(expected) as failure:
        await gateway().commenters(session(), SHORTCODE)
    assert "fake" not in str(failure.value)  # no session value in the error


@responses.activate
async def test_followers_all_pages_with_progress() -> None:
    responses.get(f"{API}/users/hana.daily/usernameinfo/", json={"user": {
        "pk": "42", "username": "hana.daily", "full_name": "", "is_private": False,
        "follower_count": 3, "following_count": 0, "profile_pic_url": "https://x/y.jpg",
        "is_verified": False, "media_count": 12, "is_business": False},
        "status": "ok"})
    url = re.compile(rf"{API}/friendships/42/followers/.*")
    responses.get(url, match=[responses.matchers.query_param_matcher(
        {"count": "200", "search_surface": "follow_list_page"})],
        json={"users": [{"pk": "1", "username": "A"}, {"pk": "2", "username": "b"}],
              "next_max_id": "N2", "status": "ok"})
    responses.get(url, match=[responses.matchers.query_param_matcher(
        {"count": "200", "search_surface": "follow_list_page", "max_id": "N2"})],
        json={"users": [{"pk": "3", "username": "c"}], "next_max_id": None, "status": "ok"})
    seen: list[tuple[int, int]] = []
    result = await gateway().followers(session(), "hana.daily",
                                       progress=lambda got, total: seen.append((got, total)))
    assert result.usernames == {"a", "b", "c"} and result.complete
    assert seen == [(2, 3), (3, 3)]


@responses.activate
async def test_a_blocked_comment_is_an_action_block() -> None:
    responses.get(re.compile(rf"{API}/media/{PK}/info/.*"), json={"items": [{
        "pk": PK, "id": f"{PK}_42", "code": SHORTCODE, "taken_at": 1700000000, "media_type": 1,
        "user": {"pk": "42", "username": "hana.daily"}, "comment_count": 0, "like_count": 0,
        "caption": None, "image_versions2": {"candidates": [
            {"url": "https://scontent.cdninstagram.com/a.jpg", "width": 1080, "height": 1080}]}}],
        "status": "ok"})
    responses.post(re.compile(rf"{API}/media/.*/comment/"), status=400, json={
        "message": "feedback_required", "feedback_message": "We restrict certain activity",
        "status": "fail"})
    with pytest.raises(errors.ActionBlocked):
        await gateway().comment(session(), SHORTCODE, "멋진 사진이네요!")


async def test_two_factor_login_keeps_the_same_client() -> None:
    seen_clients: list[int] = []

    def fake_login(self: Client, username: str, password: str, relogin: bool = False,
                   verification_code: str = "") -> bool:
        seen_clients.append(id(self))
        if verification_code != "123456":
            raise ig.TwoFactorRequired("Two-factor authentication required")
        self.authorization_data = {"ds_user_id": "9", "sessionid": "9%3Areal%3A1"}
        return True

    gw = gateway()
    with mock.patch.object(Client, "login", fake_login):
        with pytest.raises(errors.TwoFactorRequired):
            await gw.login("Producer.One", "pw")
        with pytest.raises(errors.BadCode):
            await gw.submit_code("producer.one", "000000")
        done = await gw.submit_code("producer.one", "123 456")
    assert len(set(seen_clients)) == 1 and len(seen_clients) == 3
    assert done.username == "producer.one"
    assert done.session["authorization_data"]["ds_user_id"] == "9"


async def test_a_two_factor_code_goes_on_in_another_process_with_the_same_device() -> None:
    devices: list[str] = []

    def fake_login(self: Client, username: str, password: str, relogin: bool = False,
                   verification_code: str = "") -> bool:
        devices.append(self.uuid)
        assert password == "pw"
        if verification_code != "123456":
            raise ig.TwoFactorRequired("Two-factor authentication required")
        self.authorization_data = {"ds_user_id": "9", "sessionid": "9%3Areal%3A1"}
        return True

    first, second = gateway(), gateway()
    with mock.patch.object(Client, "login", fake_login):
        with pytest.raises(errors.LoginLost):  # nothing to go on with
            await second.submit_code("producer.one", "123456")
        with pytest.raises(errors.TwoFactorRequired):  # an older login, left waiting there
            await second.login("producer.one", "pw")
        older = devices[-1]
        with pytest.raises(errors.TwoFactorRequired) as asked:
            await first.login("producer.one", "pw")
        resume = asked.value.resume
        assert resume is not None and "pw" not in str(asked.value)
        device = devices[-1]
        with pytest.raises(errors.BadCode):
            await second.submit_code("producer.one", "000000", resume)
        done = await second.submit_code("producer.one", "123456", resume)
    assert device != older and devices[-2:] == [device, device]  # as Instagram saw it
    assert done.session["authorization_data"]["ds_user_id"] == "9"


async def test_a_challenge_code_reaches_the_waiting_login_thread() -> None:
    def fake_login(self: Client, username: str, password: str, relogin: bool = False,
                   verification_code: str = "") -> bool:
        code = self.challenge_code_handler(username, "EMAIL")
        if code != "654321":
            raise ig.ChallengeRequired("challenge_required")
        self.authorization_data = {"ds_user_id": "8", "sessionid": "8%3Areal%3A1"}
        return True

    gw = gateway()
    with mock.patch.object(Client, "login", fake_login):
        with pytest.raises(errors.CheckpointRequired) as challenge:
            await gw.login("helper.two", "pw")
        assert challenge.value.needs_code
        done = await gw.submit_code("helper.two", "654321")
    assert done.session["authorization_data"]["ds_user_id"] == "8"


async def test_bad_password_is_bad_credentials() -> None:
    def fake_login(self: Client, *args: Any, **kwargs: Any) -> bool:
        raise ig.BadPassword("The password you entered is incorrect.")

    with mock.patch.object(Client, "login", fake_login), pytest.raises(errors.BadCredentials):
        await gateway().login("helper.three", "wrong")


@responses.activate
async def test_many_helpers_reading_at_once_share_a_few_threads_and_pause_on_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A big week's check reads hundreds of posts at once: the pauses between requests
    are the event loop's timers, only the HTTP holds one of the gateway's threads."""
    import threading

    import instagrapi.mixins.private as private

    sent, lock = {"now": 0, "most": 0, "threads": set()}, threading.Lock()
    slept_in_threads: list[float] = []
    monkeypatch.setattr(private.time, "sleep", slept_in_threads.append)

    def answer(_request: Any) -> tuple[int, dict[str, str], str]:
        with lock:
            sent["now"] += 1
            sent["most"] = max(sent["most"], sent["now"])
            sent["threads"].add(threading.current_thread().name)
        threading.Event().wait(0.01)  # the HTTP exchange itself takes a moment
        with lock:
            sent["now"] -= 1
        return 200, {}, json.dumps({"items": [{"pk": PK, "code": SHORTCODE,
                                               "user": {"username": "hana.daily"},
                                               "comment_count": 0}], "status": "ok"})

    responses.add_callback(responses.GET, re.compile(rf"{API}/media/{PK}/info/.*"), answer)
    responses.add_callback(responses.GET, comments_url(), lambda r: (200, {}, json.dumps(
        {"comments": [], "comment_count": 0, "has_more_comments": False, "status": "ok"})))
    paced = InstagrapiGateway(transport="requests", request_timeout=0.01,
                              delay_range=(0.01, 0.02), call_timeout=20,
                              http_threads=3)
    pauses: list[float] = []
    real_pause = paced._pause
    monkeypatch.setattr(paced, "_pause", lambda: pauses.append(real_pause()) or pauses[-1])
    results = await asyncio.gather(*(paced.commenters(session(str(1000 + n)), SHORTCODE)
                                     for n in range(40)))
    assert all(r.complete and r.author == "hana.daily" for r in results)
    assert len(pauses) == 80 and all(0.02 <= p <= 0.03 for p in pauses)  # one per request
    assert slept_in_threads == [] or max(slept_in_threads) <= 0  # none of it in a thread
    assert sent["most"] <= 3 and sent["threads"] <= {f"instagram_{n}" for n in range(3)}


@responses.activate
async def test_a_read_keeps_pks_comment_times_and_co_authors() -> None:
    """Real bodies name people by pk with their current name, time every comment and
    reply, and list a collab post's co-authors (accepted and invited)."""
    from datetime import UTC, datetime

    info(count=3, coauthor_producers=[{"pk": "77", "username": "Jun.Collab"}],
         invited_coauthor_producers=[{"pk": 78, "username": "mina"}])
    late = {**comment(2, "Seojun"), "created_at_utc": 1700000900}
    early = {**comment(3, "seojun"), "created_at_utc": 1700000100, "created_at": 1700000100}
    page({}, {"comments": [comment(1, "Hana.Daily"), late, early], "comment_count": 3})
    result = await gateway().commenters(session(), SHORTCODE)
    assert result.author_pk == "42"
    assert result.coauthors == {"jun.collab": "77", "mina": "78"}
    assert result.pks == {"10": "hana.daily", "20": "seojun", "30": "seojun"}
    # seojun's first comment is the one that counts for the deadline.
    assert result.times["seojun"] == datetime.fromtimestamp(1700000100, UTC)
    found, at, shown = result.comment_of("20", "old.name")  # known by pk, renamed since
    assert found and shown == "seojun" and at == datetime.fromtimestamp(1700000100, UTC)
    assert result.comment_of("999", "hana.daily")[0] is False  # her name, another pk
    assert result.comment_of(None, "hana.daily")[0] is True  # pk not known yet: the name


@responses.activate
async def test_post_info_and_profile_carry_pks() -> None:
    info(count=0, coauthor_producers=[{"pk": "77", "username": "jun.collab"}])
    found = await gateway().post_info(session(), SHORTCODE)
    assert (found.author, found.author_pk, dict(found.coauthors)) == (
        "hana.daily", "42", {"jun.collab": "77"})
    responses.get(f"{API}/users/kim.minji/usernameinfo/", json={
        "user": {"pk": "4242", "pk_id": "4242", "username": "Kim.Minji", "full_name": "",
                 "is_private": False}, "status": "ok"})
    profile = await gateway().profile(session(), "@Kim.Minji")
    assert (profile.pk, profile.username) == ("4242", "kim.minji")
    responses.get(f"{API}/users/nobody.here/usernameinfo/", status=404,
                  json={"message": "User not found", "status": "fail"})
    with pytest.raises(errors.NotFound):
        await gateway().profile(session(), "nobody.here")


@pytest.mark.parametrize(("status", "body", "kind"), [
    (429, {"message": "", "status": "fail"}, errors.THROTTLE),
    (429, {"message": "Please wait a few minutes before you try again.", "status": "fail"},
     errors.PLEASE_WAIT),
    (400, {"message": "Please wait a few minutes before you try again.", "status": "fail"},
     errors.PLEASE_WAIT),
])
@responses.activate
async def test_throttles_are_told_apart_by_their_body_and_sent_once(
    status: int, body: dict[str, str], kind: str
) -> None:
    responses.get(re.compile(rf"{API}/media/{PK}/info/.*"), json=body, status=status)
    with pytest.raises(errors.RateLimited) as limited:
        await gateway().post_info(session(), SHORTCODE)
    assert limited.value.kind == kind
    assert len(responses.calls) == 1  # no retry of the transport's own: only what was admitted


@responses.activate
async def test_a_request_the_pool_does_not_admit_is_never_sent() -> None:
    from services.instagram.errors import HelperSpent
    from services.instagram.gateway import CURRENT_METER, CallMeter

    info(count=0)
    admitted: list[int] = []

    async def admit() -> None:
        if len(admitted) == 1:
            raise HelperSpent("helper0")
        admitted.append(len(responses.calls))

    meter = CallMeter(admit=admit)
    token = CURRENT_METER.set(meter)
    try:
        assert (await gateway().post_info(session(), SHORTCODE)).author == "hana.daily"
        with pytest.raises(HelperSpent):
            await gateway().post_info(session(), SHORTCODE)
    finally:
        CURRENT_METER.reset(token)
    assert admitted == [0]  # admitted before it went out
    assert len(responses.calls) == 1 == meter.requests == meter.admitted


@responses.activate
async def test_instagrapi_never_sends_a_request_again_by_itself() -> None:
    import requests

    # A cut-short answer (instagrapi would wait 2 s in the thread and send it again; after
    # a 408 it would wait 60 s).
    responses.get(re.compile(rf"{API}/media/{PK}/info/.*"),
                  body=requests.exceptions.ChunkedEncodingError("connection broken"))
    with pytest.raises(errors.NetworkError):
        await gateway().post_info(session(), SHORTCODE)
    assert len(responses.calls) == 1  # not again, uncounted
