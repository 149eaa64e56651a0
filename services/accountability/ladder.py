"""The accountability ladder: strikes, suspensions, pauses, appeals, streaks.

After each week's results the ladder is applied once (`apply_week`): every member who
was active that week gets a MemberWeek row (how the week ended) and, outside their
grace weeks, a strike for posts left uncommented and one for handing in fewer posts
than the minimum. An "unknown" result never strikes. The number of active strikes picks
the ladder's step (warning, suspension for N weeks, removal proposed to the admins).
Strikes expire after a run of clean weeks. Removal is only ever proposed; an admin
confirms it.

A comment Instagram hides (its spam or offensive-comment filter, a restricted account)
is listed to no reader, so no helper account can see it and the re-check of an appeal
cannot find it. The member then says so (`claim_hidden`); an admin who has seen the
comment counts it (`count_hidden`): the week's record shows the verdict done with the
admin's name and the reason "hidden", and when none of the strike's posts is left
missing the strike is pardoned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.members.instagram_identities import member_by_any_name
from services.rules import CommunityRules
from services.week.calendar import Week
from services.week.progress import ProgressService
from services.week.record import HIDDEN, RECHECK, WeekRecords
from storage.models import Admin, AuditEntry, ChatAccount, JobRun, Member, MemberWeek, Strike

if TYPE_CHECKING:
    from services.verification.check_runs import Checks
    from services.verification.verifier import RunReport


@dataclass
class LadderNews:
    """What the ladder did to one member this week (told to them privately)."""

    member_id: int
    username: str
    strikes: list[Strike] = field(default_factory=list)
    step: str | None = None  # "warning", "suspend N" or "removal"
    suspended_until: datetime | None = None
    expired: int = 0
    grace: bool = False
    removal_proposed: bool = False
    empty_weeks: int = 0
    active_count: int = 0  # active strikes after this week


@dataclass(frozen=True)
class AppealSettled:
    """One appealed strike after the re-check: cleared, or with the admins (`missing`:
    the posts still without the member's comment, as [owner, url])."""

    strike_id: int
    reason: str
    cleared: bool
    # Posts are still missing: the member may say their comment is hidden.
    hidden_offered: bool
    # The member said so with this appeal: the admins get "count it" buttons.
    hidden_said: bool
    missing: list[list[str]]


@dataclass
class HiddenCount:
    """What an admin's "count it" did: the posts counted now ([owner, url]), the ones
    counted before, the ones still missing, and whether the strike was pardoned now."""

    counted: list[list[str]] = field(default_factory=list)
    already: list[list[str]] = field(default_factory=list)
    remaining: list[list[str]] = field(default_factory=list)
    pardoned: bool = False


@dataclass(frozen=True)
class MeView:
    status: str
    status_until: datetime | None
    streak: int
    best_streak: int
    completion: float | None  # done / owed over all recorded weeks
    active_strikes: list[Strike]


@dataclass(frozen=True)
class Board:
    streaks: list[tuple[str, int]]
    month: list[tuple[str, float]]
    all_time: list[tuple[str, float]]


def hidden_posts(strike: Strike) -> list[list[str]]:
    """A "missing" strike's posts ([owner, url]) the appeal's re-check still could not
    find, numbered from 1 in the admins' message and its "count it" buttons."""
    return [list(p) for p in strike.detail.get("still_missing", [])] \
        if strike.reason == "missing" else []


async def recheck_for_appeal(checks: Checks, member_id: int, week: Week, *, reread: bool
                             ) -> RunReport | None:
    """An appeal's slow half, outside any transaction: the member's open posts of `week`
    read again on Instagram (`reread` False, None: no strike is about missing comments,
    so nothing is read). `Accountability.settle_appeal` decides after it."""
    if not reread:
        return None
    return await checks.member_week(member_id, week)


def streaks(weeks: list[MemberWeek]) -> tuple[int, int]:
    """(current, best) runs of complete weeks, the weeks in order."""
    current = best = 0
    for week in weeks:
        current = current + 1 if week.complete else 0
        best = max(best, current)
    return current, best


class Accountability:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules

    async def member(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    async def member_by_name(self, username: str) -> Member | None:
        """The member called so now, else the one who had the name before a rename."""
        member_id = await member_by_any_name(self.session, username)
        return None if member_id is None else await self.session.get(Member, member_id)

    async def strike(self, strike_id: int) -> Strike | None:
        return await self.session.get(Strike, strike_id)

    # --- the weekly ladder -------------------------------------------------------------

    async def apply_week(self, week: Week, now: datetime) -> list[LadderNews]:
        """Apply the ladder to a finished week, once (a second call finds it done)."""
        done = await self.session.scalar(
            select(func.count()).select_from(MemberWeek).where(
                MemberWeek.week_start == week.start))
        if done:
            return []
        results = await ProgressService(self.session, self.rules).week_results(week)
        dropped = await WeekRecords(self.session, self.rules).dropped_posts(week)
        minimum = self.rules.weekly_min_posts
        news: list[LadderNews] = []
        for result in results.members:
            member = None if result.member_id is None else \
                await self.session.get(Member, result.member_id)
            if member is None:
                continue
            item = LadderNews(member.id, member.instagram_username)
            grace_from = week.at("MON 00:00") - timedelta(weeks=self.rules.grace_weeks - 1)
            item.grace = member.joined_at is not None and member.joined_at >= grace_from
            if not item.grace:
                if self.rules.strike_for_missing and result.missing:
                    item.strikes.append(Strike(
                        member_id=member.id, week_start=week.start, reason="missing",
                        detail={"posts": [[i.owner, i.url] for i in result.missing]}))
                if self.rules.strike_for_below_minimum and result.submitted < minimum:
                    # The posts handed in that did not count, and why: the member
                    # sees their real count, not only what was left.
                    gone = dropped.get(result.username, [])
                    item.strikes.append(Strike(
                        member_id=member.id, week_start=week.start, reason="below_minimum",
                        detail={"submitted": result.submitted, "minimum": minimum,
                                "handed_in": result.submitted + len(gone),
                                "dropped": [list(post) for post in gone]}))
            self.session.add_all(item.strikes)
            complete = not result.missing and not result.unknown and result.submitted >= minimum
            self.session.add(MemberWeek(
                member_id=member.id, week_start=week.start, owed=result.owed,
                done=result.done, missing=len(result.missing), unknown=result.unknown,
                submitted=result.submitted, complete=complete, clean=not item.strikes))
            await self.session.flush()
            await self._empty_weeks(member, item)
            if item.strikes:
                await self._escalate(member, item, now)
            else:
                item.expired = await self._expire(member.id)
            if item.strikes or item.step or item.expired or item.removal_proposed:
                news.append(item)
        return news

    async def _history(self, member_id: int) -> list[MemberWeek]:
        return list(await self.session.scalars(
            select(MemberWeek).where(MemberWeek.member_id == member_id)
            .order_by(MemberWeek.week_start)))

    async def _empty_weeks(self, member: Member, item: LadderNews) -> None:
        limit = self.rules.removal_after_empty_weeks
        if limit <= 0 or item.grace:
            return
        run = 0
        for week in reversed(await self._history(member.id)):
            if week.submitted:
                break
            run += 1
        item.empty_weeks = run
        if run >= limit:
            item.removal_proposed = True

    async def active_strikes(self, member_id: int) -> list[Strike]:
        return list(await self.session.scalars(
            select(Strike).where(Strike.member_id == member_id, Strike.status == "active")
            .order_by(Strike.week_start, Strike.id)))

    async def _escalate(self, member: Member, item: LadderNews, now: datetime) -> None:
        count = item.active_count = len(await self.active_strikes(member.id))
        ladder = self.rules.ladder or ("warning",)
        item.step = ladder[min(count, len(ladder)) - 1]
        if item.step.startswith("suspend"):
            weeks = int(item.step.split()[1])
            # Until the start of a week, in the community's zone: it ends on time.
            start = Week.containing(now, self.rules.timezone)
            item.suspended_until = Week(start.start + timedelta(weeks=weeks),
                                        self.rules.timezone).at("MON 00:00")
            member.status, member.status_until = "suspended", item.suspended_until
        elif item.step == "removal":
            item.removal_proposed = True

    async def _expire(self, member_id: int) -> int:
        """After enough clean weeks in a row, the member's active strikes expire."""
        needed = self.rules.strikes_expire_after_clean_weeks
        history = await self._history(member_id)
        recent = history[-needed:] if needed > 0 else []
        if len(recent) < needed or not all(w.clean for w in recent):
            return 0
        strikes = await self.active_strikes(member_id)
        for strike in strikes:
            strike.status = "expired"
        return len(strikes)

    # --- pauses and suspensions ----------------------------------------------------------

    async def set_status(self, actor_id: int | None, member: Member, status: str,
                         until: datetime | None, action: str) -> None:
        member.status, member.status_until = status, until
        self.session.add(AuditEntry(actor_id=actor_id, action=action,
                                    target=member.instagram_username,
                                    detail=until.isoformat() if until else None))
        await self.session.flush()

    def weeks_from_now(self, now: datetime, weeks: int) -> datetime:
        """The end of a pause or suspension of `weeks` weeks given now: at least that many
        times seven days, up to the next Monday 00:00 (community zone), so it ends when
        a week starts (one given on a Sunday evening lasts into the week after next)."""
        zone = self.rules.timezone
        after = now + timedelta(weeks=weeks)
        week = Week.containing(after, zone)
        monday = week.at("MON 00:00")
        return monday if monday >= after else Week(week.start + timedelta(weeks=1),
                                                     zone).at("MON 00:00")

    async def lift_due(self, now: datetime) -> list[tuple[int, str]]:
        """Pauses and suspensions whose time is up end; (member id, what ended)."""
        members = await self.session.scalars(
            select(Member).where(Member.status.in_(("paused", "suspended")),
                                 Member.status_until.is_not(None),
                                 Member.status_until <= now))
        ended = []
        for member in members:
            ended.append((member.id, member.status))
            await self.set_status(None, member, "active", None, f"{member.status}_ended")
        return ended

    # --- strikes for admins --------------------------------------------------------------

    async def strikes(self, member_id: int | None = None) -> list[tuple[str, Strike]]:
        query = (select(Member.instagram_username, Strike)
                 .join(Member, Member.id == Strike.member_id)
                 .order_by(Strike.week_start.desc(), Strike.id.desc()))
        query = query.where(Strike.member_id == member_id) if member_id is not None \
            else query.where(Strike.status == "active")
        return [(name, strike) for name, strike in (await self.session.execute(query)).all()]

    async def actor_name(self, actor_id: int | None) -> str:
        """How an admin is named in a week's corrections."""
        if actor_id is None:
            return "admin"
        name = await self.session.scalar(select(Admin.name).where(
            Admin.chat_account_id == actor_id))
        return name or await self.session.scalar(select(ChatAccount.display_name).where(
            ChatAccount.id == actor_id)) or "admin"

    async def _note_pardon(self, strike: Strike, actor: str, reason: str,
                           now: datetime) -> None:
        records = WeekRecords(self.session, self.rules)
        username = await records.recorded_name(strike.week_start, strike.member_id)
        await records.note_pardon(
            strike.week_start, username or "?", strike.reason, actor, reason, now)

    async def pardon(self, actor_id: int | None, strike: Strike, now: datetime,
                     reason: str = "pardon") -> None:
        strike.status = "pardoned"
        if strike.appeal == "pending":
            strike.appeal, strike.decided_at = "pardoned", now
            reason = "appeal" if reason == "pardon" else reason
        await self._note_pardon(strike, await self.actor_name(actor_id), reason, now)
        await self._week_clean_again(strike)
        self.session.add(AuditEntry(actor_id=actor_id, action="strike_pardoned",
                                    target=await self._username(strike.member_id),
                                    detail=str(strike.id)))

    async def uphold(self, actor_id: int | None, strike: Strike, now: datetime) -> None:
        strike.appeal, strike.decided_at = "upheld", now
        self.session.add(AuditEntry(actor_id=actor_id, action="appeal_upheld",
                                    target=await self._username(strike.member_id),
                                    detail=str(strike.id)))

    async def username(self, member_id: int) -> str:
        return await self._username(member_id)

    async def _username(self, member_id: int) -> str:
        return await self.session.scalar(select(Member.instagram_username).where(
            Member.id == member_id)) or str(member_id)

    async def _week_clean_again(self, strike: Strike) -> None:
        others = await self.session.scalar(
            select(func.count()).select_from(Strike).where(
                Strike.member_id == strike.member_id, Strike.week_start == strike.week_start,
                Strike.status == "active", Strike.id != strike.id))
        if not others:
            week = await self.session.scalar(select(MemberWeek).where(
                MemberWeek.member_id == strike.member_id,
                MemberWeek.week_start == strike.week_start))
            if week is not None:
                week.clean = True

    # --- appeals -------------------------------------------------------------------------

    async def appealable(self, member_id: int, now: datetime) -> list[Strike]:
        """Active strikes of the last finished week, while its appeal window is open."""
        strikes = [s for s in await self.active_strikes(member_id) if s.appeal is None]
        if not strikes:
            return []
        latest = max(s.week_start for s in strikes)
        week = Week(latest, self.rules.timezone)
        results_at = await self.session.scalar(
            select(JobRun.finished_at).where(JobRun.job == "final",
                                             JobRun.period == week.label))
        opened = results_at or week.at(self.rules.comment_deadline)
        if now - opened > timedelta(hours=self.rules.appeal_hours):
            return []
        return [s for s in strikes if s.week_start == latest]

    async def after_recheck(self, strike: Strike, still_missing: list[list[str]],
                            now: datetime) -> str:
        """A "missing" strike after its posts were checked again: "cleared" when every
        comment is there now, else "pending" (the admins decide, with the evidence)."""
        if strike.reason == "missing" and not still_missing:
            strike.status, strike.appeal, strike.decided_at = "pardoned", "cleared", now
            await self._note_pardon(strike, RECHECK, "appeal", now)
            await self._week_clean_again(strike)
            week = await self.session.scalar(select(MemberWeek).where(
                MemberWeek.member_id == strike.member_id,
                MemberWeek.week_start == strike.week_start))
            if week is not None:
                week.missing = 0
            return "cleared"
        strike.appeal = "pending"
        if strike.reason == "missing":
            strike.detail = {**strike.detail, "still_missing": still_missing}
        return "pending"

    async def settle_appeal(self, member_id: int, week: Week, strike_ids: list[int],
                            now: datetime, *, hidden: bool) -> list[AppealSettled]:
        """An appeal once the member's posts of `week` were read again: the re-check's
        verdicts go into the week's record, and each appealed strike is cleared (every
        comment found) or goes to the admins with what is still missing. `hidden`: the
        member says Instagram hid their comment, claimed here for strikes with posts
        still missing (the admins then count them by hand)."""
        await WeekRecords(self.session, self.rules).take_rechecked(week, member_id, now,
                                                                   "appeal")
        missing = [[item.owner, item.url] for item in
                   await ProgressService(self.session, self.rules).missing_for(member_id,
                                                                               week)]
        settled: list[AppealSettled] = []
        for strike_id in strike_ids:
            strike = await self.strike(strike_id)
            if strike is None:
                continue
            cleared = await self.after_recheck(strike, missing, now) == "cleared"
            offered = not cleared and bool(hidden_posts(strike))
            said = offered and hidden and self.claim_hidden(strike)
            settled.append(AppealSettled(strike.id, strike.reason, cleared, offered, said,
                                         missing))
        return settled

    # --- hidden comments ----------------------------------------------------------------

    async def strike_for_update(self, strike_id: int) -> Strike | None:
        """The strike, locked for this transaction (two admins pressing at once)."""
        return await self.session.scalar(
            select(Strike).where(Strike.id == strike_id).with_for_update()
            .execution_options(populate_existing=True))

    async def hidden_claimable(self, member_id: int) -> list[Strike]:
        """The member's "missing" strikes whose appeal is with the admins, with posts the
        re-check still could not find: what "my comment is hidden" is about."""
        strikes = await self.session.scalars(
            select(Strike).where(Strike.member_id == member_id, Strike.status == "active",
                                 Strike.reason == "missing", Strike.appeal == "pending")
            .order_by(Strike.week_start, Strike.id))
        return [s for s in strikes if hidden_posts(s)]

    @staticmethod
    def claim_hidden(strike: Strike) -> bool:
        """The member says their comment is hidden; False when they had said so already."""
        if strike.detail.get("hidden"):
            return False
        strike.detail = {**strike.detail, "hidden": True}
        return True

    async def count_hidden(self, actor_id: int | None, strike: Strike,
                           numbers: list[int] | None, now: datetime) -> HiddenCount:
        """An admin counts hidden comments: `numbers` (1-based) of the strike's posts that
        are still missing, None for all of them. Each post counted is "done" in the week's
        record (a correction with the admin's name and the reason "hidden") and in the
        member's week; a post counted before is left as it is. With none left missing,
        the strike is pardoned by that admin."""
        posts = hidden_posts(strike)
        chosen = posts if numbers is None else [posts[n - 1] for n in numbers]
        counted = set(strike.detail.get("counted", []))
        outcome = HiddenCount(already=[p for p in chosen if p[1] in counted])
        outcome.counted = [p for p in chosen if p[1] not in counted]
        if outcome.counted:
            actor = await self.actor_name(actor_id)
            username = await self._username(strike.member_id)
            week = Week(strike.week_start, self.rules.timezone)
            records = WeekRecords(self.session, self.rules)
            for _owner, url in outcome.counted:  # found under the week's name for them
                await records.correct(week, username, url, "done", actor, HIDDEN, now)
                self.session.add(AuditEntry(actor_id=actor_id, action="hidden_counted",
                                            target=username, detail=url))
            counted |= {url for _, url in outcome.counted}
            strike.detail = {**strike.detail, "counted": sorted(counted)}
            await self._count_done(strike, len(outcome.counted))
        outcome.remaining = [p for p in posts if p[1] not in counted]
        if outcome.counted and not outcome.remaining and strike.status == "active":
            await self.pardon(actor_id, strike, now, reason=HIDDEN)
            outcome.pardoned = True
        await self.session.flush()
        return outcome

    async def _count_done(self, strike: Strike, count: int) -> None:
        week = await self.session.scalar(select(MemberWeek).where(
            MemberWeek.member_id == strike.member_id,
            MemberWeek.week_start == strike.week_start))
        if week is None:
            return
        week.done = min(week.owed, week.done + count)
        week.missing = max(0, week.missing - count)
        week.complete = not week.missing and not week.unknown and \
            week.submitted >= self.rules.weekly_min_posts

    # --- streaks, rates and the leaderboard ----------------------------------------------

    async def me(self, member: Member) -> MeView:
        history = await self._history(member.id)
        current, best = streaks(history)
        owed = sum(w.owed for w in history)
        rate = sum(w.done for w in history) / owed if owed else None
        return MeView(member.status, member.status_until, current, best, rate,
                      await self.active_strikes(member.id))

    async def leaderboard(self, now: datetime, top: int = 10) -> Board:
        rows = (await self.session.execute(
            select(Member.instagram_username, MemberWeek)
            .join(Member, Member.id == MemberWeek.member_id)
            .where(Member.status != "removed")
            .order_by(MemberWeek.week_start))).all()
        by_member: dict[str, list[MemberWeek]] = {}
        for name, week in rows:
            by_member.setdefault(name, []).append(week)
        local = now.astimezone(self.rules.timezone)
        month_start = local.date().replace(day=1)

        def rate(weeks: list[MemberWeek]) -> float | None:
            owed = sum(w.owed for w in weeks)
            return sum(w.done for w in weeks) / owed if owed else None

        current = sorted(((n, streaks(w)[0]) for n, w in by_member.items()),
                         key=lambda x: (-x[1], x[0]))
        month = [(n, r) for n, w in by_member.items()
                 if (r := rate([x for x in w if x.week_start >= month_start])) is not None]
        all_time = [(n, r) for n, w in by_member.items() if (r := rate(w)) is not None]
        return Board([x for x in current if x[1] > 0][:top],
                     sorted(month, key=lambda x: (-x[1], x[0]))[:top],
                     sorted(all_time, key=lambda x: (-x[1], x[0]))[:top])
