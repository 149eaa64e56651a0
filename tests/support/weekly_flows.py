"""A community's week in chat: the clock, the services, the dispatcher, people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.rules import CommunityRules
from services.web.links import WebLinks
from storage.db import session_factory
from tests.conftest import Clock
from tests.support.chat_driver import Person

# Wednesday 2026-11-18 12:00 in Seoul.
WEDNESDAY = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY)  # a week before the other tests' "now"


@pytest.fixture
def world(engine: AsyncEngine, clock: Clock, web_links: WebLinks) -> Services:
    """The container on this week's clock (and the web links a test's marker asks for)."""
    return Services(session_factory(engine), CommunityRules(), clock, web=web_links)


@pytest.fixture
def bot(world: Services) -> Dispatcher:
    dispatcher = Dispatcher(world)
    dispatcher.invite_links["telegram"] = "https://t.me/autogram_test_bot?start={code}"
    return dispatcher


async def admin_person(world: Services, bot: Dispatcher, user: str = "admin") -> Person:
    async with world.transaction() as tx:
        code = await tx.admins.create_claim("운영자")
    person = Person(bot, user, name="운영자")
    await person.say(f"/claim {code}")
    return person


def invite_code(text: str, username: str) -> str:
    line = next(line for line in text.split("\n") if f"@{username}" in line)
    return line.rsplit(" ", 1)[1]


async def members(world: Services, bot: Dispatcher, *names: str) -> list[Person]:
    admin = await admin_person(world, bot, "boot-admin")
    await admin.say("/adduser " + " ".join(names))
    people = []
    for name in names:
        person = Person(bot, f"tg-{name}", name=name)
        await person.say(invite_code(admin.text, name))  # typed on its own, no /start
        assert f"@{name} 계정과 연결됐어요" in person.text
        people.append(person)
    return people

