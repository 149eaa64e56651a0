"""Property: over random communities with a known ground truth and every fault the
simulated Instagram can show, no verdict is ever wrong.

Faults drawn per post: a comment repeated across pages, no comment count, pages that
start in the middle (headload), comments turned off, a comment Instagram counts but
does not list, a passing "not found", a lasting one (deleted), a post by someone who is
not the member, a passing network failure; names written with capitals or a leading
'@'. After every run: no "missing" that was commented, no "done" that was not, no
"done" taken back; after a clean re-check every "couldn't check" is settled.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.container import Services
from services.instagram.errors import InstagramError, NetworkError
from services.instagram.gateway import PostComments
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.rules import CommunityRules
from services.weeks import Week
from storage.db import session_factory
from storage.models import Helper, Member, Submission
from storage.repositories.weekly import SubmissionRepo
from tests.conftest import TEST_NOW, wipe
from tests.test_verification import verdicts

FAULTS = ("none", "repeat", "no_count", "headload", "comments_off", "hidden",
          "repeat_hidden", "passing_not_found", "gone", "foreign")
# "hidden" keeps one member's comment counted but unlisted; "repeat_hidden" also repeats
# a comment on the next page, so counting rows instead of comments would look complete.
NAMES = ("minji", "jisoo", "hana", "yuna", "seojun", "doyun")


@dataclass(frozen=True)
class PostPlan:
    owner: int
    commenters: frozenset[int]
    outsiders: int
    fault: str
    spelling: str  # how commenters' names are written on Instagram


@st.composite
def communities(draw: st.DrawFn) -> tuple[int, int, list[PostPlan], bool]:
    members = draw(st.integers(2, 5))
    helpers = draw(st.integers(1, 2))
    posts = [PostPlan(owner, frozenset(draw(st.sets(st.integers(0, members - 1)))) - {owner},
                      draw(st.sampled_from((0, 3, 20, 40))), draw(st.sampled_from(FAULTS)),
                      draw(st.sampled_from(("plain", "Capital", "@at"))))
             for owner in range(members) for _ in range(draw(st.integers(1, 2)))]
    return members, helpers, posts, draw(st.booleans())


def spelled(name: str, spelling: str) -> str:
    return {"plain": name, "Capital": name.capitalize(), "@at": "@" + name.upper()}[spelling]


async def setup(engine: AsyncEngine, members: int, helpers: int, plans: list[PostPlan]
                ) -> tuple[Services, SimulatedInstagram, Week, dict[str, PostPlan]]:
    await wipe(engine)
    sim = SimulatedInstagram()
    instagram = Instagram(sim, max_wait=0.2, patience=0.2, clock=Later())
    services = Services(session_factory(engine), CommunityRules(), lambda: TEST_NOW,
                        serialize=engine.dialect.name == "sqlite", instagram=instagram)
    week = Week.containing(TEST_NOW, services.rules.timezone)
    names = NAMES[:members]
    by_code: dict[str, PostPlan] = {}
    async with services.transaction() as tx:
        rows = [Member(instagram_username=n, joined_at=week.at("MON 00:00") - timedelta(days=7))
                for n in names]
        tx.session.add_all(rows)
        for n in range(helpers):
            sim.add_account(f"helper{n}")
            tx.session.add(Helper(instagram_username=f"helper{n}", password="pw",
                                  session=sim.session_for(f"helper{n}"), status="ready"))
        await tx.session.flush()
        repo = SubmissionRepo(tx.session)
        for number, plan in enumerate(plans):
            code = f"P{number:03d}xyzab"
            author = "stranger.one" if plan.fault == "foreign" else spelled(
                names[plan.owner], plan.spelling)
            commenters = [spelled(names[c], plan.spelling) for c in sorted(plan.commenters)]
            hidden = plan.fault in ("hidden", "repeat_hidden")
            if hidden and commenters:
                commenters.pop(0)  # commented, counted by Instagram, never listed
            outsiders = max(plan.outsiders, 20) if "repeat" in plan.fault else plan.outsiders
            post = sim.add_post(author, code, [*commenters, *(
                f"fan{k}.{code}" for k in range(outsiders))])
            post.repeat_on_pages = "repeat" in plan.fault
            post.no_count = plan.fault == "no_count"
            post.headload = plan.fault == "headload"
            post.comments_off = plan.fault == "comments_off"
            post.hidden = 1 if hidden else 0
            post.not_found_reads = 1 if plan.fault == "passing_not_found" else 0
            post.gone = plan.fault == "gone"
            await repo.add(rows[plan.owner].id, week.start, f"https://www.instagram.com/p/{code}/",
                           code, submitted_at=week.at("MON 09:00"))
            by_code[code] = plan
        await tx.helpers.load_pool()
    return services, sim, week, by_code


async def statuses(services: Services) -> dict[str, str]:
    async with services.transaction() as tx:
        return dict((await tx.session.execute(
            select(Submission.shortcode, Submission.status))).all())


def never_wrong(found: dict[tuple[str, str], str], plans: dict[str, PostPlan],
                members: int) -> None:
    for (member, code), verdict in found.items():
        plan = plans[code]
        commented = NAMES.index(member) in plan.commenters
        if verdict == "missing":
            assert not commented, (member, code, plan)
            assert plan.fault not in ("comments_off", "foreign"), (code, plan)
        if verdict == "done":
            assert commented, (member, code, plan)
    assert all(NAMES.index(m) < members for m, _ in found)


class Later:
    """The helpers' clock, moved on an hour when the faults have passed."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def reset_helpers(instagram: Instagram) -> None:
    """An hour later: cooldowns (stored with the helpers too) are over."""
    assert isinstance(instagram.clock, Later)
    instagram.clock.now += 3600


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(communities())
async def test_no_verdict_is_ever_wrong(engine: AsyncEngine,
                                        world: tuple[int, int, list[PostPlan], bool]) -> None:
    members, helpers, plans, flaky = world
    services, sim, week, by_code = await setup(engine, members, helpers, plans)
    assert services.checks is not None
    if flaky:
        sim.fail_share(0.25, NetworkError)
    await services.checks.week(week)
    first = await verdicts(services)
    never_wrong(first, by_code, members)
    # Comments deleted on Instagram later: a "done" is never taken back.
    for post in sim.posts.values():
        post.comments = post.comments[1:]
    sim.fail_share(0)
    reset_helpers(services.instagram)  # type: ignore[arg-type]
    await services.checks.week(week)
    second = await verdicts(services)
    for key, verdict in first.items():
        if verdict == "done":
            assert second[key] == "done", key
    # A clean re-check: Instagram lists every comment again, with its count.
    for post, plan in zip(sim.posts.values(), by_code.values(), strict=True):
        listed = sorted(spelled(NAMES[c], plan.spelling) for c in plan.commenters)
        post.comments = [(name, "좋아요!") for name in listed] + post.comments
        post.no_count, post.hidden = False, 0
    reset_helpers(services.instagram)  # type: ignore[arg-type]
    await services.checks.week(week)
    settled = await verdicts(services)
    never_wrong(settled, by_code, members)
    state = await statuses(services)
    for (member, code), verdict in settled.items():
        if state[code] == "active":
            assert verdict != "unknown", (member, code, by_code[code])
    for code, plan in by_code.items():
        expected = {"gone": "gone", "foreign": "foreign",
                    "comments_off": "comments_off"}.get(plan.fault, "active")
        assert state[code] == expected, (code, plan, state[code])
    # Nobody owes a post that is gone, foreign or has comments off.
    async with services.transaction() as tx:
        results = await tx.progress.week_results(week)
    owed = {item.shortcode for m in results.members for item in m.todo}
    assert not {c for c, p in by_code.items() if p.fault in ("gone", "foreign",
                                                              "comments_off")} & owed


