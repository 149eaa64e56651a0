"""Admins manage members: add with a personal invite, remove, list with their week."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.errors import InstagramError, NotFound
from services.instagram.gateway import Profile
from services.instagram.names import normalize_username
from services.instagram.pool import ASKED_SHARE
from services.instagram.runtime import Instagram
from services.members.instagram_identities import ids_by_any_name, member_by_any_name
from services.members.invites import InviteService
from services.members.queries import MemberRepo
from services.operations.audit import AuditRepo
from services.operations.throttle import REFUSALS
from services.week.record import forget_member
from storage.models import (
    Admin,
    AuditEntry,
    ChatAccount,
    Member,
    MemberName,
    Submission,
    utcnow,
)

PAGE_SIZE = 10
log = logging.getLogger(__name__)
NOT_LOOKED = object()  # a name Instagram was not asked about


async def look_up_names(instagram: Instagram, names: list[str]
                        ) -> dict[str, Profile | None]:
    """Who has each new member's name on Instagram, asked outside any transaction and
    only of a helper free at once (None: nobody has it). A name Instagram could not be
    asked about is left out: it is added as typed, and the first read learns its pk."""
    looked: dict[str, Profile | None] = {}
    for name in names:
        try:
            looked[name] = await instagram.pool.run(
                lambda s, n=name: instagram.gateway.profile(s, n), max_wait=0.0,
                share=ASKED_SHARE)
        except NotFound:
            looked[name] = None
        except InstagramError as exc:
            log.info("a new member's name was not looked up: %s", exc.code)
    return looked


class AddResult(Enum):
    ADDED = "added"
    EXISTS = "exists"  # a member already: no new invite (that is /relink's)
    INVALID = "invalid"
    RENAMED = "renamed"  # a name a member had before a rename: not a second member
    SAME_ACCOUNT = "same_account"  # Instagram: the name is a known member's account
    NO_ACCOUNT = "no_account"  # Instagram: nobody has the name (a typo)


@dataclass(frozen=True)
class Added:
    username: str
    result: AddResult
    code: str | None = None
    current: str | None = None  # RENAMED, SAME_ACCOUNT: the member's name now


@dataclass(frozen=True)
class MemberRow:
    username: str
    display_name: str | None
    status: str
    platforms: tuple[str, ...]
    submitted: int


@dataclass(frozen=True)
class AdminRow:
    name: str
    platform: str | None
    display_name: str | None
    claimed: bool


@dataclass(frozen=True)
class AuditActor:
    """Who made an audit entry: nothing (the CLI or the bot), or a chat account."""

    platform: str | None
    platform_user_id: str | None
    display_name: str | None
    member: str | None  # the linked member's Instagram username


class MemberAdminService:
    def __init__(self, session: AsyncSession, clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock  # when a member joins: the week's posts before that are not owed
        self.members = MemberRepo(session)
        self.invites = InviteService(session)
        self.audit = AuditRepo(session)

    async def ids_by_username(self, usernames: list[str]) -> dict[str, int]:
        """Name -> member id, for the names members have now or had before a rename."""
        return await ids_by_any_name(self.session, usernames)

    async def to_look_up(self, raw_names: list[str]) -> list[str]:
        """The names `add` would make a member of, or refuse as an old name: worth a
        look at Instagram first (outside any transaction) when a helper is free."""
        names = [n for n in dict.fromkeys(normalize_username(r) for r in raw_names) if n]
        current = set((await self.session.scalars(select(Member.instagram_username).where(
            Member.instagram_username.in_(names)))).all())
        return [n for n in names if n not in current]

    async def add(self, actor_id: int, raw_names: list[str],
                  looked: Mapping[str, Profile | None] | None = None, *,
                  invite_existing: bool = False) -> list[Added]:
        """Each name a member (with an invite), unless it is one already (no code: a
        member who changed phones gets one by /relink, which moves them; with
        `invite_existing`, a code all the same), or a name a member had before a rename
        (refused: one person, one member). A name written twice counts once.
        `looked` is what Instagram said of names (a Profile, or None: nobody has the
        name); a name it did not look at is added as it is, its pk learned at the first
        read. A name whose account is a member's already (renamed since) is refused, and
        so is a name nobody has."""
        results: list[Added] = []
        looked, seen = looked or {}, set()
        for raw in raw_names:
            username = normalize_username(raw)
            if username is None:
                results.append(Added(raw, AddResult.INVALID))
                continue
            if username in seen:  # written twice (or in two cases): one member, one code
                continue
            seen.add(username)
            member = await self.members.by_username(username)
            refused = None if member else await self._refused(username, looked)
            if refused is not None:
                results.append(refused)
                continue
            result = AddResult.EXISTS if member else AddResult.ADDED
            if member is None:
                member = await self.members.add(username, joined_at=self.clock())
                found = looked.get(username)
                member.instagram_pk = found.pk if found is not None else None
            if result is AddResult.EXISTS and not invite_existing:
                results.append(Added(username, result))  # a code only by /relink
                continue
            code = await self.invites.create(member.id)
            action = "member_added" if result is AddResult.ADDED else "invite_created"
            await self.audit.add(actor_id, action, target=username)
            results.append(Added(username, result, code))
        return results

    async def _refused(self, username: str, looked: Mapping[str, Profile | None]
                       ) -> Added | None:
        """Why a name that is no member's now does not make a new member, if it does not."""
        found = looked.get(username, NOT_LOOKED)
        if isinstance(found, Profile):
            holder = await self.session.scalar(select(Member).where(
                Member.instagram_pk == found.pk).limit(1))
            if holder is not None:  # the account is a member's, under their older name
                was_theirs = await self.session.scalar(select(MemberName.id).where(
                    MemberName.member_id == holder.id, MemberName.username == username))
                kind = AddResult.RENAMED if was_theirs else AddResult.SAME_ACCOUNT
                return Added(username, kind, current=holder.instagram_username)
        old_id = await member_by_any_name(self.session, username)
        old = await self.members.get(old_id) if old_id is not None else None
        # A member's old name, unless Instagram shows another account under it now (it
        # was free and someone else took it: that person may become a member).
        if old is not None and not (isinstance(found, Profile) and old.instagram_pk
                                    not in (None, found.pk)):
            return Added(username, AddResult.RENAMED, current=old.instagram_username)
        if found is None:
            return Added(username, AddResult.NO_ACCOUNT)
        return None

    async def remove(self, actor_id: int, raw_name: str) -> str | None:
        """Remove a member and everything of theirs (finished weeks keep their numbers
        without the member's name or post links); returns the username, or None."""
        username = normalize_username(raw_name)
        member_id = await member_by_any_name(self.session, username) if username else None
        member = await self.members.get(member_id) if member_id is not None else None
        if member is None:
            return None
        await forget_member(self.session, member.id)  # the records stop naming them
        await self.members.delete(member)
        await self.audit.add(actor_id, "member_removed", target=member.instagram_username)
        return member.instagram_username

    async def page(self, page: int, week_start: date) -> tuple[list[MemberRow], int]:
        """One page of members (1-based) and the number of pages."""
        total = await self.members.count()
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        members = await self.members.list(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        counts = dict(
            (
                await self.session.execute(
                    select(Submission.member_id, func.count())
                    .where(Submission.week_start == week_start, Submission.status == "active")
                    .group_by(Submission.member_id)
                )
            ).all()
        )
        rows = [
            MemberRow(
                m.instagram_username,
                m.display_name,
                m.status,
                tuple(sorted(a.platform for a in m.chat_accounts)),
                counts.get(m.id, 0),
            )
            for m in members
        ]
        return rows, pages

    async def admins(self) -> list[AdminRow]:
        rows = await self.session.execute(
            select(Admin, ChatAccount)
            .outerjoin(ChatAccount, ChatAccount.id == Admin.chat_account_id)
            .order_by(Admin.id)
        )
        return [
            AdminRow(a.name, c.platform if c else None, c.display_name if c else None,
                     a.claimed_at is not None)
            for a, c in rows.all()
        ]

    async def recent_audit(self, limit: int = 20) -> list[tuple[AuditEntry, AuditActor]]:
        """Admins' (and the bot's) recent actions with who made them; refusals and failed
        guesses are kept apart (`recent_refusals`), so a stranger cannot push the real
        actions out of view."""
        rows = await self.session.execute(
            select(AuditEntry, ChatAccount.platform, ChatAccount.platform_user_id,
                   ChatAccount.display_name, Member.instagram_username)
            .outerjoin(ChatAccount, ChatAccount.id == AuditEntry.actor_id)
            .outerjoin(Member, Member.id == ChatAccount.member_id)
            .where(AuditEntry.action.not_in(REFUSALS),
                   # what admins (or the bot, the CLI) did; not members' own actions
                   (AuditEntry.actor_id.is_(None)) | AuditEntry.actor_id.in_(
                       select(Admin.chat_account_id).where(
                           Admin.chat_account_id.is_not(None))))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
        return [(entry, AuditActor(platform, user_id, name, member))
                for entry, platform, user_id, name, member in rows.all()]

    async def recent_refusals(self, since: datetime) -> tuple[int, int, dict[str, int]]:
        """(refusals, accounts they came from, count by kind) since `since`."""
        rows = (await self.session.execute(
            select(AuditEntry.action, AuditEntry.actor_id)
            .where(AuditEntry.action.in_(REFUSALS), AuditEntry.created_at >= since))).all()
        kinds: dict[str, int] = {}
        for action, _ in rows:
            kinds[action] = kinds.get(action, 0) + 1
        return len(rows), len({actor for _, actor in rows}), kinds

    async def week_overview(self, week_start: date) -> list[tuple[str, list[str]]]:
        """Every member with this week's links, members without any included."""
        rows = await self.session.execute(
            select(Member.instagram_username, Submission.url)
            .outerjoin(
                Submission,
                (Submission.member_id == Member.id)
                & (Submission.week_start == week_start)
                & (Submission.status == "active"),
            )
            .where(Member.status != "removed")
            .order_by(Member.instagram_username, Submission.submitted_at)
        )
        overview: dict[str, list[str]] = {}
        for username, url in rows.all():
            overview.setdefault(username, [])
            if url:
                overview[username].append(url)
        return list(overview.items())
