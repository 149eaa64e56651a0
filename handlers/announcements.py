"""What the scheduled jobs say: each function returns a Render (language -> text).

Jobs decide who hears what; this module decides the words, from the catalogs, so a
Korean member and an English admin each read their own language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import formatting
from handlers.i18n import t
from services.accountability.ladder import LadderNews
from services.automation.auto_comments import CommentReport
from services.messaging.notifier import Render
from services.rules import CommunityRules
from services.verification.verifier import RunReport
from services.week.calendar import Week
from services.week.progress import MemberResult, TodoItem, WeekCorrection, WeekResults
from services.week.record import RECHECK

CORRECTION_REASONS = ("appeal", "pardon", "hidden")


def text(key: str, **values: object) -> Render:
    """A catalog message; a value named `<name>_key` is itself a message key, rendered
    into `{<name>}` (`reason_key="ig.admin.challenge"` fills `{reason}`)."""

    def render(lang: str) -> str:
        filled = {
            (name.removesuffix("_key") if name.endswith("_key") else name):
                (t(lang, str(value)) if name.endswith("_key") else value)
            for name, value in values.items()
        }
        return t(lang, key, **filled)

    return render


def buttons(*pairs: tuple[str, str]) -> Callable[[str], list[tuple[str, str]]]:
    """(label key, payload) pairs as buttons in the reader's language."""
    return lambda lang: [(t(lang, key), payload) for key, payload in pairs]


def comment_report(period: str, report: CommentReport) -> Render:
    """The admins' report after a night of automatic comments."""

    def render(lang: str) -> str:
        counts = {k: v for k, v in vars(report).items() if k != "unverified"}
        lines = [t(lang, "report.header", job=t(lang, "job.comments"), period=period),
                 t(lang, "report.comments", **counts)]
        if report.unverified:
            lines.append(t(lang, "report.unverified",
                           names=", ".join(f"@{n}" for n in report.unverified)))
        return "\n".join(lines)

    return render


def _items(language: str, items: list[TodoItem]) -> list[str]:
    """Posts left uncommented; a comment made after the deadline says so."""
    return [t(language, "announce.item_late" if i.status == "late" else "announce.item",
              owner=i.owner, url=i.url) for i in items]


def week_opened(week: Week, rules: CommunityRules) -> Render:
    def render(lang: str) -> str:
        zone = rules.timezone
        return t(lang, "announce.week_opened", week=formatting.week(week, lang),
                 minimum=rules.weekly_min_posts, maximum=rules.weekly_max_posts,
                 submit=formatting.moment(week.at(rules.submission_deadline), zone, lang),
                 comment=formatting.moment(week.at(rules.comment_deadline), zone, lang))
    return render


def reminder(items: list[TodoItem], deadline: datetime, zone: ZoneInfo) -> Render:
    def render(lang: str) -> str:
        head = t(lang, "announce.reminder", count=len(items),
                 deadline=formatting.moment(deadline, zone, lang))
        return "\n".join([head, *_items(lang, items)])
    return render


def nudge(items: list[TodoItem], days: int) -> Render:
    def render(lang: str) -> str:
        return "\n".join([t(lang, "announce.nudge", days=days), *_items(lang, items)])
    return render


def submission_warning(count: int, minimum: int, deadline: datetime, zone: ZoneInfo) -> Render:
    def render(lang: str) -> str:
        return t(lang, "announce.submission_warning", count=count, minimum=minimum,
                 deadline=formatting.moment(deadline, zone, lang))
    return render


def gone_owner(url: str) -> Render:
    return lambda lang: t(lang, "announce.gone_owner", url=url)


def gone_admins(owner: str, url: str, code: str) -> Render:
    return lambda lang: t(lang, "announce.gone_admins", owner=owner, url=url,
                          reason=t(lang, f"ig.admin.{code}"))


def private_owner(url: str) -> Render:
    return lambda lang: t(lang, "announce.private_owner", url=url)


def private_admins(owner: str, url: str) -> Render:
    return lambda lang: t(lang, "announce.private_admins", owner=owner, url=url)


def renamed_member(old: str, new: str) -> Render:
    return lambda lang: t(lang, "announce.renamed_member", old=old, new=new)


def renamed_admins(old: str, new: str) -> Render:
    return lambda lang: t(lang, "announce.renamed_admins", old=old, new=new)


def same_account_admins(added: str, older: str) -> Render:
    return lambda lang: t(lang, "announce.same_account_admins", added=added, older=older)


def foreign_member(url: str, author: str) -> Render:
    return lambda lang: t(lang, "announce.foreign_member", url=url, author=author)


def foreign_admins(owner: str, url: str, author: str) -> Render:
    return lambda lang: t(lang, "announce.foreign_admins", owner=owner, url=url, author=author)


def comments_off_owner(url: str) -> Render:
    return lambda lang: t(lang, "announce.comments_off_owner", url=url)


def comments_off_admins(owner: str, url: str) -> Render:
    return lambda lang: t(lang, "announce.comments_off_admins", owner=owner, url=url)


