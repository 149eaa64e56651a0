"""/healthz over HTTP: ok or not to anyone, the details to the operator (HEALTHZ_TOKEN,
or a request from this machine that did not come through a proxy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from unittest.mock import Mock

import aiohttp
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.web import build_web_app, operator
from tests.support.web_site import free_port

TOKEN = "s3cret-health-token"
PROXIED = {"X-Forwarded-For": "203.0.113.5"}


async def scheduler() -> tuple[str, bool, str]:
    return "scheduler", True, "running (leader)"


async def helpers() -> tuple[str, bool, str]:
    return "helpers", True, "2 of 3 can read"


async def broken() -> tuple[str, bool, str]:
    return "database", False, "OperationalError"


@asynccontextmanager
async def health_app(checks, token: str = TOKEN) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    port = free_port()
    runner = web.AppRunner(build_web_app(checks, token), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/healthz"
    finally:
        await runner.cleanup()


async def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as client, \
            client.get(url, headers=headers or {}) as response:
        return response.status, await response.json()


async def test_the_public_sees_ok_only_the_operator_sees_the_details() -> None:
    async with health_app([scheduler, helpers]) as url:
        # Through a proxy (any visitor from outside): ok, nothing more.
        assert await fetch(url, PROXIED) == (200, {"status": "ok"})
        assert await fetch(url, {**PROXIED, "Authorization": "Bearer wrong"}) == \
            (200, {"status": "ok"})
        assert await fetch(f"{url}?token=wrong", PROXIED) == (200, {"status": "ok"})
        details = {"status": "ok", "scheduler": "running (leader)",
                   "helpers": "2 of 3 can read"}
        # The token, either way, even through the proxy.
        assert await fetch(url, {**PROXIED, "Authorization": f"Bearer {TOKEN}"}) == \
            (200, details)
        assert await fetch(f"{url}?token={TOKEN}", PROXIED) == (200, details)
        # This machine itself, straight to the app.
        assert await fetch(url) == (200, details)


async def test_not_ok_is_told_to_anyone_without_why() -> None:
    async with health_app([broken, scheduler]) as url:
        assert await fetch(url, PROXIED) == (503, {"status": "unhealthy"})
        status, body = await fetch(url)
        assert status == 503 and body["database"] == "OperationalError"


def _request(remote: str, headers: dict[str, str] | None = None, path: str = "/healthz"
             ) -> web.Request:
    transport = Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: \
        (remote, 40000) if name == "peername" else default
    return make_mocked_request("GET", path, headers=headers or {}, transport=transport)


def test_a_client_from_elsewhere_needs_the_token() -> None:
    assert not operator(_request("203.0.113.9"), TOKEN)
    assert not operator(_request("203.0.113.9"), "")  # no token set: never from outside
    assert not operator(_request("203.0.113.9", {"Authorization": "Bearer "}), "")
    assert operator(_request("203.0.113.9", {"Authorization": f"Bearer {TOKEN}"}), TOKEN)
    assert operator(_request("203.0.113.9", path=f"/healthz?token={TOKEN}"), TOKEN)
    assert operator(_request("127.0.0.1"), "") and operator(_request("::1"), "")
