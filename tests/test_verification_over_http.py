"""The week's check through instagrapi itself, over HTTP, against the fake Instagram server
of the verification benchmark (benchmarks/fake_instagram.py): its pages from the middle,
repeated comments, outsiders, reply threads and hidden comments, with a truth of its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.fake_instagram import FakeInstagram, World
from benchmarks.verification import FakeServerGateway, seed
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from services.week.calendar import Week
from storage.db import session_factory
from tests.conftest import TEST_NOW, wipe


class Unpaced(FakeServerGateway):
    """The benchmark's gateway without the production pacing (real seconds here)."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.delay_range = None
        self.request_timeout = 0.0

    def new_client(self, settings: dict[str, Any] | None = None) -> Any:
        client = super().new_client(settings)
        client.request_timeout = 0
        return client


@pytest.fixture
async def fake() -> Any:
    server = FakeInstagram(World(8, seed=3))
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_every_page_once_and_every_verdict_true(engine: AsyncEngine, fake: Any) -> None:
    server, base = fake
    world = server.world
    await wipe(engine)
    instagram = Instagram(Unpaced(base), max_wait=5, patience=5)
    services = Services(session_factory(engine), CommunityRules(), lambda: TEST_NOW,
                        serialize=engine.dialect.name == "sqlite", instagram=instagram)
    week = Week.containing(TEST_NOW, services.rules.timezone)
    async with ClientSession(base) as http:  # the benchmark's doors: the week, the judge
        async with http.get("/_bench/world") as answer:
            await seed(services, await answer.json(), week, helpers=2)
        report = await services.checks.week(week)
        url = engine.url.render_as_string(hide_password=False)
        async with http.get("/_bench/judge", params={"url": url}) as answer:
            tally = await answer.json()
    assert tally["wrong"] == 0 and tally["open"] == 0 and tally["settled"] > 0
    # Each post's info, each page and each long thread's page, once at most: nothing
    # more (a read stops once everyone who owes the post is found on time).
    assert server.requests == report.requests <= world.minimum()
    assert not [key for key, times in server.asked.items() if times > 1]
    # Hidden comments leave their posts' unseen debts unknown, never missing (a read
    # that found everyone owed stops before it could tell the list is short).
    hidden = {code for code, post in world.posts.items() if post.hidden}
    assert hidden and report.incomplete and set(report.incomplete) <= hidden
