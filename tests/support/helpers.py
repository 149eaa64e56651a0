"""Helper Instagram accounts added by an admin in chat, and what was stored."""

from __future__ import annotations

from sqlalchemy import select

from handlers.dispatcher import Dispatcher
from services.container import Services
from storage.models import Helper
from tests.support.chat_driver import Person
from tests.support.members import make_admin


async def admin_of(dispatcher: Dispatcher, services: Services) -> Person:
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    await admin.say("/lang en")
    return admin


async def add(admin: Person, username: str, password: str) -> None:
    await admin.say("/addhelper")
    await admin.say(username)
    await admin.say(password)


async def stored(services: Services, username: str) -> Helper | None:
    async with services.transaction() as tx:
        return await tx.session.scalar(select(Helper).where(
            Helper.instagram_username == username))

