"""Helper Instagram accounts: registered by admins, logged in from chat, read with by the pool.

A helper's password and session are stored encrypted, once Instagram accepted the
password, asked for a code, or could not be reached (a wrong one is never kept). The
login itself, and its code step, are services/instagram/logins.py's. States, as
`/helpers` shows them: "new" (stored, never logged in), "needs_code" (waits for the
code), "ready", "cooling" (rate-limited until `cooldown_until`), "checkpoint" (Instagram
wants it confirmed in the app), "expired" (the session was lost: /checkhelper logs in
again with the stored password).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.errors import (
    CheckpointRequired,
    InstagramError,
    SessionExpired,
    TwoFactorRequired,
)
from services.instagram.gateway import LoginResult
from services.instagram.helper_queries import HelperRepo
from services.instagram.logins import Credentials, attempt
from services.instagram.pool import COOLING_CODES
from services.instagram.runtime import Instagram
from services.operations.audit import AuditRepo
from storage import crypto
from storage.models import Helper

READY_STATES = ("ready", "cooling")


def secrets_storable() -> bool:
    """Whether passwords and sessions can be stored (ENCRYPTION_KEYS is set): asked
    before anyone types a password, not after Instagram has been asked."""
    return crypto.configured()


@dataclass(frozen=True)
class HelperView:
    username: str
    status: str
    cooling_until: datetime | None
    last_used: datetime | None
    failures: int
    last_error: str | None


@dataclass(frozen=True)
class CheckPlan:
    """A helper's stored session and password, read for a check (kept out of reprs)."""

    username: str
    session: dict | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProbeResult:
    """A check on Instagram: the session still works (`restored`), or the login that
    was tried with the stored password (None: none was tried)."""

    restored: bool
    login: LoginResult | InstagramError | None = None


async def probe(instagram: Instagram, plan: CheckPlan) -> ProbeResult | InstagramError:
    """Restore the stored session with one cheap read; log in again with the stored
    password when the session is gone."""
    if plan.session:
        try:
            await instagram.gateway.restore(plan.session)
        except SessionExpired:
            pass  # log in again below
        except InstagramError as exc:
            return exc
        else:
            return ProbeResult(restored=True)
    if not plan.password:
        return ProbeResult(restored=False)
    return ProbeResult(restored=False, login=await attempt(
        instagram, Credentials(plan.username, plan.password)))


@dataclass(frozen=True)
class LoginOutcome:
    """"ready", "logged_in" (a check had to log in again), "needs_code" (ask for the
    code), "checkpoint" (confirm in the app), or an InstagramError code."""

    status: str
    error: InstagramError | None = None