class StaleReader:
    """A gateway whose reads of one post wait, then answer what Instagram said before."""

    def __init__(self, sim: SimulatedInstagram, shortcode: str) -> None:
        self.sim = sim
        self.shortcode = shortcode
        self.release = asyncio.Event()
        self.reading = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.sim, name)

    async def commenters(self, session: dict, shortcode: str, resume: object = None
                         ) -> PostComments:
        result = await self.sim.commenters(session, shortcode, resume)  # type: ignore[arg-type]
        if shortcode == self.shortcode and not self.release.is_set():
            self.reading.set()
            await self.release.wait()
        return result


async def test_a_late_check_never_overwrites_a_done(engine: AsyncEngine) -> None:
    plans = [PostPlan(0, frozenset(), 0, "none", "plain"), PostPlan(1, frozenset({0}), 0,
                                                                     "none", "plain")]
    services, sim, week, by_code = await setup(engine, 2, 2, plans)
    first = next(iter(by_code))
    slow = StaleReader(sim, first)
    late = Instagram(slow, max_wait=0.2)  # type: ignore[arg-type]
    late_services = Services(services.sessions, services.rules, lambda: TEST_NOW,
                             serialize=engine.dialect.name == "sqlite", instagram=late)
    assert late_services.checks is not None and services.checks is not None
    refresh = asyncio.create_task(late_services.checks.week(week, only_open=True))
    await slow.reading.wait()  # the refresh has read "no comment from jisoo"
    sim.posts[first].comments.append(("jisoo", "좋아요!"))
    await services.checks.week(week)  # another check sees the comment: done
    assert (await verdicts(services))[("jisoo", first)] == "done"
    slow.release.set()
    await refresh  # writes its stale "missing" after the "done" was committed
    assert (await verdicts(services))[("jisoo", first)] == "done"


