"""The week benchmark (benchmarks/week.py) on a tiny community: its world answers as
Instagram would, its lower bound is what a reader of the world's own pages needs, and
a whole week of the product on a virtual clock reports consistent figures."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

import pytest
from instagrapi import exceptions as ig

from benchmarks.instagram_world import PREVIEWS, World
from benchmarks.virtual_clock import VirtualClock
from benchmarks.week import Config, instagrapi_error, week_run
from services.instagram import errors
from services.instagram.instagrapi_adapter import map_error
from storage.db import create_engine
from tests.conftest import wipe

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC).timestamp()  # Monday 00:00 in Seoul
CUTOFF = START + 7 * 86400 - 60


def world(members: int = 12, **extra: object) -> World:
    return World(members, start=START, cutoff=CUTOFF, seed=3, **extra)  # type: ignore[arg-type]


def comment_pages(w: World, code: str, at: float) -> list[dict]:
    """Every comment page of the post as the world sends it, newest first."""
    post, params, pages = w.by_code[code], {}, []
    while True:
        status, body = w._read(["media", post.pk, "comments"], params, at)
        assert status == 200
        pages.append(body)
        if not body["has_more_comments"]:
            return pages
        params = {"max_id": body["next_max_id"]}


def thread_pages(w: World, code: str, comment: int, at: float) -> list[dict]:
    post, params, pages = w.by_code[code], {}, []
    while True:
        status, body = w._read(["media", post.pk, "comments", str(comment),
                                "inline_child_comments"], params, at)
        assert status == 200
        pages.append(body)
        if not body["has_more_tail_child_comments"]:
            return pages
        params = {"max_id": body["next_max_child_cursor"]}


def names_on(page: dict) -> set[str]:
    return {c["user"]["username"] for c in page["comments"]} | {
        r["user"]["username"] for c in page["comments"] for r in c["preview_child_comments"]}


def test_the_world_answers_as_of_the_time_asked() -> None:
    w = world()
    post = max(w.posts, key=lambda p: len(p.comments))
    early, late = post.posted_at + 3600, CUTOFF + 3 * 86400
    before = set().union(*map(names_on, comment_pages(w, post.code, early)))
    pages = comment_pages(w, post.code, late)
    assert before < set().union(*map(names_on, pages))  # made later: not there yet
    assert len(pages) == math.ceil(len(post.visible(late)) / w.page)
    # Newest first: the first page holds the newest comments, with the newest pk.
    _, body = w._read(["media", post.pk, "comments"], {}, late)
    assert body["comments"][-1]["pk"] == post.visible(late)[-1].pk
    assert body["comment_count"] == post.count(late)
    # min_id: only what is newer than the comment named.
    older = post.visible(late)[-3].pk
    _, newer = w._read(["media", post.pk, "comments"], {"min_id": str(older)}, late)
    assert [c["pk"] for c in newer["comments"]] == [c.pk for c in post.visible(late)[-2:]]
    status, _ = w._read(["media", post.pk, "info"], {}, post.posted_at - 1)
    assert status == 404  # not posted yet


def test_renamed_members_keep_their_pk() -> None:
    w = world(30)
    renamed = next(a for a in w.members if len(a.names) > 1)
    (_, old), (since, new) = renamed.names
    assert w._user_info(old, since - 1)[1]["user"]["pk"] == renamed.pk
    assert w._user_info(new, since + 1)[1]["user"]["pk"] == renamed.pk
    assert w._user_info(old, since + 1)[0] == 404


def test_the_lower_bound_is_what_a_reader_of_the_pages_needs() -> None:
    """Recomputed from the world's own bodies: a post everyone owed commented on needs
    its pages up to the one showing the last owed commenter, any other post all of
    them; an owed member shown only deep in a thread adds that thread's pages up to
    theirs."""
    w = world(40)
    total = 0
    for post in w.posts:
        pages = comment_pages(w, post.code, CUTOFF)
        owed = {a.name_at(CUTOFF) for i, a in enumerate(w.members) if w.owes(i, post)}
        first: dict[str, int] = {}
        for number, page in enumerate(pages, start=1):
            for name in names_on(page):
                first.setdefault(name, number)
        deep: dict[str, tuple[int, int, int]] = {}  # (comment page, thread page, thread)
        for number, page in enumerate(pages, start=1):
            for c in page["comments"]:
                if c["child_comment_count"] <= PREVIEWS:
                    continue
                for depth, replies in enumerate(thread_pages(w, post.code, c["pk"], CUTOFF),
                                                start=1):
                    for r in replies["child_comments"]:
                        name = r["user"]["username"]
                        if name in owed and name not in first and (
                                name not in deep or (number, depth) < deep[name][:2]):
                            deep[name] = (number, depth, c["pk"])
        everyone = owed <= set(first) | set(deep)
        last = max([first[n] for n in owed if n in first] +
                   [deep[n][0] for n in owed if n in deep], default=0)
        threads: dict[int, int] = {}
        for _, depth, thread in deep.values():
            threads[thread] = max(threads.get(thread, 0), depth)
        total += max(1, last if everyone else len(pages)) + sum(threads.values())
    assert w.lower_bound()["requests"] == total


@pytest.mark.parametrize(("status", "body", "product"), [
    (429, {"message": "Please wait a few minutes before you try again.", "status": "fail"},
     errors.RateLimited),
    (429, {}, errors.RateLimited),
    (502, {}, errors.NetworkError),
    (400, {"message": "feedback_required", "status": "fail"}, errors.ActionBlocked),
    (400, {"message": "challenge_required", "status": "fail"}, errors.CheckpointRequired),
    (404, {"message": "Media not found or unavailable", "status": "fail"}, errors.NotFound),
])
def test_each_answer_raises_what_instagrapi_raises(status: int, body: dict[str, object],
                                                   product: type[Exception]) -> None:
    exc = instagrapi_error(status, body)
    assert isinstance(exc, ig.ClientError)
    assert isinstance(map_error(exc), product)


def test_a_tiny_week_reports_consistent_figures(database_url: str) -> None:
    """Five members, two helpers, faults at 20 %: every request the world counted is
    tagged by the entry point it served, each debt is judged once, and the bound in
    the report is the world's."""
    engine = create_engine(database_url)
    asyncio.run(_wipe(engine))
    clock = VirtualClock()
    config = Config(5, 2, faults=0.2, seed=4, url=database_url)
    row = clock.run(week_run(config, clock))
    by_kind = row["by_kind"]
    assert sum(by_kind.values()) == row["requests"] > 0
    assert by_kind["author"] > 0 and by_kind["final"] > 0 and by_kind["refresh"] > 0
    assert sum(v for k, v in row["answers"].items()) == row["requests"]
    assert row["settled"] + row["open"] + row["hidden"] == row["debts"]
    expected = World(5, start=row["start"], cutoff=row["cutoff"], seed=4,
                     faults=0.2).lower_bound()["requests"]
    assert row["bound"] == expected
    assert row["final_ratio"] == by_kind["final"] / row["bound"]
    assert row["results_hours"] is not None and row["results_hours"] > 0


