"""A process built without Instagram (a script, a tool) holds `no_instagram()`, not a
None: everyone who needs Instagram hears what a deployment with no helper account says."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.absent import NoGateway
from tests.support.weekly_flows import admin_person, members
from tests.support.weekly_flows import bot as bot
from tests.support.weekly_flows import clock as clock
from tests.support.weekly_flows import world as world


async def test_checks_and_logins_say_no_helper_can_read(world: Services, bot: Dispatcher
                                                         ) -> None:
    assert isinstance(world.instagram.gateway, NoGateway)
    (minji,) = await members(world, bot, "minji")
    admin = await admin_person(world, bot)
    await minji.say("https://www.instagram.com/p/MINJI0001/")
    assert "접수했어요" in minji.text  # handed in; its author is read later

    await admin.say("/verify")
    assert "아직 등록된 헬퍼 계정이 없어서 인스타그램을 읽을 수 없어요" in admin.text
    await minji.say("/checknow")
    assert "헬퍼 계정이 등록되지 않아 확인할 수 없어요" in minji.text

    await admin.say("/addhelper")  # the login is asked, and Instagram is not here
    await admin.say("reader.one")
    await admin.say("a password")
    assert "아직 로그인하지 못했어요" in admin.text and "헬퍼 계정이 없어요" in admin.text
    for said in ("/unfollowlogin", "minji", "a password"):  # a member's own login too
        await minji.say(said)
    assert "지금은 봇이 인스타그램에 접속할 수 없어요" in minji.text
