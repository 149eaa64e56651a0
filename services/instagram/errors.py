"""The product's own Instagram errors; every library exception maps to exactly one.

Each carries a `code`, which keys a user message and an admin message in both languages
(handlers/messages: `ig.user.<code>`, `ig.admin.<code>`). None ever holds a password,
a cookie or a session value.
"""

from __future__ import annotations


class InstagramError(Exception):
    code = "transient"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        # The helper account whose read this was (set by the pool), so a "not found"
        # can be confirmed by another one; `also_by`: another helper that gave the same
        # answer just before.
        self.helper: str | None = None
        self.also_by: str | None = None


class BadCredentials(InstagramError):
    code = "bad_credentials"


class TwoFactorRequired(InstagramError):
    """Instagram wants the 6-digit code from the app or an SMS. `resume`: what the
    gateway needs to send the code from any process (a secret: stored only encrypted)."""

    code = "need_2fa"

    def __init__(self, detail: str = "", *, resume: dict | None = None) -> None:
        super().__init__(detail)
        self.resume = resume


class BadCode(InstagramError):
    code = "bad_2fa"


class LoginLost(InstagramError):
    """A code came for a login nobody can continue here (an e-mail/SMS challenge that
    waits in another instance's thread, or a login that expired): the person starts
    again."""

    code = "login_lost"


class CheckpointRequired(InstagramError):
    """"Confirm it was you": in the Instagram app, or with a code sent by e-mail/SMS."""

    code = "challenge"

    def __init__(self, detail: str = "", *, needs_code: bool = False,
                 resume: dict | None = None) -> None:
        super().__init__(detail)
        self.needs_code = needs_code
        self.resume = resume  # as TwoFactorRequired's (None: only this process can go on)


class SessionExpired(InstagramError):
    code = "session_expired"


# The kinds of "slow down" Instagram answers, told apart by their body: each is cooled
# its own way by the helper pool (services/instagram/pool.py, the README's table).
THROTTLE = "throttle"  # a bare 429 (ClientThrottledError): a minute, doubling
PLEASE_WAIT = "please_wait"  # "Please wait a few minutes": 15 minutes, doubling, sticky


class RateLimited(InstagramError):
    """Instagram asked this account to slow down; `kind` says which answer it was and
    `retry_after` is the least rest it asked for (0: none said)."""

    code = "rate_limited"

    def __init__(self, detail: str = "", *, retry_after: float = 0.0,
                 kind: str = PLEASE_WAIT) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.kind = kind


class ActionBlocked(InstagramError):
    """A write was refused for a while (feedback_required)."""

    code = "action_blocked"

    def __init__(self, detail: str = "", *, retry_after: float = 12 * 3600.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotFound(InstagramError):
    code = "not_found"


class PrivateProfile(InstagramError):
    code = "private"


class NetworkError(InstagramError):
    code = "transient"


class NoHelperAvailable(InstagramError):
    """Every helper account is cooling down, checkpointed, busy past the wait, or spent."""

    code = "no_helper"

    def __init__(self, detail: str = "", *, ready_at: float | None = None) -> None:
        super().__init__(detail)
        self.ready_at = ready_at


class AllowanceSpent(NoHelperAvailable):
    """The run's own allowance of requests (a member's "check now") is used up: the
    request was not sent, and the run stops as when no helper is free."""


class HelperSpent(Exception):
    """Admitting one more request would take this helper past its hourly limit (for the
    call's share): the request was not sent. Only a signal between a gateway and the
    helper pool, which moves the work to the next helper; never shown to anyone."""

    def __init__(self, helper: str) -> None:
        super().__init__(helper)
        self.helper = helper