async def _wipe(engine) -> None:  # type: ignore[no-untyped-def]
    await wipe(engine)
    await engine.dispose()


def test_the_final_check_alone_starts_at_the_deadline(database_url: str) -> None:
    """`--final-only`: the links are handed in (their authors read), nothing else reads
    before the deadline, and the run ends once the results are out."""
    engine = create_engine(database_url)
    asyncio.run(_wipe(engine))
    clock = VirtualClock()
    row = clock.run(week_run(Config(5, 2, faults=0.0, seed=4, url=database_url,
                                    final_only=True), clock))
    by_kind = row["by_kind"]
    assert by_kind["author"] > 0 and by_kind["final"] > 0
    assert by_kind["refresh"] == by_kind["check_now"] == 0
    assert row["results_hours"] is not None
    assert row["after_deadline_hours"] == pytest.approx(row["results_hours"], abs=0.01)


def test_the_world_pages_a_post_as_its_comments_stand() -> None:
    """Bisected pages (newest first, older by `max_id`, newer by `min_id`) hold exactly
    the listed comments made by the time asked, and the count every comment and reply."""
    w = world(30)
    post = max(w.posts, key=lambda p: len(p.comments))
    for at in (post.posted_at + 3600, post.posted_at + 86400, CUTOFF, CUTOFF + 86400):
        made = [c for c in post.comments if c.at <= at and not c.hidden]
        pages = comment_pages(w, post.code, at)
        assert [c["pk"] for page in reversed(pages) for c in page["comments"]] == \
            [c.pk for c in made]
        assert pages[0]["comment_count"] == sum(
            1 + sum(r.at <= at for r in c.replies) for c in post.comments if c.at <= at)
        if len(made) > 3:
            status, newer = w._read(["media", post.pk, "comments"],
                                    {"min_id": str(made[-4].pk)}, at)
            assert status == 200
            assert [c["pk"] for c in newer["comments"]] == [c.pk for c in made[-3:]]
