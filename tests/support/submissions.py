"""A community with posts on the simulated Instagram, for links handed in."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from storage.models import Admin, ChatAccount, Helper, Member
from tests.support.chat_driver import Person


async def community(services: Services, sim: SimulatedInstagram, *, helper: bool = True
                    ) -> Person:
    async with services.transaction() as tx:
        minji = Member(instagram_username="minji", joined_at=services.clock())
        tx.session.add(minji)
        await tx.session.flush()
        tx.session.add(ChatAccount(platform="console", platform_user_id="minji",
                                   member_id=minji.id, language="ko"))
        admin = ChatAccount(platform="console", platform_user_id="boss", language="ko")
        tx.session.add(admin)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=admin.id, claimed_at=services.clock()))
        if helper:
            sim.add_account("helper.one")
            tx.session.add(Helper(instagram_username="helper.one", password="pw",
                                  session=sim.session_for("helper.one"), status="ready"))
            await tx.helpers.load_pool()
    for owner, code in (("Minji", "DMinjiPlain"), ("minji", "DMinjiHelpr"),
                        ("seoul.cafe", "DCafePost1x")):
        sim.add_account(owner.lower())
        sim.add_post(owner, code, [])
    return Person(Dispatcher(services), "minji", "minji")

