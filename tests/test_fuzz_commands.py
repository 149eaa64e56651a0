"""Every command and keyword, as a stranger, a member, an admin who is not a member and
an admin, with no arguments and with bad ones: an answer, never the generic failure."""

from __future__ import annotations

import pytest

from handlers.dispatcher import Dispatcher
from handlers.features import build_registry
from services.container import Services
from tests.support.chat_driver import Person
from tests.support.members import make_admin, make_member

BAD = ("", "²", "٣", "-3", "0", "9" * 30, "x" * 10_000, "\x00", "🙂🙂", "@nobody.here",
       "minji ²", "minji -1", "minji 99999999999999999999", "9999-W52", "0000-01",
       "9999-12", "2026-W99", "consumer ²", "producer 9" * 3)
REGISTRY = build_registry()
GENERIC = ("처리 중 문제가 생겼어요", "Something went wrong")


async def people(dispatcher: Dispatcher, services: Services) -> list[Person]:
    stranger = Person(dispatcher, "stranger")
    member = Person(dispatcher, "member")
    await make_member(services, member, "minji")
    admin_only = Person(dispatcher, "admin-only")
    await make_admin(services, admin_only)
    admin = Person(dispatcher, "admin")
    await make_admin(services, admin)
    await admin.say("/addme boss.kim")
    return [stranger, member, admin_only, admin]


@pytest.mark.parametrize("command", sorted(c.name for c in REGISTRY.commands))
async def test_every_command_with_bad_arguments_gets_an_answer(
    dispatcher: Dispatcher, services: Services, command: str
) -> None:
    for person in await people(dispatcher, services):
        for bad in BAD:
            await person.say(f"/{command} {bad}".strip())
            assert not any(g in person.text for g in GENERIC), (person.user_id, command, bad)
            await person.say("/cancel")


async def test_every_keyword_for_everyone(dispatcher: Dispatcher, services: Services) -> None:
    for person in await people(dispatcher, services):
        for word in sorted(REGISTRY.by_keyword):
            await person.say(word)
            assert not any(g in person.text for g in GENERIC), (person.user_id, word)
            await person.say("/cancel")
