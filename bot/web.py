"""The one aiohttp web app: Telegram webhook, Kakao skill endpoint, and /healthz."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from ipaddress import ip_address

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from sqlalchemy import text

from services.container import Services
from services.instagram.helper_accounts import HelperAccountService

# A health check answers (name, ok, detail).
HealthCheck = Callable[[], Awaitable[tuple[str, bool, str]]]


def database_check(services: Services) -> HealthCheck:
    async def check() -> tuple[str, bool, str]:
        try:
            async with services.reading() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means unhealthy; say which
            return "database", False, type(exc).__name__
        return "database", True, "ok"

    return check


def errors_check(services: Services) -> HealthCheck:
    """Faults that were not a user's mistake since start, and the last one (they never
    make the bot unhealthy: it answers on; the admins' chat heard of them)."""

    async def check() -> tuple[str, bool, str]:
        return "errors", True, services.faults.summary()

    return check


def helpers_check(services: Services) -> HealthCheck:
    """Says when no helper account can read: the weekly check cannot run without one
    (the bot itself is healthy, so this never fails the health check)."""

    async def check() -> tuple[str, bool, str]:
        async with services.reading() as session:
            helpers = HelperAccountService(session, services.instagram)
            registered, usable = await helpers.counts()
            views = await helpers.list()
        now = datetime.now(UTC)
        cooling = "".join(
            f"; {h.username} cooling until {_utc(h.cooling_until):%Y-%m-%d %H:%M}Z "
            f"({h.last_error or 'rate_limited'})"
            for h in views if h.status == "cooling" and h.cooling_until is not None
            and _utc(h.cooling_until) > now)
        if registered == 0:
            return "helpers", True, ("none registered: the weekly check cannot run until "
                                     "an admin adds one with /addhelper")
        if usable == 0:
            return "helpers", True, (f"{registered} registered, none can read: the weekly "
                                     f"check cannot run (see /helpers){cooling}")
        return "helpers", True, f"{usable} of {registered} can read{cooling}"

    return check


async def read_body(request: web.Request) -> bytes | web.Response:
    """The body of a chat platform's call (Telegram's webhook, Kakao's skill), or the
    answer to one that cannot be read: too large, or an encoding that does not decode."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": "body too large"}, status=413)
    except RequestPayloadError:
        refused = web.json_response({"error": "malformed body"}, status=400)
        refused.force_close()  # the rest of the body cannot be read either
        return refused


def _utc(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without a zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def operator(request: web.Request, token: str) -> bool:
    """Whether /healthz may tell this request its details: it carries HEALTHZ_TOKEN
    (`Authorization: Bearer <token>` or `?token=`), or it comes from this machine and not
    through a proxy (a reverse proxy on the same machine makes every visitor loopback; it
    adds a forwarding header, so those requests stay public)."""
    if token:
        given = request.headers.get("Authorization", "")
        given = given[7:] if given[:7].lower() == "bearer " else request.query.get("token", "")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    if any(header in request.headers for header in ("X-Forwarded-For", "Forwarded",
                                                     "X-Real-IP")):
        return False
    try:
        return ip_address(request.remote or "").is_loopback
    except ValueError:  # a Unix socket or no address: not known to be this machine
        return False


def build_web_app(checks: list[HealthCheck], healthz_token: str = "") -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)

    async def healthz(request: web.Request) -> web.Response:
        """ok or not to anyone; the checks' details (database, scheduler role, helpers)
        only to the operator (see `operator`)."""
        results = [await check() for check in checks]
        healthy = all(ok for _, ok, _ in results)
        body = {"status": "ok" if healthy else "unhealthy"}
        if operator(request, healthz_token):
            body.update({name: detail for name, _, detail in results})
        return web.json_response(body, status=200 if healthy else 503,
                                 headers={"Cache-Control": "no-store"})

    app.router.add_get("/healthz", healthz)
    return app
