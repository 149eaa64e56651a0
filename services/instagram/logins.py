"""One Instagram login for every chat flow that takes a password (a helper an admin adds,
a producer lending their account, the unfollow check with login, `/checkhelper`).

The rules live here once: Instagram is asked outside any transaction (`attempt`,
`attempt_code`); what it said is judged inside the person's next one (`judge`): three
tries for a password and for a code, wrong passwords counted against the daily limits
(services/operations/throttle.py), and a login that waits for a 2FA or e-mail code kept as a
`WaitingLogin`. The flows decide what to store and what to say.

A waiting login goes into the conversation state only sealed (services/conversations.seal):
the password and what the gateway needs to send the code from any process (instagrapi's
client settings). So a producer's code that reaches another bot instance, or comes after
a restart, still logs in. An e-mail/SMS challenge cannot move (instagrapi waits for its
code in a thread of the process that got the password): there another instance answers
"start again" (`LoginLost`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from services.conversations import seal, unseal
from services.instagram.errors import (
    CheckpointRequired,
    InstagramError,
    TwoFactorRequired,
)
from services.instagram.gateway import LoginResult, Session
from services.instagram.runtime import Instagram
from services.operations.throttle import LoginThrottle

TRIES = 3  # wrong passwords, and wrong codes, before a login flow gives up
Answer = LoginResult | InstagramError  # what Instagram said to a password or a code


@dataclass(frozen=True)
class WaitingLogin:
    """A login waiting for its code: the password (a producer's is stored once the code
    is accepted) and the gateway's `resume` (None: only the process that asked can go on).
    Kept out of reprs; in the database only as `seal()` gives it."""

    password: str = field(repr=False)
    resume: Session | None = field(default=None, repr=False)

    def seal(self) -> str | None:
        """Encrypted for the conversation state (None: no ENCRYPTION_KEYS, so nothing of
        it is kept and only this process's waiting login can take the code)."""
        return seal(json.dumps({"password": self.password, "resume": self.resume}))

    @classmethod
    def unseal(cls, sealed: object) -> WaitingLogin | None:
        """The waiting login a conversation holds (None: none, or it cannot be read)."""
        plain = unseal(sealed)
        if plain is None:
            return None
        try:
            data = json.loads(plain)
        except ValueError:
            return None
        return cls(str(data.get("password") or ""), data.get("resume"))


@dataclass(frozen=True)
class Credentials:
    """A username and the password for it, on their way to Instagram and back to the
    flow (the password kept out of reprs: the deferred work that holds it may be shown
    in a log)."""

    username: str
    password: str = field(repr=False)


async def attempt(instagram: Instagram, credentials: Credentials) -> Answer:
    """Ask Instagram with a password (never inside a transaction)."""
    try:
        return await instagram.gateway.login(credentials.username, credentials.password)
    except InstagramError as exc:
        return exc


async def attempt_code(instagram: Instagram, username: str, code: str,
                       waiting: WaitingLogin | None) -> Answer:
    """Send the 2FA / challenge code (never inside a transaction), to the login waiting in
    this process or else to the one `waiting` describes."""
    try:
        return await instagram.gateway.submit_code(
            username, "".join(code.split()), waiting.resume if waiting else None)
    except InstagramError as exc:
        return exc


def needs_code(answer: Answer) -> bool:
    """Instagram asked for a code that can be sent from chat."""
    return isinstance(answer, TwoFactorRequired) or (
        isinstance(answer, CheckpointRequired) and answer.needs_code)


def waiting_after(answer: Answer, password: str) -> WaitingLogin | None:
    """The waiting login a code step continues (None: no code was asked for)."""
    if not needs_code(answer):
        return None
    return WaitingLogin(password, getattr(answer, "resume", None))


@dataclass(frozen=True)
class Verdict:
    """What a flow does next with an answer: "ready" (logged in: `result`), "code" (ask
    for it; `waiting` sealed for the state), "again" (ask again, `tries` so far, `left`),
    or "over" (`error` says why: wrong too often, a challenge for the app, Instagram)."""

    kind: str
    tries: int = 0
    error: InstagramError | None = None
    result: LoginResult | None = None
    waiting: str | None = field(default=None, repr=False)

    @property
    def left(self) -> int:
        return TRIES - self.tries


class LoginRules:
    """The rules every login flow shares, judged inside the person's transaction."""

    def __init__(self, throttle: LoginThrottle) -> None:
        self.throttle = throttle

    async def judge(self, actor_id: int, username: str, answer: Answer, *, own: bool,
                    tries: int, password: str = "") -> Verdict:
        """A wrong password counts toward the daily limits; a wrong password or code
        asks again up to TRIES times (while the limits allow); a code asked for makes a
        waiting login, sealed with `password`."""
        if isinstance(answer, LoginResult):
            return Verdict("ready", tries, result=answer)
        waiting = waiting_after(answer, password)
        if waiting is not None:
            return Verdict("code", 0, error=answer, waiting=waiting.seal())
        if answer.code in ("bad_credentials", "bad_2fa"):
            if answer.code == "bad_credentials":
                await self.throttle.failed(actor_id, username, own=own)
            tries += 1
            if tries < TRIES and not await self.throttle.throttled(actor_id, username,
                                                                   own=own):
                return Verdict("again", tries, error=answer)
        return Verdict("over", tries, error=answer)
