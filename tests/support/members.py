"""People in chat made members or admins the way the product does it."""

from __future__ import annotations

from services.container import Services
from tests.support.chat_driver import Person


async def make_admin(services: Services, person: Person) -> None:
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await person.say(f"/claim {code}")
    assert "관리자로 등록됐어요" in person.text


async def make_member(services: Services, person: Person, username: str = "minji") -> None:
    async with services.transaction() as tx:
        from services.members.queries import MemberRepo

        member = await MemberRepo(tx.session).add(username, "민지")
        code = await tx.invites.create(member.id)
    await person.say(f"/start {code}")
    assert f"@{username} 계정과 연결됐어요" in person.text

