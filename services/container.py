"""One transaction per incoming event, with every service bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.accountability import Accountability
from services.accounts import AccountService
from services.admins import AdminService
from services.audit import AuditRepo
from services.board import BoardService
from services.board_cache import WeekVersions
from services.checks import Checks
from services.community import CommunityService
from services.conversations import ConversationService
from services.helper_accounts import HelperAccountService
from services.instagram.runtime import Instagram
from services.invites import InviteService
from services.members import MemberAdminService
from services.notifier import Delivery
from services.open_chat_import import OpenChatImporter
from services.outbox import OutboxRepo
from services.producers import ProducerRegistry
from services.progress import ProgressService
from services.rules import CommunityRules
from services.submissions import SubmissionService
from services.throttle import LoginThrottle
from services.transactions import alone
from services.unfollow import RunningChecks, UnfollowService
from services.update_log import UpdateLog
from services.web_links import WebLinks
from services.week_record import WeekRecords
from services.weeks import Week
from storage.db import begin_reading, end_reading
from storage.models import utcnow

Clock = Callable[[], datetime]


class Tx:
    """The services of one unit of work; they share one session and commit together."""

    def __init__(self, session: AsyncSession, rules: CommunityRules, clock: Clock = utcnow,
                 instagram: Instagram | None = None, checks: Checks | None = None) -> None:
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


class Services:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: CommunityRules,
        clock: Clock = utcnow,
        serialize: bool = False,
        instagram: Instagram | None = None,
    ) -> None:
        self.sessions = sessions
        # The engine itself, for what needs a connection of its own (the leader lock).
        self.engine: AsyncEngine = sessions.kw["bind"]
        # The process's Instagram gateway and helper pool (None: Instagram is not used).
        self.instagram = instagram
        # SQLite has one writer at a time: queueing here, in order, beats SQLite's busy
        # handler, which sleeps in growing steps (up to 100 ms) while it waits for the lock.
        self._one_writer = asyncio.Lock() if serialize else None
        # Each week's version, bumped by every check of it (the web board's cache reads it).
        self.week_versions = WeekVersions()
        self.checks = Checks(sessions, rules, instagram, write_lock=self._one_writer,
                             clock=lambda: self.clock(), versions=self.week_versions) \
            if instagram is not None else None
        # How deferred work reaches other people (set by the app; None in a bare console).
        self.delivery: Delivery | None = None
        # Finishes a finished week's record and sends its results, as the final check does
        # (set by the weekly jobs; an admin's /verify of an unfinished week uses it).
        # False: that week's final check is going on now or is already done.
        self.finish_week: Callable[[Week], Awaitable[bool]] | None = None
        # Links to the web pages (set from the settings; None: no web links in messages).
        self.web: WebLinks | None = None
        # Unfollow checks with login running now, so /cancel can stop one.
        self.unfollow_checks = RunningChecks()
        self.rules = rules
        # Injectable, so tests can stand on a week boundary.
        self.clock = clock

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
