"""Members' Instagram identities: the numeric id (pk) that stays, the names that change.

A member is known by pk once a read has shown it (an author read at submission, a
comment, the check at `/adduser`); from then on a name never changes the pk. A read
that shows a member's pk under a new name renames the member: the old name goes into
their history (`member_name`), where it still resolves (open-chat imports, `/correct`,
admin commands), and earlier weeks' records keep the names they were written with.

What reads show is written after the verdicts' transaction has committed, in small
transactions of its own: a verdict row takes a key-share lock on its member's row,
which a rename (a unique column) conflicts with, so doing both in the verdicts'
transactions could deadlock two checks on PostgreSQL. A pk is set only where it is
still unknown (`instagram_pk` has a plain index, so that update takes no key lock);
each rename is one transaction that locks one member.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from storage.models import AuditEntry, Member, MemberName

log = logging.getLogger(__name__)
Renamed = tuple[int, str, str]  # (member id, old name, new name)


@dataclass
class Learned:
    """What reads taught of members: renames taken, and accounts that two members turn
    out to be (an admin added a renamed member again under the new name: the admins are
    told once, `/deluser` of the one added since lets the rename through)."""

    renamed: list[Renamed] = field(default_factory=list)
    same_account: list[tuple[str, str]] = field(default_factory=list)  # (added since, older)


async def learn_people(sessions: Callable[[], AsyncSession],
                       people: dict[int, tuple[str, str]], now: datetime) -> Learned:
    """What reads showed of members (member id -> (pk, name shown)): unknown pks
    stored, new names taken, two members of one account noticed (once)."""
    found = Learned()
    async with sessions() as session, session.begin():
        learned, clashes = await _learn_pks(session, people)
        for member_id, holder in clashes:
            found.same_account += await _same_account_once(session, member_id, holder)
    for member_id in sorted(learned):  # only those shown under another name
        pk, shown = learned[member_id], name_key(people[member_id][1])
        async with sessions() as session, session.begin():
            holder = await session.scalar(select(Member.id).where(
                Member.instagram_username == shown, Member.id != member_id,
                or_(Member.instagram_pk.is_(None), Member.instagram_pk == pk)))
            if holder is not None:  # the new name is a member added since: one account
                found.same_account += await _same_account_once(session, holder, member_id)
                continue
            done = await rename(session, member_id, pk, shown, now)
        if done is not None:
            found.renamed.append(done)
    return found


async def _same_account_once(session: AsyncSession, member_id: int, holder: int
                             ) -> list[tuple[str, str]]:
    """The two members' names the first time a read shows they are one account (the
    audit log remembers it was said)."""
    target = f"{holder}:{member_id}"
    if await session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "same_account", AuditEntry.target == target)):
        return []
    session.add(AuditEntry(actor_id=None, action="same_account", target=target))
    names = dict((await session.execute(select(Member.id, Member.instagram_username).where(
        Member.id.in_((member_id, holder))))).all())
    return [(names[member_id], names[holder])]


async def learn_in_transaction(session: AsyncSession, people: dict[int, tuple[str, str]],
                               now: datetime) -> list[Renamed]:
    """`learn_people` inside a transaction already open (a submission: one member, whose
    reply says the rename). The caller does it last, after its other writes: a rename
    locks the member's row, and waits there for a check writing that member's verdicts
    rather than holding a lock the check waits for."""
    learned, _ = await _learn_pks(session, people)
    renamed = []
    for member_id in sorted(learned):
        done = await rename(session, member_id, learned[member_id], people[member_id][1], now)
        if done is not None:
            renamed.append(done)
    return renamed


async def _learn_pks(session: AsyncSession, people: dict[int, tuple[str, str]]
                     ) -> tuple[dict[int, str], list[tuple[int, int]]]:
    """Store the pks not known yet (unless another member has it); returns, for each
    member whose pk is (now) the one shown but under another name, the pk, and the
    (member, other member) pairs where the pk shown is the other's already."""
    rows = (await session.execute(
        select(Member.id, Member.instagram_pk, Member.instagram_username)
        .where(Member.id.in_(list(people))).order_by(Member.id))).all()
    holders = dict((await session.execute(select(Member.instagram_pk, Member.id).where(
        Member.instagram_pk.in_([pk for pk, _ in people.values()])))).all())
    matched: dict[int, str] = {}
    clashes: list[tuple[int, int]] = []
    for member_id, known, username in rows:
        pk, shown = people[member_id]
        if known is None:
            if holders.get(pk, member_id) != member_id:
                log.warning("members %s and %s show the same Instagram account",
                            holders[pk], member_id)
                clashes.append((member_id, holders[pk]))
                continue
            await session.execute(update(Member).where(Member.id == member_id)
                                  .values(instagram_pk=pk))
            holders[pk] = member_id
        elif known != pk:
            continue  # a name match never moves a known pk
        if name_key(shown) != username:
            matched[member_id] = pk
    return matched, clashes


async def rename(session: AsyncSession, member_id: int, pk: str, shown: str,
                 now: datetime) -> Renamed | None:
    """The member with this pk is called `shown` on Instagram now: take the name (the
    old one kept in the history). None: nothing changed, or the name is another
    member's (left alone, logged)."""
    member = await session.get(Member, member_id, with_for_update=True)
    shown = name_key(shown)
    if member is None or member.instagram_pk != pk or member.instagram_username == shown:
        return None
    holder = await session.scalar(select(Member.id).where(
        Member.instagram_username == shown))
    if holder is not None:
        log.warning("member %s renamed to a name member %s still has", member_id, holder)
        return None
    old = member.instagram_username
    session.add(MemberName(member_id=member_id, username=old, until=now))
    member.instagram_username = shown
    await session.flush()
    log.info("member %s is now @%s on Instagram (was @%s)", member_id, shown, old)
    return member_id, old, shown


async def member_by_any_name(session: AsyncSession, name: str) -> int | None:
    """The member who has this name now, else the one who had it last."""
    key = name_key(name)
    found = await session.scalar(select(Member.id).where(Member.instagram_username == key))
    if found is not None:
        return found
    return await session.scalar(
        select(MemberName.member_id).where(MemberName.username == key)
        .order_by(MemberName.until.desc()).limit(1))


async def ids_by_any_name(session: AsyncSession, names: list[str]) -> dict[str, int]:
    """Name -> member id, for names members have now or had before a rename."""
    keys = sorted({name_key(n) for n in names})
    found = dict((await session.execute(select(Member.instagram_username, Member.id).where(
        Member.instagram_username.in_(keys)))).all())
    rest = [k for k in keys if k not in found]
    if rest:
        for username, member_id in (await session.execute(
                select(MemberName.username, MemberName.member_id)
                .where(MemberName.username.in_(rest)).order_by(MemberName.until))).all():
            found[username] = member_id  # the latest holder wins
    return found
