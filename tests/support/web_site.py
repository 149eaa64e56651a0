"""The web app of the tests: the demo community on a real port, as the bot serves it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.demo import seed
from bot.web import build_web_app
from bot.web_pages import WebPages
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.web.links import WebLinks
from storage.models import Member, utcnow
from tests.support.clock import Clock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    url: str
    services: Services
    links: WebLinks
    pages: WebPages

    async def personal_url(self, username: str) -> str:
        from sqlalchemy import select

        async with self.services.sessions() as session:
            member_id = await session.scalar(
                select(Member.id).where(Member.instagram_username == username))
            assert member_id is not None
            found = await self.links.personal_url(session, member_id, utcnow())
        assert found is not None
        return found


@asynccontextmanager
async def demo_site(services: Services, simulated: SimulatedInstagram) -> AsyncIterator[Site]:
    """The demo's community (seeded on the test database, on today's clock) behind the
    web app at the container's links (a test marked `@pytest.mark.web_site`)."""
    links = services.web
    if not links.available or not isinstance(services.clock, Clock):
        raise RuntimeError("mark the test @pytest.mark.web_site: its container serves the site")
    services.clock.follow(utcnow)
    await seed(services, simulated)
    root = links.root
    port = urlsplit(root).port
    app = build_web_app([])
    pages = WebPages(services, links)
    pages.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Site(root, services, links, pages)
    finally:
        await runner.cleanup()


async def get(url: str, **kwargs: object) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as client, client.get(url, **kwargs) as response:
        return response.status, await response.text(), dict(response.headers)

