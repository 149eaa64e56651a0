"""One transaction per incoming event, with every service bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.accounts import AccountService
from services.admins import AdminService
from services.conversations import ConversationService
from services.helper_accounts import HelperAccountService
from services.invites import InviteService
from services.rules import CommunityRules
from storage.repositories.operations import AuditRepo


class Tx:
    """The services of one unit of work; they share one session and commit together."""

    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules
        self.accounts = AccountService(session)
        self.admins = AdminService(session)
        self.conversations = ConversationService(session, rules.conversation_timeout)
        self.helpers = HelperAccountService(session)
        self.invites = InviteService(session)
        self.audit = AuditRepo(session)


class Services:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: CommunityRules) -> None:
        self.sessions = sessions
        self.rules = rules

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Commit when the block ends, roll back if it raises."""
        async with self.sessions() as session, session.begin():
            yield Tx(session, self.rules)