def correction_lines(lang: str, corrections: list[WeekCorrection]) -> list[str]:
    """A recorded week's corrections: what changed, who made it and why."""
    if not corrections:
        return []
    lines = [t(lang, "results.corrections")]
    for item in corrections:
        who = t(lang, "correction.by_recheck") if item.actor == RECHECK else \
            t(lang, "correction.by_admin", name=item.actor)
        why = t(lang, f"correction.reason.{item.reason}") \
            if item.reason in CORRECTION_REASONS else item.reason
        if item.kind == "pardon":
            lines.append(t(lang, "correction.pardon",
                           username=formatting.owner(item.username, lang), who=who, why=why,
                           strike=t(lang, f"strike.{item.before}")))
        else:
            lines.append(t(lang, "correction.verdict",
                           username=formatting.owner(item.username, lang),
                           owner=formatting.owner(item.post_owner or "", lang),
                           url=item.post_url or "",
                           before=t(lang, f"verdict.{item.before}"),
                           after=t(lang, f"verdict.{item.after}"), who=who, why=why))
    return lines


def paused() -> Render:
    return lambda lang: t(lang, "announce.paused")


def final_stuck(week: str, attempts: int, error: str) -> Render:
    return lambda lang: t(lang, "announce.final_stuck", week=week, attempts=attempts,
                          error=error)


REASONS = ("transient", "rate_limited", "no_helper", "incomplete", "share_link",
           "session_expired", "challenge", "action_blocked", "not_checked", "not_found_once",
           "not_found", "private")


def reason(lang: str, code: str) -> str:
    """Why a post could not be checked, in a few words."""
    return t(lang, f"reason.{code if code in REASONS else 'transient'}")


def ladder_news(news: LadderNews, week: Week, rules: CommunityRules) -> Render:
    """What the ladder did to a member this week, and why, with the posts concerned."""

    def render(lang: str) -> str:
        label = formatting.week(week, lang)
        lines: list[str] = []
        for strike in news.strikes:
            if strike.reason == "missing":
                posts = strike.detail.get("posts", [])
                lines.append(t(lang, "ladder.strike_missing", week=label, count=len(posts)))
                lines += [t(lang, "announce.item", owner=o, url=u) for o, u in posts]
            else:
                lines.append(t(lang, "ladder.strike_below", week=label,
                               submitted=strike.detail.get("submitted", 0),
                               minimum=strike.detail.get("minimum", rules.weekly_min_posts)))
                dropped = strike.detail.get("dropped") or []
                if dropped:  # handed in, but deleted, someone else's or unreadable
                    lines.append(t(lang, "ladder.dropped", count=len(dropped),
                                   handed_in=strike.detail.get("handed_in", len(dropped))))
                    lines += [t(lang, "ladder.dropped_item", url=url,
                                why=t(lang, f"ladder.dropped_{state}"))
                              for url, state in dropped]
        count = news.active_count
        hours = rules.appeal_hours
        if news.step == "warning":
            lines.append(t(lang, "ladder.warning", weeks=rules.strikes_expire_after_clean_weeks,
                           hours=hours))
        elif news.step and news.step.startswith("suspend") and news.suspended_until:
            lines.append(t(lang, "ladder.suspended", count=count, hours=hours,
                           until=formatting.moment(news.suspended_until, rules.timezone, lang)))
        elif news.step == "removal":
            lines.append(t(lang, "ladder.removal", count=count, hours=hours))
        if news.removal_proposed and news.step != "removal" and news.empty_weeks:
            lines.append(t(lang, "ladder.empty_weeks", weeks=news.empty_weeks))
        if news.expired:
            lines.append(t(lang, "ladder.expired", count=rules.strikes_expire_after_clean_weeks,
                           strikes=news.expired))
        return "\n".join(lines)

    return render


def removal_proposal(news: LadderNews) -> Render:
    def render(lang: str) -> str:
        reason = t(lang, "ladder.reason_strikes", count=news.active_count) \
            if news.step == "removal" else t(lang, "ladder.reason_empty", weeks=news.empty_weeks)
        return t(lang, "ladder.admin_removal", username=news.username, reason=reason)
    return render


