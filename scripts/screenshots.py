"""The README's pictures of the web pages: the demo's community, checked on its simulated
Instagram, in Debian's Chromium at a phone's 390 x 844 (written to docs/images/).

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from cryptography.fernet import Fernet
from playwright.async_api import async_playwright

from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.rules import CommunityRules
from services.week.calendar import Week
from storage import crypto
from storage.db import create_engine, session_factory
from storage.migrations import upgrade
from storage.models import utcnow
from tests.support.web_site import demo_site

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


async def main() -> None:
    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/screenshots.sqlite3"
    await asyncio.to_thread(upgrade, url)
    crypto.configure_keys([Fernet.generate_key().decode()])
    simulated = SimulatedInstagram(open_signup=True)
    engine = create_engine(url)
    services = Services(session_factory(engine), CommunityRules(), serialize=True,
                        instagram=Instagram(simulated, max_wait=2.0))
    async with demo_site(services, simulated) as site, async_playwright() as playwright:
        week = Week.containing(utcnow(), services.rules.timezone)
        await services.checks.week(week)
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 390, "height": 844},
                                            device_scale_factor=2, is_mobile=True)
        page = await context.new_page()
        await page.goto(f"{site.url}/week")
        row = page.locator("#board > li", has_text="@minji")
        await row.locator("summary").click()
        await row.locator("details div a").first.wait_for()
        await page.screenshot(path=str(IMAGES / "week-board.png"))
        await page.goto(await site.personal_url("minji"))
        await page.screenshot(path=str(IMAGES / "personal-page.png"))
        await browser.close()
        async with aiohttp.ClientSession() as client, \
                client.get(f"{site.url}/week/{week.label}.png") as response:
            picture = await response.read()
        await asyncio.to_thread((IMAGES / "week-picture.png").write_bytes, picture)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
