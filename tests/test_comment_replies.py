"""Reply threads longer than their preview, over the simulated Instagram: every reply
page in both directions (a thread's pages can start in its middle), each page once, and
a read stopped by a rate limit in the middle of a thread goes on from where it stopped."""

from __future__ import annotations

import pytest

from services.container import Services
from services.instagram import comment_pages
from services.instagram.comment_pages import CommentRead
from services.instagram.errors import RateLimited
from services.instagram.runtime import Instagram
from services.instagram.simulated import REPLIES_PAGE, SimulatedInstagram
from tests.support.verification import verdicts, verifier, world


def thread_world(replies: int, *, from_middle: bool = True) -> tuple[SimulatedInstagram,
                                                                     list[str]]:
    """A post of three comments, the second answered by `replies` people."""
    ig = SimulatedInstagram()
    for name in ("helper0", "helper1", "hana"):
        ig.add_account(name)
    post = ig.add_post("hana", "HANA0001", commenters=["jun", "Mina", "seojun"])
    repliers = [f"fan{n}" for n in range(replies)]
    post.replies = {1: [(f"@Fan{n}" if n % 2 else f"fan{n}", "답글") for n in range(replies)]}
    post.replies_from_middle = from_middle
    return ig, repliers


def operations(ig: SimulatedInstagram) -> list[str]:
    return [operation for operation, _ in ig.calls]


async def test_a_thread_paged_from_its_middle_is_read_both_ways() -> None:
    ig, repliers = thread_world(23)  # 5 reply pages, the first one sent is the 3rd
    result = await ig.commenters(ig.session_for("helper0"), "HANA0001")
    assert result.usernames == {"jun", "mina", "seojun", *repliers}
    assert (result.seen, result.reported, result.complete) == (26, 26, True)
    assert operations(ig) == ["info", "comments"] + ["replies"] * 5  # each page once


async def test_the_tail_alone_misses_the_replies_before_the_middle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the read did before: only has_more_tail_child_comments was followed.
    monkeypatch.setattr(comment_pages, "REPLY_DIRECTIONS", comment_pages.REPLY_DIRECTIONS[:1])
    ig, _ = thread_world(23)
    result = await ig.commenters(ig.session_for("helper0"), "HANA0001")
    assert not result.complete and result.seen < result.reported == 26
    assert not {f"fan{n}" for n in range(1, 2 * REPLIES_PAGE)} & result.usernames


async def test_a_thread_from_its_start_and_a_short_one() -> None:
    ig, repliers = thread_world(12, from_middle=False)
    result = await ig.commenters(ig.session_for("helper0"), "HANA0001")
    assert result.usernames >= set(repliers) and result.complete
    assert operations(ig).count("replies") == 3
    ig, repliers = thread_world(1)  # the preview holds the whole thread: no reply pages
    result = await ig.commenters(ig.session_for("helper0"), "HANA0001")
    assert result.usernames == {"jun", "mina", "seojun", "fan0"} and result.complete
    assert "replies" not in operations(ig)


async def test_a_rate_limit_in_the_middle_of_a_thread_goes_on_from_the_page_that_failed(
) -> None:
    ig, repliers = thread_world(23)
    # info, comments, the middle reply page, the next one on its tail, then the limit on
    # the first page of its head.
    ig.fail_call(5, RateLimited("Please wait a few minutes", retry_after=60))
    read = CommentRead()
    with pytest.raises(RateLimited):
        await ig.commenters(ig.session_for("helper0"), "HANA0001", read)
    assert operations(ig) == ["info", "comments"] + ["replies"] * 3
    result = await ig.commenters(ig.session_for("helper1"), "HANA0001", read)  # another helper
    assert result.usernames == {"jun", "mina", "seojun", *repliers} and result.complete
    # Only the page that failed and the two not read yet: nothing asked twice.
    assert ig.calls[5:] == [("replies", "helper1")] * 3


async def test_a_member_who_only_replied_on_a_head_page_is_done(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1)
    shortcode = next(code for code, (_, commenters) in community.posts.items() if commenters)
    owner, commenters = community.posts[shortcode]
    post = simulated.posts[shortcode]
    # The members answer a stranger's comment instead of commenting: their replies sit
    # on the thread's first page, before the middle page Instagram sends first.
    post.comments = [("stranger.one", "첫 댓글")]
    post.replies = {0: [("stranger.two", "ㅋㅋ"), *((m, "좋아요!") for m in sorted(commenters)),
                        *((f"fan{n}", "👍") for n in range(2 * REPLIES_PAGE))]}
    post.replies_from_middle = True
    report = await verifier(services, instagram).run(week, services.rules)
    found = await verdicts(services)
    assert {m: v for (m, code), v in found.items() if code == shortcode} == {
        m: "done" if m in commenters else "missing" for m in community.members if m != owner}
    assert shortcode not in report.incomplete