class HelperAccountService:
    def __init__(self, session: AsyncSession, instagram: Instagram) -> None:
        self.helpers = HelperRepo(session)
        self.audit = AuditRepo(session)
        self.instagram = instagram

    @property
    def _ig(self) -> Instagram:
        return self.instagram

    async def exists(self, username: str) -> bool:
        return await self.helpers.by_username(username) is not None

    async def record_login(self, actor_id: int, username: str, password: str,
                           result: LoginResult | InstagramError) -> LoginOutcome:
        """What Instagram said to a helper's password (asked outside any transaction,
        services/instagram_login.attempt). The account is stored (password encrypted)
        unless Instagram said the password is wrong; a wrong one is never kept."""
        if isinstance(result, TwoFactorRequired | CheckpointRequired):
            needs_code = isinstance(result, TwoFactorRequired) or result.needs_code  # type: ignore[union-attr]
            status = "needs_code" if needs_code else "checkpoint"
            await self._store(actor_id, username, password, status=status, error=result)
            return LoginOutcome(status, result)
        if isinstance(result, InstagramError):
            if result.code in {"bad_credentials", "not_found"}:
                return LoginOutcome(result.code, result)
            await self._store(actor_id, username, password, status="new", error=result)
            return LoginOutcome(result.code, result)
        await self._store(actor_id, username, password, status="ready", session=result.session,
                          pk=result.pk)
        await self.load_pool()  # reads (a link's author at submission) may use it at once
        return LoginOutcome("ready")

    async def record_code(self, username: str, result: LoginResult | InstagramError
                          ) -> LoginOutcome:
        helper = await self.helpers.by_username(username)
        if helper is None:
            return LoginOutcome("not_found")
        if isinstance(result, InstagramError):
            helper.last_error = result.code
            return LoginOutcome(result.code, result)
        self._ready(helper, result.session, result.pk)
        await self.load_pool()
        return LoginOutcome("ready")

    async def check_plan(self, actor_id: int, username: str) -> CheckPlan | LoginOutcome:
        """What a check of this helper will try (its session, then its password)."""
        helper = await self.helpers.by_username(username)
        if helper is None:
            return LoginOutcome("unknown_helper")
        await self.audit.add(actor_id, "helper_checked", target=username)
        return CheckPlan(username, helper.session, helper.password)

    async def record_check(self, actor_id: int, plan: CheckPlan,
                           result: ProbeResult | InstagramError) -> LoginOutcome:
        helper = await self.helpers.by_username(plan.username)
        if helper is None:
            return LoginOutcome("unknown_helper")
        if isinstance(result, InstagramError):  # the session read failed, not a login
            self._failed(helper, result)
            return LoginOutcome(result.code, result)
        if result.login is None:
            if result.restored:
                self._ready(helper, helper.session or {})
                return LoginOutcome("ready")
            return LoginOutcome("session_expired", SessionExpired())
        outcome = await self.record_login(actor_id, plan.username, plan.password or "",
                                          result.login)
        if outcome.status == "bad_credentials":  # the password was changed on Instagram
            helper.status, helper.last_error = "expired", outcome.status
        return LoginOutcome("logged_in") if outcome.status == "ready" else outcome

    async def delete(self, actor_id: int, username: str) -> bool:
        helper = await self.helpers.by_username(username)
        if helper is None:
            return False
        await self.helpers.delete(helper)
        await self.audit.add(actor_id, "helper_deleted", target=username)
        self.instagram.pool.remove(username)
        return True

    async def list(self) -> list[HelperView]:
        return [
            HelperView(h.instagram_username, h.status, h.cooldown_until, h.last_used_at,
                       h.failures, h.last_error)
            for h in await self.helpers.list()
        ]

    async def counts(self) -> tuple[int, int]:
        """(helpers registered, helpers that can read now or after a rest)."""
        helpers = await self.helpers.list()
        return len(helpers), sum(1 for h in helpers if h.status in READY_STATES and h.session)

    # --- the pool, mirrored to the table -------------------------------------------------

    async def load_pool(self) -> int:
        """Put every helper that can read into the pool; returns how many."""
        usable = {
            h.instagram_username: (h.session, _seconds(h.cooldown_until))
            for h in await self.helpers.list()
            if h.status in READY_STATES and h.session
        }
        self._ig.sync(usable)
        return self._ig.pool.usable()

    async def save_pool(self) -> None:
        """Write the pool's view of each helper back: status, cooldown, use, failures."""
        pool = self._ig.pool
        for helper in await self.helpers.list():
            live = pool.helpers.get(helper.instagram_username)
            if live is None or helper.status not in READY_STATES:
                continue
            cooling = live.status == "cooling" and live.cooldown_until > pool.clock()
            helper.status = live.status if live.out else ("cooling" if cooling else "ready")
            helper.cooldown_until = _moment(live.cooldown_until) if cooling else None
            if cooling and live.cooling_kind:  # /helpers and /healthz say which rest it is
                helper.last_error = COOLING_CODES.get(live.cooling_kind, "rate_limited")
            if live.last_used:
                helper.last_used_at = _moment(live.last_used)
            helper.failures = live.failures
            if live.out:
                helper.last_error = "challenge" if live.status == "checkpoint" \
                    else "session_expired"

    # --- internals -----------------------------------------------------------------------

    async def _store(self, actor_id: int, username: str, password: str, *, status: str,
                     session: dict | None = None, error: InstagramError | None = None,
                     pk: str | None = None) -> None:
        helper = await self.helpers.by_username(username)
        if helper is None:
            helper = await self.helpers.add(username, password)
            await self.audit.add(actor_id, "helper_added", target=username)
        helper.password = password
        if session is not None:
            self._ready(helper, session, pk)
        else:
            helper.status = status
            helper.last_error = error.code if error else None

    @staticmethod
    def _ready(helper: Helper, session: dict, pk: str | None = None) -> None:
        """A login (or a restored session) works; a login's pk is the account's id."""
        helper.session, helper.status = session, "ready"
        if pk is not None:
            helper.instagram_pk = pk
        helper.cooldown_until, helper.failures, helper.last_error = None, 0, None

    @staticmethod
    def _failed(helper: Helper, error: InstagramError) -> None:
        helper.failures += 1
        helper.last_error = error.code
        if isinstance(error, CheckpointRequired):
            helper.status = "checkpoint"


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
