"""The web pages in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright, at a phone's 390 x 844, on the demo's community.

Screenshots are kept in test-artifacts/ (WEB_ARTIFACTS overrides). Without a Chromium
these tests are skipped, unless BROWSER_TESTS=required (CI), where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from storage.models import Member, utcnow
from tests.support.web_site import Site, demo_site

# Every test here opens the demo site in the browser.
pytestmark = pytest.mark.web_site

ARTIFACTS = Path(os.environ.get("WEB_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))
PHONE = {"width": 390, "height": 844}


def chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")


def _needed(reason: str) -> None:
    if os.environ.get("BROWSER_TESTS") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _needed("Playwright for Python is not installed (make test installs it)")
    path = chromium()
    if path is None:
        _needed("no Chromium: apt-get install chromium (as .ci/run does)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def site(services: Services, simulated: SimulatedInstagram) -> AsyncIterator[Site]:
    async with demo_site(services, simulated) as running:
        yield running


async def phone_page(browser: Any, width: int = PHONE["width"]) -> tuple[Any, list[str]]:
    context = await browser.new_context(viewport={**PHONE, "width": width},
                                        device_scale_factor=2, is_mobile=True,
                                        has_touch=True, locale="ko-KR")
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


async def shot(page: Any, name: str) -> None:
    """A full-page screenshot kept as a test artifact (and checked to hold a picture)."""
    png = await page.screenshot(full_page=True)
    assert len(png) > 10_000
    await asyncio.to_thread(_keep, f"{name}.png", png)


def _keep(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)


async def no_sideways_scroll(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth")


async def test_the_board_renders_the_demo_and_search_narrows_it(browser: Any,
                                                                site: Site) -> None:
    page, problems = await phone_page(browser)
    await page.goto(f"{site.url}/week")
    rows = page.locator("#board > li")
    assert await rows.count() == 6
    assert "회원 6명" in await page.locator("main").inner_text()
    await no_sideways_scroll(page)
    size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 16  # readable without zoom
    await shot(page, "week-board")
    await page.locator("#q").fill("min")
    visible = page.locator("#board > li:visible")
    assert await visible.count() == 1
    assert "@minji" in await visible.first.inner_text()
    assert "1명" in await page.locator("#shown").inner_text()
    await page.locator("#q").fill("")
    assert await page.locator("#board > li:visible").count() == 6
    # Opening a row loads that member's posts, each a link to the post on Instagram.
    row = page.locator("#board > li", has_text="@minji")
    await row.locator("summary").click()
    links = row.locator("details div a[href^='https://www.instagram.com/p/']")
    await links.first.wait_for()
    assert await links.count() >= 1
    await shot(page, "week-board-opened")
    assert problems == []  # the inline script ran under the page's own policy


async def test_narrowest_phone_has_no_sideways_scroll(browser: Any, site: Site) -> None:
    for path in ("/week", "/week?lang=en"):
        page, _ = await phone_page(browser, width=360)
        await page.goto(site.url + path)
        await no_sideways_scroll(page)
    personal = await site.personal_url("yuna")
    page, _ = await phone_page(browser, width=360)
    await page.goto(personal)
    await no_sideways_scroll(page)


async def test_a_personal_link_shows_that_members_list(browser: Any, site: Site) -> None:
    page, problems = await phone_page(browser)
    await page.goto(await site.personal_url("minji"))
    text = await page.locator("main").inner_text()
    assert "@minji 님의 이번 주" in text and "내 제출: 2/3" in text
    posts = page.locator("ul.posts a[href^='https://www.instagram.com/p/']")
    assert await posts.count() >= 2
    assert re.search(r"댓글 달 게시물: \d+개 중 \d+개 완료", text)
    await shot(page, "personal-page")
    await page.get_by_role("button", name="🔄 지금 확인").click()
    await page.wait_for_url(re.compile(r"check=started"))
    assert "확인하고 있어요" in await page.locator("main").inner_text()
    for task in list(site.pages._checks):
        await task
    assert problems == []


async def test_expired_and_tampered_links_get_a_clear_page(browser: Any, site: Site) -> None:
    async with site.services.sessions() as session:
        secret = await session.scalar(select(Member.link_secret).where(
            Member.instagram_username == "hana"))
    assert secret is not None
    old = site.links.token(secret, 0, utcnow() - timedelta(days=30))
    page, _ = await phone_page(browser)
    response = await page.goto(f"{site.url}/m/{old}")
    assert response.status == 403
    text = await page.locator("main").inner_text()
    assert "기간이 지난 링크예요" in text and "/status" in text
    await shot(page, "expired-link")
    good = (await site.personal_url("hana")).rsplit("/", 1)[1]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    response = await page.goto(f"{site.url}/m/{tampered}")
    assert response.status == 403
    assert "올바르지 않아요" in await page.locator("main").inner_text()


async def test_the_unfollow_upload_page_takes_a_zip_on_a_narrow_phone(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    from testkit.instagram_export_builder import export_zip

    export = tmp_path / "instagram-minji.zip"
    export.write_bytes(export_zip(["jun", "yuna"], ["jun", "minho.cafe"]))
    page, problems = await phone_page(browser, width=360)
    await page.goto(await site.personal_url("minji"))
    await page.get_by_role("link", name="🔍 맞팔 확인").click()
    await page.wait_for_url(re.compile(r"/unfollow$"))
    await no_sideways_scroll(page)
    await page.locator("input[type=file]").set_input_files(str(export))
    await page.get_by_role("button", name="올리고 확인하기").click()
    await page.wait_for_load_state()
    text = await page.locator("main").inner_text()
    assert "@minho.cafe" in text and "내가 팔로우하지만" in text
    await no_sideways_scroll(page)
    await shot(page, "unfollow-upload")
    assert problems == []