def group_results(results: WeekResults, unchecked: dict[str, tuple[str, str]],
                  streaks: list[tuple[str, int]] | None = None, so_far: bool = False) -> Render:
    """The results post: who completed everything, who misses what (counts, and whose
    posts; the links go in each member's private summary),
    what could not be checked and why, who handed in nothing. `unchecked` maps a post's
    url to its owner and the reason code it could not be checked. `so_far`: a week not finished yet,
    headed as an interim standing and without "handed in nothing" (they still may)."""

    def render(lang: str) -> str:
        owed = [m for m in results.members if m.owed]
        header = "results.group_header_so_far" if so_far else "results.group_header"
        lines = [t(lang, header, week=formatting.week(results.week, lang)),
                 t(lang, "results.group_counts", posts=results.posts, members=len(owed)), ""]
        completed = results.completed
        lines.append(t(lang, "results.group_completed", count=len(completed),
                       names=_names(completed, lang)) if completed
                     else t(lang, "results.group_nobody_completed"))
        missing = results.missing
        if missing:
            lines += ["", t(lang, "results.group_missing", count=len(missing))]
            lines += [t(lang, "results.group_missing_line",
                        username=formatting.owner(member.username, lang),
                        count=len(member.missing), owners=_owners(member.missing, lang))
                      for member in missing]
        if unchecked:
            lines += ["", t(lang, "results.group_unknown", count=len(unchecked))]
            lines += [t(lang, "results.group_unknown_line", owner=owner, url=url,
                        reason=reason(lang, code))
                      for url, (owner, code) in sorted(unchecked.items())]
        elif results.unknown_only:
            lines += ["", t(lang, "results.group_unknown_members",
                            count=len(results.unknown_only))]
        if results.not_submitted and not so_far:
            lines += ["", t(lang, "results.group_not_submitted",
                            count=len(results.not_submitted),
                            names=_names(results.not_submitted, lang))]
        if streaks:
            items = ", ".join(t(lang, "results.streak_item", username=n, weeks=w)
                              for n, w in streaks)
            lines += ["", t(lang, "results.streaks", names=items)]
        if results.corrections:
            lines += ["", *correction_lines(lang, results.corrections)]
        return "\n".join(lines)

    return render


def private_result(member: MemberResult, week: Week) -> Render:
    def render(lang: str) -> str:
        label = formatting.week(week, lang)
        if not member.owed:
            return t(lang, "results.private_nothing_owed", week=label)
        if member.complete:
            return t(lang, "results.private_done", week=label, total=member.owed)
        lines = [t(lang, "results.private_missing", week=label, done=member.done,
                   total=member.owed)] if member.missing else \
            [t(lang, "results.mine", done=member.done, total=member.owed)]
        lines += _items(lang, member.missing)
        if member.unknown:
            lines.append(t(lang, "results.private_unknown", count=member.unknown))
        return "\n".join(lines)
    return render


def run_report(job_key: str, period: str, report: RunReport | None, *,
               reached: int | None = None, unreachable: list[str] | None = None,
               groups: int | None = None, cooling: list[str] | None = None,
               unregistered: list[str] | None = None) -> Render:
    """The admins' report after a job: posts, verdicts, failures, helpers, delivery."""

    def render(lang: str) -> str:
        lines = [t(lang, "report.header", job=t(lang, job_key), period=period)]
        if report is not None:
            lines.append(t(lang, "report.posts", posts=report.posts, fetched=report.fetched,
                           cached=report.from_cache))
            lines.append(t(lang, "report.verdicts", **report.verdicts))
            failures = {**{s: "incomplete" for s in report.incomplete}, **report.failed}
            if failures:
                lines.append(t(lang, "report.failures", count=len(failures)))
                lines += [t(lang, "report.failure_line", shortcode=s, reason=reason(lang, c))
                          for s, c in sorted(failures.items())]
            if report.gone:
                lines.append(t(lang, "report.gone", count=len(report.gone)))
            if report.private:
                lines.append(t(lang, "report.private", count=len(report.private)))
            if report.renamed:
                lines.append(t(lang, "report.renamed", names=", ".join(
                    f"@{old} → @{new}" for _, old, new in report.renamed)))
            if report.foreign:
                lines.append(t(lang, "report.foreign", count=len(report.foreign)))
            if report.comments_off:
                lines.append(t(lang, "report.comments_off", count=len(report.comments_off)))
            lines.append(t(lang, "report.requests", requests=report.requests))
            if report.paused:
                lines.append(t(lang, "report.paused"))
            if report.helpers_out:
                lines.append(t(lang, "report.helpers_out",
                               names=", ".join(f"@{h}" for h in report.helpers_out)))
        if cooling:
            lines.append(t(lang, "report.helpers_cooling",
                           names=", ".join(f"@{h}" for h in cooling)))
        if reached is not None:
            lines.append(t(lang, "report.delivered", reached=reached,
                           unreachable=len(unreachable or [])))
        if unreachable:
            lines.append(t(lang, "report.unreachable",
                           names=", ".join(f"@{n}" for n in unreachable)))
        if groups is not None:
            lines.append(t(lang, "report.groups", count=groups))
        if unregistered:
            lines.append(t(lang, "report.unregistered", names=", ".join(unregistered)))
        return "\n".join(lines)

    return render


def _owners(items: list[TodoItem], lang: str) -> str:
    """Whose posts, compactly: "@minji, @jisoo ×2" (the links are in the private summary)."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.owner] = counts.get(item.owner, 0) + 1
    return ", ".join(formatting.owner(o, lang) + (f" ×{n}" if n > 1 else "")
                     for o, n in counts.items())


def _names(members: list[MemberResult], lang: str) -> str:
    return ", ".join(formatting.owner(m.username, lang) for m in members)
