"""A made-up community on the simulated Instagram, with a known ground truth.

`autogram chat --demo`, the verification benchmark and the tests build one: members,
a week of submitted posts, helper accounts, and comments on the simulated Instagram
(each member comments on each other member's post with some probability). `truth`
says who really commented where, to compare the verification's verdicts with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from services.week.submissions import SubmissionRepo
from storage.models import Helper, Member

KOREAN_NAMES = ("minji", "jisoo", "hana", "yuna", "seojun", "doyun", "haeun", "jiho",
                "sua", "eunwoo", "siwoo", "chaewon", "junho", "yerin", "taeyang")


@dataclass
class SampleCommunity:
    members: list[str]
    helpers: list[str]
    # shortcode -> (owner, set of members who commented)
    posts: dict[str, tuple[str, set[str]]] = field(default_factory=dict)

    def commented(self, member: str, shortcode: str) -> bool:
        return member in self.posts[shortcode][1]


def member_names(count: int) -> list[str]:
    base = KOREAN_NAMES
    return [base[i % len(base)] + ("" if i < len(base) else f".{i // len(base)}")
            for i in range(count)]


async def build(
    session: AsyncSession,
    sim: SimulatedInstagram,
    week: Week,
    *,
    members: int = 5,
    posts_each: int = 2,
    helpers: int = 1,
    comment_rate: float = 0.7,
    comments_each: int = 0,
    seed: int = 1,
) -> SampleCommunity:
    """Members who joined before the week, `posts_each` posts each handed in on Monday,
    helpers logged in on the simulation, and comments drawn at `comment_rate`.
    `comments_each` adds that many comments from outsiders to every post (long lists)."""
    chance = random.Random(seed)
    names = member_names(members)
    community = SampleCommunity(names, [f"helper.{n + 1}" for n in range(helpers)])
    joined = week.at("MON 00:00") - timedelta(days=7)
    submitted = week.at("MON 09:00")
    repo = SubmissionRepo(session)
    rows = {name: Member(instagram_username=name, display_name=name.title(), joined_at=joined)
            for name in names}
    session.add_all(rows.values())
    for name in names:
        sim.add_account(name)
    await session.flush()
    ids = {name: member.id for name, member in rows.items()}
    for helper in community.helpers:
        sim.add_account(helper, password="helper-password")
        session.add(Helper(instagram_username=helper, password="helper-password",
                           session=sim.session_for(helper), status="ready"))
    number = 0
    for name in names:
        for _ in range(posts_each):
            number += 1
            shortcode = f"C{seed:02d}{number:05d}x"
            commenters = {other for other in names if other != name
                          and chance.random() < comment_rate}
            outsiders = [f"fan.{shortcode.lower()}.{k}" for k in range(comments_each)]
            sim.add_post(name, shortcode, [*sorted(commenters), *outsiders],
                         taken_at=submitted, caption=f"{name}의 일상")
            community.posts[shortcode] = (name, commenters)
            await repo.add(ids[name], week.start, f"https://www.instagram.com/p/{shortcode}/",
                           shortcode, submitted_at=submitted)
    await session.flush()
    return community
