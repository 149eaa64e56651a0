"""The service container, built once per process (bot/wiring.py), and the transaction
that binds every service to one unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.accountability.ladder import Accountability
from services.automation.registrations import ProducerRegistry
from services.community import CommunityService
from services.conversations import ConversationService
from services.instagram.absent import no_instagram
from services.instagram.helper_accounts import HelperAccountService
from services.instagram.runtime import Instagram
from services.members.admin_claim import AdminService
from services.members.chat_accounts import AccountService
from services.members.invites import InviteService
from services.members.roster import MemberAdminService
from services.messaging.outbound import CheckAftermath, Outbound, WeekFinisher
from services.messaging.outbox import OutboxRepo
from services.messaging.update_log import UpdateLog
from services.open_chat.importer import OpenChatImporter
from services.operations.audit import AuditRepo
from services.operations.chat_first import ChatFirst
from services.operations.faults import Faults, NotReported
from services.operations.throttle import LoginThrottle
from services.rules import CommunityRules
from services.transactions import alone
from services.unfollow.answer import RunningChecks, UnfollowService
from services.verification.check_runs import CHECK_NOW_ALLOWANCE, Checks
from services.web.board import BoardService
from services.web.board_cache import WeekVersions
from services.web.links import NoWebLinks, WebLinks
from services.week.progress import ProgressService
from services.week.record import WeekRecords
from services.week.submissions import SubmissionService
from storage.db import begin_reading, end_reading
from storage.models import utcnow

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CheckSettings:
    """How the weekly checks read, from the settings (bot/wiring.py)."""

    cache_seconds: float = 600.0
    check_now_every: timedelta = timedelta(minutes=10)
    check_now_allowance: int = CHECK_NOW_ALLOWANCE
    # The daily refresh's "HH:MM" slots: a "check now" cut short says which reads the rest.
    refresh_times: tuple[str, ...] = ("21:00",)


class Tx:
    """The services of one unit of work; they share one session and commit together."""

    def __init__(self, session: AsyncSession, rules: CommunityRules, clock: Clock,
                 instagram: Instagram, checks: Checks) -> None:
        self.session = session
        # Process-wide, not bound to this transaction: handlers hand it to deferred work.
        self.checks = checks
        self.rules = rules
        self.now = clock
        self.accounts = AccountService(session)
        self.accountability = Accountability(session, rules)
        self.admins = AdminService(session)
        self.conversations = ConversationService(session, rules.conversation_timeout, clock)
        self.helpers = HelperAccountService(session, instagram)
        self.invites = InviteService(session)
        self.submissions = SubmissionService(session, rules)
        self.progress = ProgressService(session, rules)
        self.board = BoardService(session, rules)
        self.records = WeekRecords(session, rules)
        self.members = MemberAdminService(session, clock)
        self.community = CommunityService(session)
        self.open_chat = OpenChatImporter(session, rules)
        self.unfollow = UnfollowService(session)
        self.producers = ProducerRegistry(session)
        self.audit = AuditRepo(session)
        self.logins = LoginThrottle(session, clock)
        self.outbox = OutboxRepo(session, clock)
        self.updates = UpdateLog(session)


@dataclass(frozen=True, eq=False)
class Services:
    """The process's services, built once (bot/wiring.py) and never patched: what a mode
    lacks is a null object that says so (no web links, no chat connected yet, faults not
    counted), never None. Its late-bound edges (the delivery, finishing a week, a check's
    news) are explained in services/messaging/outbound.py. A container built without
    Instagram (a script, a test that reads nothing) has `no_instagram()`: its checks find
    no helper and say so."""

    sessions: async_sessionmaker[AsyncSession]
    rules: CommunityRules
    # Injectable, so tests can stand on a week boundary.
    clock: Clock = utcnow
    serialize: bool = False
    # The process's Instagram gateway and helper pool (no_instagram(): none in this
    # process, so no helper can read and every check says so).
    instagram: Instagram = field(default_factory=no_instagram)
    # Links to the web pages (NoWebLinks: the web pages' address is not set up).
    web: WebLinks = field(default_factory=NoWebLinks)
    # How deferred work and jobs reach other people (connected once the transports exist).
    delivery: Outbound = field(default_factory=Outbound)
    # Finishes a finished week's record and sends its results, as the final check does
    # (connected to the weekly jobs; an admin's /verify of an unfinished week uses it).
    finish_week: WeekFinisher = field(default_factory=WeekFinisher)
    # What follows a check that found news, told by the weekly jobs (connected by them).
    after_checks: CheckAftermath = field(default_factory=CheckAftermath)
    # Faults that are not a user's mistake: counted and told to the admins (bot layer).
    faults: Faults = field(default_factory=NotReported)
    # How the process's weekly checks read.
    check_settings: CheckSettings = field(default_factory=CheckSettings)
    # Derived from the above, once.
    engine: AsyncEngine = field(init=False)
    week_versions: WeekVersions = field(init=False)
    chat_first: ChatFirst = field(init=False)
    checks: Checks = field(init=False)
    unfollow_checks: RunningChecks = field(init=False)
    _one_writer: asyncio.Lock | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        derive = partial(object.__setattr__, self)
        # The engine itself, for what needs a connection of its own (the leader lock).
        derive("engine", self.sessions.kw["bind"])
        # SQLite has one writer at a time: queueing here, in order, beats SQLite's busy
        # handler, which sleeps in growing steps (up to 100 ms) while it waits for the lock.
        derive("_one_writer", asyncio.Lock() if self.serialize else None)
        # Each week's version, bumped by every check of it (the web board's cache reads it).
        derive("week_versions", WeekVersions())
        # The chat events in flight (the dispatcher marks them): the checks give way.
        derive("chat_first", ChatFirst())
        tuned = self.check_settings
        derive("checks", Checks(self.sessions, self.rules, self.instagram,
                                write_lock=self._one_writer, clock=self.clock,
                                versions=self.week_versions, cache_seconds=tuned.cache_seconds,
                                check_now_every=tuned.check_now_every,
                                check_now_allowance=tuned.check_now_allowance,
                                refresh_times=tuned.refresh_times,
                                aftermath=self.after_checks, chat_first=self.chat_first))
        # Unfollow checks with login running now, so /cancel can stop one.
        derive("unfollow_checks", RunningChecks())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Commit when the block ends, roll back if it raises. Never nested in another of
        the same task (services.transactions checks it): on SQLite the second would wait
        for the first forever."""
        with alone("write"):
            async with self._one_writer or nullcontext(), self.sessions() as session, \
                    session.begin():
                yield Tx(session, self.rules, self.clock, self.instagram, self.checks)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction for what only reads (the web pages, /healthz): one
        snapshot, never the writers' queue, and a write in it fails."""
        with alone("read-only"):
            async with self.sessions() as session, session.begin():
                await begin_reading(session)
                try:
                    yield session
                finally:
                    await end_reading(session)

    @asynccontextmanager
    async def transaction_of(self, platform: str, platform_user_id: str) -> AsyncIterator[Tx]:
        """A transaction for one person's event: their events run one at a time."""
        async with self.transaction() as tx:
            await tx.accounts.lock_person(platform, platform_user_id)
            yield tx
