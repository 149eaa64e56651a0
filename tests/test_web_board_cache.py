"""The board's cache: one count per week for a crowd of readers, dropped by a check,
revalidated by phones (ETag / Last-Modified), one entry per language."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from services.web.board import BoardService
from services.web.board_cache import BoardCache, WeekVersions
from services.week.calendar import Week
from storage.models import utcnow
from tests.support.web_site import demo_site


@pytest.fixture
def board_calls(monkeypatch: pytest.MonkeyPatch) -> list[Week]:
    """Every BoardService.board computed (each one is the database's count)."""
    calls: list[Week] = []
    original = BoardService.board

    async def counted(self: BoardService, week: Week) -> Any:
        calls.append(week)
        await asyncio.sleep(0.05)  # long enough for readers to pile up behind a miss
        return await original(self, week)

    monkeypatch.setattr(BoardService, "board", counted)
    return calls


async def fetch(url: str, **headers: str) -> tuple[int, str, CIMultiDict[str]]:
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as got:
        body = await got.read()
        return got.status, body.decode(errors="replace"), CIMultiDict(got.headers)


@pytest.mark.web_site
async def test_second_board_comes_from_the_cache(services, simulated, board_calls) -> None:
    async with demo_site(services, simulated) as site:
        first = await fetch(f"{site.url}/week")
        second = await fetch(f"{site.url}/week")
        assert first[0] == second[0] == 200 and first[1] == second[1]
        assert len(board_calls) == 1
        week = Week.containing(utcnow(), services.rules.timezone)
        # The picture is drawn from the same cached board.
        status, _, headers = await fetch(f"{site.url}/week/{week.label}.png")
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert len(board_calls) == 1


@pytest.mark.web_site
async def test_a_check_of_the_week_drops_it(services, simulated, board_calls) -> None:
    async with demo_site(services, simulated) as site:
        week = Week.containing(utcnow(), services.rules.timezone)
        _, _, before = await fetch(f"{site.url}/week")
        assert len(board_calls) == 1
        await services.checks.week(week.previous())  # another week: this one stays
        await fetch(f"{site.url}/week")
        assert len(board_calls) == 1
        await services.checks.week(week)
        status, _, _ = await fetch(f"{site.url}/week", **{"If-None-Match": before["ETag"]})
        assert len(board_calls) == 2
        assert status in (200, 304)  # 304 only when the check changed nothing shown


@pytest.mark.web_site
async def test_etag_and_last_modified_give_304(services, simulated, board_calls) -> None:
    async with demo_site(services, simulated) as site:
        status, html, headers = await fetch(f"{site.url}/week")
        assert status == 200 and headers["ETag"].startswith('W/"')
        assert headers["Cache-Control"] == "no-cache" and "Last-Modified" in headers
        status, body, again = await fetch(f"{site.url}/week",
                                          **{"If-None-Match": headers["ETag"]})
        assert status == 304 and body == "" and again["ETag"] == headers["ETag"]
        status, _, _ = await fetch(f"{site.url}/week",
                                   **{"If-Modified-Since": headers["Last-Modified"]})
        assert status == 304
        status, body, _ = await fetch(f"{site.url}/week", **{"If-None-Match": 'W/"other"'})
        assert status == 200 and body == html
        status, _, _ = await fetch(f"{site.url}/week",
                                   **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
        assert status == 200
        week = Week.containing(utcnow(), services.rules.timezone)
        _, _, picture = await fetch(f"{site.url}/week/{week.label}.png")
        status, _, _ = await fetch(f"{site.url}/week/{week.label}.png",
                                   **{"If-None-Match": picture["ETag"]})
        assert status == 304


@pytest.mark.web_site
async def test_concurrent_misses_compute_once(services, simulated, board_calls) -> None:
    async with demo_site(services, simulated) as site:
        answers = await asyncio.gather(*(fetch(f"{site.url}/week") for _ in range(20)))
        assert {status for status, _, _ in answers} == {200}
        assert len({html for _, html, _ in answers}) == 1
        assert len(board_calls) == 1


@pytest.mark.web_site
async def test_each_language_is_its_own_entry(services, simulated, board_calls) -> None:
    async with demo_site(services, simulated) as site:
        _, korean, ko = await fetch(f"{site.url}/week")
        status, english, en = await fetch(f"{site.url}/week?lang=en",
                                          **{"If-None-Match": ko["ETag"]})
        assert status == 200 and "6 members" in english and english != korean
        assert en["ETag"] != ko["ETag"]
        assert len(board_calls) == 1  # the board itself is the same for both
        status, again, _ = await fetch(f"{site.url}/week")
        assert status == 200 and again == korean


async def test_entries_expire_and_a_failure_is_not_kept() -> None:
    now = [0.0]
    versions = WeekVersions()
    cache = BoardCache(versions, seconds=30, monotonic=lambda: now[0])
    week = date(2026, 11, 30)
    made: list[int] = []

    async def compute() -> str:
        made.append(1)
        return f"board {len(made)}"

    assert (await cache.get("k", week, compute)).value == "board 1"
    now[0] = 29
    assert (await cache.get("k", week, compute)).value == "board 1"
    now[0] = 30
    again = await cache.get("k", week, compute)
    assert again.value == "board 2"
    versions.bump(week)
    assert (await cache.get("k", week, compute)).value == "board 3"

    async def broken() -> str:
        raise RuntimeError("database down")

    versions.bump(week)
    with pytest.raises(RuntimeError):
        await cache.get("k", week, broken)
    assert (await cache.get("k", week, compute)).value == "board 4"