async def test_check_now_during_the_weekly_check_never_fails(engine: AsyncEngine) -> None:
    plans = [PostPlan(o, frozenset({(o + 1) % 4}), 20, "none", "plain") for o in range(4)] * 2
    services, sim, week, by_code = await setup(engine, 4, 2, plans)
    sim.config.latency = 0.005
    checks = services.checks
    assert checks is not None
    ids = await member_ids(services)
    reports = await asyncio.gather(
        checks.week(week), *(checks.member(i, TEST_NOW + timedelta(minutes=n))
                             for n, i in enumerate(ids.values())))
    assert not any(r.paused for r in reports)
    never_wrong(await verdicts(services), by_code, 4)


async def member_ids(services: Services) -> dict[str, int]:
    async with services.transaction() as tx:
        return dict((await tx.session.execute(
            select(Member.instagram_username, Member.id))).all())


class Exploding:
    """A gateway whose read of one post fails in a way nobody planned for."""

    def __init__(self, sim: SimulatedInstagram, shortcode: str) -> None:
        self.sim = sim
        self.shortcode = shortcode

    def __getattr__(self, name: str) -> object:
        return getattr(self.sim, name)

    async def commenters(self, session: dict, shortcode: str, resume: object = None
                         ) -> PostComments:
        if shortcode == self.shortcode:
            await asyncio.sleep(0.15)  # the quick reads finish first
            raise ValueError("unexpected answer")
        return await self.sim.commenters(session, shortcode, resume)  # type: ignore[arg-type]


async def test_an_unexpected_failure_cancels_the_run_and_keeps_finished_reads(
    engine: AsyncEngine,
) -> None:
    plans = [PostPlan(o % 3, frozenset({(o + 1) % 3}), 0, "none", "plain") for o in range(6)]
    services, sim, week, by_code = await setup(engine, 3, 2, plans)
    codes = list(by_code)
    for code in codes[3:]:
        sim.posts[code].comments += [(f"fan{k}", "!") for k in range(600)]  # long reads
    sim.config.latency = 0.01
    instagram = Instagram(Exploding(sim, codes[1]), max_wait=0.2)  # type: ignore[arg-type]
    broken = Services(services.sessions, services.rules, lambda: TEST_NOW,
                      serialize=engine.dialect.name == "sqlite", instagram=instagram)
    assert broken.checks is not None
    try:
        await broken.checks.week(week)
    except ValueError:
        pass
    else:
        raise AssertionError("the failure was not raised")
    calls = len(sim.calls)
    await asyncio.sleep(0.2)
    assert len(sim.calls) == calls  # nothing sent to Instagram after the run ended
    assert calls < 3 * 41  # the long reads (41 pages each) were cut short
    found = await verdicts(services)
    assert {code for _, code in found} >= {codes[0]}  # the read that finished was kept
    never_wrong(found, by_code, 3)
    assert InstagramError  # the product's errors are not what failed here
