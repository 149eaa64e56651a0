"""The container's late-bound edges: the way out to people, finishing a week, and
telling what a check found.

The service container (services/container.py) is built once and never changes, but three
of its members can only be completed after it exists:

- the delivery to people needs the transports (Telegram, KakaoTalk, the console), and
  each transport needs the dispatcher, which needs the container;
- finishing a week the way the final check does is a job (jobs/weekly_loop.py), and the jobs
  are built on the container too;
- what a check found that people must hear (gone posts, renames, a paused check) is told
  by those jobs as well.

So the container holds an `Outbound`, a `WeekFinisher` and a `CheckAftermath` from the
start, never None, and the composition root (bot/app.py, bot/console.py, after
bot/wiring.py built the container) or the jobs it starts connect them to what the mode
has. Until then, and in a mode without it, each one says so: the outbound logs every
message it could not deliver (with the catalog key or the English text, never dropped in
silence), the finisher reports that it is not connected, and a check's news is told only
where the weekly jobs run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from services.messaging.notifier import Delivered, Delivery, Say, SayButtons, Words
from services.week.calendar import Week

if TYPE_CHECKING:
    from services.verification.verifier import RunReport

T = TypeVar("T")
log = logging.getLogger(__name__)


def _gist(what: Say) -> str:
    """What a message says, for the log: a job's message by name, a rendered one in English."""
    if isinstance(what, Words):
        return f"{what.name}{what.args or ''}"
    try:
        return what("en")
    except Exception:  # a render that needs more than a language: its name is enough
        return getattr(what, "__qualname__", repr(what))


class Unconnected:
    """The delivery of a mode with no chat to deliver to: says in the log what it could
    not deliver (nobody is reached), so no message disappears without a trace."""

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        for member_id, what in texts.items():
            log.warning("no chat is connected: not delivered to member %s: %s", member_id,
                        _gist(what))
        return Delivered(unreachable=list(texts))

    async def to_groups(self, render: Say, start_for: list[str] | None = None,
                        picture: Week | None = None) -> int:
        log.warning("no chat is connected: not posted to the groups: %s", _gist(render))
        return 0

    async def to_admins(self, render: Say, buttons: SayButtons | None = None) -> None:
        log.warning("no chat is connected: not delivered to the admins: %s", _gist(render))

    async def to_account(self, platform: str, user_id: str, text: str) -> bool:
        log.warning("no chat is connected: not delivered to %s %s", platform, user_id)
        return False


class Outbound:
    """How services, handlers and jobs reach people: a Delivery that forwards to the
    one the composition root connects (bot/delivery.py over the mode's transports)."""

    def __init__(self) -> None:
        self._to: Delivery = Unconnected()

    @property
    def connected(self) -> bool:
        return not isinstance(self._to, Unconnected)

    def connect(self, delivery: Delivery) -> None:
        """At start-up, once the transports exist (a test harness connects its own)."""
        self._to = delivery

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        return await self._to.to_members(texts)

    async def to_groups(self, render: Say, start_for: list[str] | None = None,
                        picture: Week | None = None) -> int:
        return await self._to.to_groups(render, start_for, picture)

    async def to_admins(self, render: Say, buttons: SayButtons | None = None) -> None:
        await self._to.to_admins(render, buttons)

    async def to_account(self, platform: str, user_id: str, text: str) -> bool:
        return await self._to.to_account(platform, user_id, text)

    async def alert(self, key: str, **values: object) -> None:
        """For services (the helper pool): a catalog message to every admin."""
        log.info("admin alert %s", key)
        await self._to.to_admins(Words("text", (key,), values))


class _LateLink(Generic[T]):
    """A callable connected once, after the container exists (None until then)."""

    def __init__(self) -> None:
        self._target: T | None = None

    @property
    def connected(self) -> bool:
        return self._target is not None

    def connect(self, target: T) -> None:
        self._target = target


class WeekFinisher(_LateLink[Callable[[Week], Awaitable[bool]]]):
    """Finishes a finished week's record and sends its results, as the final check does
    (an admin's /verify of a week whose final check did not finish). Connected to the
    weekly jobs where they run (`autogram run`); elsewhere (the console) it is not, and
    /verify checks the current week only."""

    async def __call__(self, week: Week) -> bool:
        """False: that week's final check is going on now or is already done (or no
        weekly jobs run here: it is logged)."""
        if self._target is None:
            log.warning("the weekly jobs do not run here: %s is not finished", week.label)
            return False
        return await self._target(week)


class CheckAftermath(_LateLink[Callable[["RunReport"], Awaitable[None]]]):
    """What follows a check that found news (gone posts, posts by someone else, renames,
    a paused check): told by the weekly jobs where they run (`autogram run` connects
    them, jobs/weekly_loop.py); elsewhere (the console, a script) nothing is told."""

    async def __call__(self, report: RunReport) -> None:
        if self._target is not None:
            await self._target(report)
