"""The weekly loop's scheduled jobs: the week opens, reminders, nudges, the Sunday
warning, the re-check of open debts, and the final verification with its results.

Each job runs once per period (jobs/runs.py): a re-run of a finished period changes
nothing and posts nothing; a run a crash interrupted resumes, skipping the steps it
had marked (the final check's private results and ladder news: the members already
sent to). Messages go out through the Delivery (services/messaging/notifier.py); jobs only name
them (`Words`), the bot layer renders them from handlers/announcements.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from jobs.runs import JobRuns, Run
from services.accountability.ladder import LadderNews
from services.container import Services
from services.messaging.notifier import Delivered, Delivery, Words
from services.verification.verifier import RunReport
from services.week.calendar import Week
from services.week.progress import WeekResults
from storage.models import Strike, utcnow

log = logging.getLogger(__name__)
# The final check is resumed this many times (each start, and hourly) before the admins
# are told to finish the week with /verify.
FINAL_ATTEMPTS = 5
SEND_BATCH = 5  # private messages recorded as sent together


class WeeklyJobs:
    def __init__(self, services: Services, delivery: Delivery, *, nudge_after_days: int = 3,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.services = services
        self.rules = services.rules
        self.delivery = delivery
        self.runs = JobRuns(services, clock)
        self.nudge_after = timedelta(days=nudge_after_days)
        self.clock = clock
        services.after_checks.connect(self.tell_aftermath)

    # --- periods ---------------------------------------------------------------------

    def current_week(self) -> Week:
        return Week.containing(self.clock(), self.rules.timezone)

    def finished_week(self) -> Week:
        """The week whose comment deadline passed most recently."""
        week = self.current_week()
        return week if self.clock() >= week.at(self.rules.comment_deadline) else week.previous()

    def _local(self, fmt: str) -> str:
        return self.clock().astimezone(self.rules.timezone).strftime(fmt)

    async def _results(self, week: Week) -> WeekResults:
        async with self.services.transaction() as tx:
            return await tx.progress.week_results(week)

    # --- jobs --------------------------------------------------------------------------

    async def week_opens(self) -> None:
        week = self.current_week()
        run = await self.runs.claim("week_open", week.label)
        if run is None:
            return
        await self.runs.mark(run, "groups")
        posted = await self.delivery.to_groups(Words("week_opened", (week, self.rules)))
        await self.runs.finish(run, groups=posted)

    async def remind(self, slot: str) -> None:
        """Each member's to-do list, privately, when it is not empty."""
        run = await self.runs.claim("reminder", self._local("%Y-%m-%d ") + slot)
        if run is None:
            return
        week = self.current_week()
        deadline = week.at(self.rules.comment_deadline)
        if self.clock() >= deadline:
            await self.runs.finish(run, sent=0, skipped="comments closed")
            return
        results = await self._results(week)
        texts: dict[int, Words] = {}
        for member in results.members:
            open_items = [i for i in member.todo if i.status != "done"]
            if open_items:
                texts[member.member_id] = Words("reminder", (open_items, deadline,
                                                                  self.rules.timezone),
                                                browser_link=True)
        await self._send_once(run, texts)

    async def nudge(self) -> None:
        """Posts left uncommented for days: a gentler, more specific reminder."""
        run = await self.runs.claim("nudge", self._local("%Y-%m-%d"))
        if run is None:
            return
        old = self.clock() - self.nudge_after
        results = await self._results(self.current_week())
        texts: dict[int, Words] = {}
        for member in results.members:
            stale = [i for i in member.todo if i.status != "done"
                     and i.submitted_at is not None and i.submitted_at <= old]
            if stale:
                texts[member.member_id] = Words("nudge", (stale, self.nudge_after.days))
        await self._send_once(run, texts)

    async def submission_warning(self) -> None:
        """Before submissions close: members below the weekly minimum are told."""
        week = self.current_week()
        run = await self.runs.claim("submission_warning", week.label)
        if run is None:
            return
        deadline = week.at(self.rules.submission_deadline)
        if self.clock() >= deadline:
            await self.runs.finish(run, sent=0, skipped="submissions closed")
            return
        results = await self._results(week)
        texts = {m.member_id: Words("submission_warning", (
                     m.submitted, self.rules.weekly_min_posts, deadline, self.rules.timezone))
                 for m in results.members if m.submitted < self.rules.weekly_min_posts}
        await self._send_once(run, texts)

    async def refresh(self) -> None:
        """Re-check the open (missing or unknown) debts of the week."""
        checks = self.services.checks
        run = await self.runs.claim("refresh", self._local("%Y-%m-%d %H:%M"))
        if run is None:
            return
        report = await checks.week(self.current_week(), only_open=True)
        # Last week's record, if its final check could not read everything: its open
        # posts are read again, and the record fills in (nobody is struck for them).
        last = self.finished_week()
        async with self.services.transaction() as tx:
            unsettled = await tx.records.unsettled(last)
        filled = 0
        if unsettled:
            await checks.week(last, only_open=True)
            async with self.services.transaction() as tx:
                filled = await tx.records.fill_in(last)
        await self.runs.finish(run, report=report.as_summary(), last_week_filled=filled)
        await self.delivery.to_admins(Words("run_report", ("job.refresh", run.period, report),
                                            {"cooling": self._cooling()}))

    async def final(self) -> None:
        """After the comment deadline: check the whole week, tell each member privately,
        post the results to the groups (mentioning whom the bot cannot reach), report.

        Retried until the week is recorded: each start (and the hourly `retry_final`)
        resumes where the marks say, keeping every read already written; after
        FINAL_ATTEMPTS the admins are told what failed and that `/verify WEEK` finishes
        it (`finish_week`)."""
        week = self.finished_week()
        run = await self.runs.claim("final", week.label, max_attempts=FINAL_ATTEMPTS)
        if run is None:
            await self._tell_stuck(week)
            return
        await self._run_final(run, week)

    async def retry_final(self) -> None:
        """Hourly: the finished week's final check, if an error or a crash left it
        unfinished, goes on from its marks (a week never started waits for its trigger)."""
        stored = await self.runs.stored("final", self.finished_week().label)
        if stored is not None and stored.status != "done":
            await self.final()

    async def finish_week(self, week: Week) -> bool:
        """An admin's `/verify` of a finished week whose final check did not finish (no
        record, or results not sent): the final check's steps
        (record, ladder, private results, group post), resuming a stuck run whatever its
        attempts. False when it is going on now or already done."""
        run = await self.runs.claim("final", week.label, force=True)
        if run is None:
            return False
        await self._run_final(run, week)
        return True

    async def _run_final(self, run: Run, week: Week) -> None:
        try:
            await self._final(run, week)
        except Exception as exc:
            log.exception("the final verification of %s failed", week.label)
            await self.runs.finish(run, error=f"{type(exc).__name__}: {exc}")
            if run.attempts >= FINAL_ATTEMPTS:
                await self._tell_stuck(week)
            raise

    async def _tell_stuck(self, week: Week) -> None:
        """A final check out of attempts: the admins are told, once, what failed and how
        to finish the week."""
        stored = await self.runs.stored("final", week.label)
        if stored is None or stored.status != "failed" or stored.attempts < FINAL_ATTEMPTS \
                or stored.summary.get("admins_told"):
            return
        error = (stored.error or "").strip() or "?"
        await self.delivery.to_admins(Words("final_stuck", (week.label, stored.attempts,
                                                             error[:300])))
        await self.runs.remember("final", week.label, admins_told=True)

    async def _final(self, run: Run, week: Week) -> None:
        checks = self.services.checks
        report: RunReport | None = None
        if not run.done("verified"):
            # Only the posts someone still owes are read: the verdicts settled before
            # (by the week's reads, or before a crash) stand, and a post read once is
            # read only for what is newer (services/verification/verifier.py).
            report = await checks.week(week, only_open=True, final=True)
            await self.runs.mark(run, "verified", report=report.as_summary())
        if not run.done("recorded"):  # the week as it is now is what results read from
            async with self.services.transaction() as tx:
                await tx.records.record(week, self.clock())
            self.services.week_versions.bump(week.start)  # the board now reads the record
            await self.runs.mark(run, "recorded")
        results = await self._results(week)
        if results.posts == 0:
            await self.runs.finish(run, posts=0)
            return
        news: list[LadderNews] = []
        if not run.done("ladder"):  # once per week: the ladder's own rows say it ran
            async with self.services.transaction() as tx:
                news = await tx.accountability.apply_week(week, self.clock())
            # Kept in the summary: a resumed run still tells what the ladder did.
            await self.runs.mark(run, "ladder", strikes=sum(len(n.strikes) for n in news),
                                 ladder_news=[_news_summary(n) for n in news])
        else:
            news = [_news_from(item, week) for item in run.summary.get("ladder_news", [])]
        unreachable: list[str] = list(run.summary.get("unreachable", []))
        reached = int(run.summary.get("reached", 0))
        if not run.done("members_sent"):
            names = {m.member_id: m.username for m in results.members}
            delivered = await self._send_each(run, "members", {
                m.member_id: Words("private_result", (m, week)) for m in results.members})
            unreachable = sorted(names[i] for i in delivered.unreachable if i in names)
            reached = len(delivered.reached)
            await self.runs.mark(run, "members_sent", unreachable=unreachable, reached=reached)
        if news and not run.done("ladder_told"):
            await self._send_each(run, "ladder", {
                n.member_id: Words("ladder_news", (n, week, self.rules))
                for n in news if n.strikes or n.step or n.expired or n.removal_proposed})
            proposed = set(run.summary.get("proposals_sent", []))
            for item in (n for n in news if n.removal_proposed):
                if item.member_id in proposed:
                    continue
                await self.delivery.to_admins(
                    Words("removal_proposal", (item,)),
                    Words("buttons", (("admin.remove_button",
                                       f"/remove {item.username} confirm"),)))
                proposed.add(item.member_id)
                await self.runs.note(run, proposals_sent=sorted(proposed))
            await self.runs.mark(run, "ladder_told")
        groups = int(run.summary.get("groups", 0))
        if not run.done("groups_sent"):  # marked after the post: a crash may repeat it
            async with self.services.transaction() as tx:
                reasons = await tx.progress.check_reasons(week)
                board = await tx.accountability.leaderboard(self.clock(), top=3)
            streaks = [(name, weeks) for name, weeks in board.streaks if weeks >= 2]
            groups = await self.delivery.to_groups(
                Words("group_results", (results, results.unchecked(reasons), streaks)),
                start_for=unreachable, picture=week)
            await self.runs.mark(run, "groups_sent", groups=groups)
        await self.runs.finish(run)
        async with self.services.transaction() as tx:
            strangers = await tx.open_chat.strangers(week)
        await self.delivery.to_admins(Words("run_report", ("job.final", week.label, report), {
            "reached": reached, "unreachable": unreachable, "groups": groups,
            "cooling": self._cooling(), "unregistered": strangers}))

    async def _send_each(self, run: Run, key: str, texts: dict[int, Words]) -> Delivered:
        """Private messages, recorded as sent after they go out, SEND_BATCH at a time
        (the run's summary keeps the ids: `<key>_done`, `<key>_unreachable`): a resumed
        run sends only to those not recorded, so a crash may repeat a batch, never drop
        a message."""
        done = set(run.summary.get(f"{key}_done", []))
        missed = set(run.summary.get(f"{key}_unreachable", []))
        pending = [member_id for member_id in texts if member_id not in done]
        for start in range(0, len(pending), SEND_BATCH):
            batch = pending[start:start + SEND_BATCH]
            sent = await self.delivery.to_members({i: texts[i] for i in batch})
            done.update(batch)
            missed.update(sent.unreachable)
            await self.runs.note(run, **{f"{key}_done": sorted(done),
                                         f"{key}_unreachable": sorted(missed)})
        return Delivered(reached=[i for i in texts if i in done and i not in missed],
                         unreachable=[i for i in texts if i in missed])

    async def lift(self) -> None:
        """Pauses and suspensions whose time is up end on time; the member is told."""
        async with self.services.transaction() as tx:
            ended = await tx.accountability.lift_due(self.clock())
        if ended:
            await self.delivery.to_members({
                member_id: Words("text", (f"status.lifted_{was}",))
                for member_id, was in ended})

    async def _send_once(self, run: Run, texts: dict[int, Words]) -> None:
        if not run.done("send"):
            await self.runs.mark(run, "send", planned=len(texts))
            delivered = await self.delivery.to_members(texts)
            await self.runs.finish(run, sent=len(delivered.reached),
                                   unreachable=len(delivered.unreachable))
        else:
            await self.runs.finish(run)

    # --- what follows a check ------------------------------------------------------------

    async def tell_aftermath(self, report: RunReport) -> None:
        """Gone posts, posts by someone else, posts with comments off, posts a private
        account keeps from being read: their owners and the admins are told; a member
        renamed on Instagram: they and the admins, once (a rename is reported by the
        one check that took it); a paused check: the admins."""
        told = [owner for _, owner, _ in report.gone + report.foreign] + \
            [owner for _, owner in report.comments_off + report.private]
        owners: dict[str, int] = {}
        if told:  # a post's owner is named as the read found them: maybe an old name
            async with self.services.transaction() as tx:
                owners = await tx.members.ids_by_username(told)
        for member_id, old, new in report.renamed:
            await self.delivery.to_members({member_id: Words("renamed_member", (old, new))})
            await self.delivery.to_admins(Words("renamed_admins", (old, new)))
        for added, older in report.same_account:
            await self.delivery.to_admins(Words("same_account_admins", (added, older)))
        for url, owner, reason in report.gone:
            if owner in owners:
                await self.delivery.to_members({owners[owner]: Words("gone_owner", (url,))})
            await self.delivery.to_admins(Words("gone_admins", (owner, url, reason)))
        for url, owner, author in report.foreign:
            if owner in owners:
                await self.delivery.to_members(
                    {owners[owner]: Words("foreign_member", (url, author))})
            await self.delivery.to_admins(Words("foreign_admins", (owner, url, author)))
        for url, owner in report.comments_off:
            if owner in owners:
                await self.delivery.to_members({owners[owner]: Words("comments_off_owner",
                                                                     (url,))})
            await self.delivery.to_admins(Words("comments_off_admins", (owner, url)))
        for url, owner in report.private:
            if owner in owners:
                await self.delivery.to_members({owners[owner]: Words("private_owner", (url,))})
            await self.delivery.to_admins(Words("private_admins", (owner, url)))
        if report.paused:
            await self.delivery.to_admins(Words("paused"))

    def _cooling(self) -> list[str]:
        instagram = self.services.instagram
        now = instagram.clock()
        return sorted(h.username for h in instagram.pool.helpers.values()
                      if h.status == "cooling" and h.cooldown_until > now)



def _news_summary(news: LadderNews) -> dict[str, Any]:
    """What the ladder did to one member, as JSON for the run's summary."""
    return {"member_id": news.member_id, "username": news.username,
            "strikes": [{"reason": s.reason, "detail": s.detail} for s in news.strikes],
            "step": news.step, "suspended_until": news.suspended_until.isoformat()
            if news.suspended_until else None, "expired": news.expired, "grace": news.grace,
            "removal_proposed": news.removal_proposed, "empty_weeks": news.empty_weeks,
            "active_count": news.active_count}


def _news_from(item: dict[str, Any], week: Week) -> LadderNews:
    until = item.get("suspended_until")
    return LadderNews(
        item["member_id"], item["username"],
        strikes=[Strike(member_id=item["member_id"], week_start=week.start,
                        reason=s["reason"], detail=s.get("detail") or {})
                 for s in item.get("strikes", [])],
        step=item.get("step"), suspended_until=datetime.fromisoformat(until) if until else None,
        expired=item.get("expired", 0), grace=item.get("grace", False),
        removal_proposed=item.get("removal_proposed", False),
        empty_weeks=item.get("empty_weeks", 0), active_count=item.get("active_count", 0))
