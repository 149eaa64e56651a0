"""Accountability from chat: members' `/me`, `/leaderboard`, `/appeal`; admins' `/strikes`,
`/pardon`, `/suspend`, `/unsuspend`, `/pause`, `/resume`, `/remove`, `/correct` (a
verdict of last week's record), and the appeal decision buttons. Every admin action is
in the audit log; the member is told.

A comment Instagram hides is seen by no helper account, so a re-check cannot find it.
The member says "my comment is hidden": `/appeal hidden` (`/appeal 숨김`, KakaoTalk
"이의 신청 숨김"), or the button the appeal's answer offers when the re-check still
finds posts missing. The admins then get each still-missing post's link with a "count
it" button (`/counthidden STRIKE N`, or `all`); pressing it corrects the week's record
in the admin's name and, once no post is left missing, pardons the strike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from handlers import formatting
from handlers.arguments import whole_number
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import Command
from services.accountability.ladder import (
    HiddenCount,
    Member,
    Strike,
    hidden_posts,
    recheck_for_appeal,
)
from services.instagram.names import normalize_username
from services.messaging.notifier import Render
from services.week.calendar import Week
from services.week.post_links import PostLink, parse_post_link

MAX_WEEKS = 52
HIDDEN_WORDS = ("hidden", "숨김", "숨겨짐")
HIDDEN_PAYLOAD = "/appeal hidden"
ALL_WORDS = ("all", "모두")
MAX_COUNT_BUTTONS = 7  # one "count it" button a post; "count all" covers the rest


def _week(ctx: Ctx, strike: Strike, lang: str | None = None) -> str:
    return formatting.week(Week(strike.week_start, ctx.tx.rules.timezone), lang or ctx.lang)


def _when(ctx: Ctx, moment: datetime | None, lang: str | None = None) -> str:
    return formatting.moment(moment, ctx.tx.rules.timezone, lang or ctx.lang) if moment else ""


def _tell(ctx: Ctx, member_id: int, render: Render) -> None:
    """Tell a member privately, after the commit (when the app can deliver)."""
    ctx.defer(Continue(ctx.services.delivery.to_members, ({member_id: render},)))


# --- members ---------------------------------------------------------------------------


async def me(ctx: Ctx, _args: str) -> list[Reply]:
    member = await ctx.tx.accountability.member(ctx.who.member_id) \
        if ctx.who.member_id is not None else None
    if member is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    view = await ctx.tx.accountability.me(member)
    status = ctx.t(f"member_status.{view.status}")
    lines = [ctx.t("me.header", username=member.instagram_username),
             ctx.t("me.status_until", status=status, until=_when(ctx, view.status_until))
             if view.status_until else ctx.t("me.status", status=status),
             ctx.t("me.streak", streak=view.streak, best=view.best_streak),
             ctx.t("me.rate", rate=round(view.completion * 100)) if view.completion is not None
             else ctx.t("me.no_rate")]
    if view.active_strikes:
        lines.append(ctx.t("me.strikes", count=len(view.active_strikes)))
        lines += [ctx.t("me.strike_line", week=_week(ctx, s), reason=ctx.t(f"strike.{s.reason}"))
                  for s in view.active_strikes]
    else:
        lines.append(ctx.t("me.no_strikes"))
    return [Reply("\n".join(lines))]


async def leaderboard(ctx: Ctx, _args: str) -> list[Reply]:
    board = await ctx.tx.accountability.leaderboard(ctx.tx.now())
    lines = [ctx.t("leaderboard.header"), "", ctx.t("leaderboard.streaks")]
    lines += [ctx.t("leaderboard.streak_line", rank=n, username=name, weeks=weeks)
              for n, (name, weeks) in enumerate(board.streaks, 1)] or [ctx.t("leaderboard.empty")]
    for key, rows in (("leaderboard.month", board.month), ("leaderboard.all_time",
                                                           board.all_time)):
        lines += ["", ctx.t(key)]
        lines += [ctx.t("leaderboard.rate_line", rank=n, username=name, rate=round(rate * 100))
                  for n, (name, rate) in enumerate(rows, 1)] or [ctx.t("leaderboard.empty")]
    return [Reply("\n".join(lines))]


async def appeal(ctx: Ctx, args: str) -> list[Reply]:
    """Re-check the missing posts now; clear the strike if the comments are there, else
    send the appeal with the evidence to the admins. `hidden`: the member says Instagram
    hid their comment, so the admins get a "count it" button for each post still missing
    (also after the re-check, while the appeal waits for them)."""
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    hidden = args.strip().lower() in HIDDEN_WORDS
    now, member_id = ctx.tx.now(), ctx.who.member_id
    strikes = await ctx.tx.accountability.appealable(member_id, now)
    if not strikes and hidden:
        return await _hidden_after_recheck(ctx, member_id)
    if not strikes:
        return [ctx.reply("appeal.nothing", hours=ctx.tx.rules.appeal_hours)]
    week = Week(strikes[0].week_start, ctx.tx.rules.timezone)
    reread = any(s.reason == "missing" for s in strikes)
    ctx.defer(Continue(recheck_for_appeal, (ctx.tx.checks, member_id, week),
                       {"reread": reread}, then=_appeal_rechecked,
                       values={"member_id": member_id, "week": week, "now": now,
                               "strike_ids": [s.id for s in strikes], "hidden": hidden},
                       catch=()))
    return [ctx.reply("appeal.checking")]


async def _appeal_rechecked(ctx: Ctx, _read: object, *, member_id: int, week: Week,
                            now: datetime, strike_ids: list[int], hidden: bool
                            ) -> list[Reply]:
    """The appeal's posts were read again: each strike cleared, or sent to the admins
    with what is still missing (and "count it" buttons when the member says hidden)."""
    settled = await ctx.tx.accountability.settle_appeal(member_id, week, strike_ids, now,
                                                        hidden=hidden)
    username = ctx.who.member_username or ""
    label, replies = formatting.week(week, ctx.lang), []
    for strike in settled:
        if strike.cleared:
            replies.append(ctx.reply("appeal.cleared", week=label))
            continue
        if strike.hidden_said:
            replies.append(ctx.reply("appeal.hidden_sent"))
            _to_admins(ctx, _hidden_for_admins(strike.strike_id, username, week,
                                               strike.missing),
                       _hidden_buttons(strike.strike_id, strike.missing))
            continue
        replies.append(ctx.reply("appeal.sent", *(
            (Button(ctx.t("appeal.hidden_button"), HIDDEN_PAYLOAD),)
            if strike.hidden_offered else ())))
        _to_admins(ctx, _appeal_for_admins(strike.strike_id, username, week, strike.reason,
                                           strike.missing),
                   _decide_buttons(strike.strike_id))
    return replies


def _to_admins(ctx: Ctx, render: Render, buttons: Callable[[str], list[tuple[str, str]]]
               ) -> None:
    """Tell the admins, after the commit."""
    ctx.defer(Continue(ctx.services.delivery.to_admins, (render, buttons)))


def _decide_buttons(strike_id: int) -> Callable[[str], list[tuple[str, str]]]:
    def buttons(lang: str) -> list[tuple[str, str]]:
        return [(t(lang, "appeal.uphold_button"), f"/appealdecide {strike_id} uphold"),
                (t(lang, "appeal.pardon_button"), f"/appealdecide {strike_id} pardon")]
    return buttons


async def appeal_hidden(ctx: Ctx, _args: str) -> list[Reply]:
    """"My comment is hidden" (KakaoTalk: 이의 신청 숨김): `/appeal hidden`."""
    return await appeal(ctx, HIDDEN_WORDS[0])


async def _hidden_after_recheck(ctx: Ctx, member_id: int) -> list[Reply]:
    """"My comment is hidden" once the re-check has sent the appeal to the admins."""
    strikes = await ctx.tx.accountability.hidden_claimable(member_id)
    if not strikes:
        return [ctx.reply("appeal.nothing", hours=ctx.tx.rules.appeal_hours)]
    fresh = [s for s in strikes if ctx.tx.accountability.claim_hidden(s)]
    if not fresh:
        return [ctx.reply("appeal.hidden_already")]
    username = ctx.who.member_username or ""
    for strike in fresh:
        week, posts = Week(strike.week_start, ctx.tx.rules.timezone), hidden_posts(strike)
        _to_admins(ctx, _hidden_for_admins(strike.id, username, week, posts),
                   _hidden_buttons(strike.id, posts))
    return [ctx.reply("appeal.hidden_sent")]


def _appeal_for_admins(strike_id: int, username: str, week: Week, reason: str,
                       still: list[list[str]]) -> Render:
    def render(lang: str) -> str:
        lines = [t(lang, "appeal.admins", id=strike_id, username=username,
                   week=formatting.week(week, lang), reason=t(lang, f"strike.{reason}"))]
        if reason == "missing" and still:
            lines.append(t(lang, "appeal.still_missing"))
            lines += [t(lang, "announce.item", owner=owner, url=url) for owner, url in still]
        return "\n".join(lines)
    return render


def _hidden_for_admins(strike_id: int, username: str, week: Week,
                       posts: list[list[str]]) -> Render:
    def render(lang: str) -> str:
        lines = [t(lang, "appeal.admins", id=strike_id, username=username,
                   week=formatting.week(week, lang), reason=t(lang, "strike.missing")),
                 t(lang, "hidden.admins", username=username)]
        lines += [t(lang, "hidden.item", number=n, owner=owner, url=url)
                  for n, (owner, url) in enumerate(posts, 1)]
        return "\n".join(lines)
    return render


def _hidden_buttons(strike_id: int, posts: list[list[str]]
                    ) -> Callable[[str], list[tuple[str, str]]]:
    def buttons(lang: str) -> list[tuple[str, str]]:
        each = [(t(lang, "hidden.count_button", number=n, owner=owner),
                 f"/counthidden {strike_id} {n}")
                for n, (owner, _url) in enumerate(posts[:MAX_COUNT_BUTTONS], 1)]
        every = [(t(lang, "hidden.count_all_button"), f"/counthidden {strike_id} all")] \
            if len(posts) > 1 else []
        return [*each, *every,
                (t(lang, "appeal.uphold_button"), f"/appealdecide {strike_id} uphold")]
    return buttons


# --- admins ----------------------------------------------------------------------------


async def _member(ctx: Ctx, args: str, command: str) -> tuple[Member | None, list[Reply]]:
    first = args.split()[0] if args.split() else ""
    username = normalize_username(first) if first else None
    if username is None:
        return None, [ctx.reply("admin.usage_name", command=command)]
    found = await ctx.tx.accountability.member_by_name(username)
    if found is None or (found.status == "removed" and command != "strikes"):
        return None, [ctx.reply("admin.no_member", username=username)]
    return found, []


def _weeks(args: str) -> int | None:
    parts = args.split()
    return whole_number(parts[1], 1, MAX_WEEKS) if len(parts) >= 2 else None


async def strikes(ctx: Ctx, args: str) -> list[Reply]:
    member = None
    if args.strip():
        member, problem = await _member(ctx, args, "strikes")
        if member is None:
            return problem
    rows = await ctx.tx.accountability.strikes(member.id if member else None)
    if not rows:
        return [ctx.reply("strikes.none")]
    lines = [ctx.t("strikes.member_header", username=member.instagram_username) if member
             else ctx.t("strikes.header", count=len(rows))]
    buttons: list[Button] = []
    for username, strike in rows:
        lines.append(ctx.t("strikes.line", username=username, week=_week(ctx, strike),
                           reason=ctx.t(f"strike.{strike.reason}"),
                           status=ctx.t(f"strike_status.{strike.status}")))
        if strike.appeal == "pending":
            lines.append("   " + ctx.t("strikes.pending", id=strike.id))
            buttons += [Button(f"#{strike.id} " + ctx.t("appeal.uphold_button"),
                               f"/appealdecide {strike.id} uphold"),
                        Button(f"#{strike.id} " + ctx.t("appeal.pardon_button"),
                               f"/appealdecide {strike.id} pardon")]
    return [Reply("\n".join(lines), buttons=tuple(buttons[:10]))]


async def pardon(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "pardon")
    if member is None:
        return problem
    active = await ctx.tx.accountability.active_strikes(member.id)
    if not active:
        return [ctx.reply("admin.no_strike", username=member.instagram_username)]
    strike = active[-1]
    await ctx.tx.accountability.pardon(ctx.who.account_id, strike, ctx.tx.now())
    week = strike.week_start
    _tell(ctx, member.id, lambda lang: t(lang, "appeal.pardoned", week=formatting.week(
        Week(week, ctx.tx.rules.timezone), lang)))
    return [ctx.reply("admin.pardoned", username=member.instagram_username,
                      week=_week(ctx, strike), reason=ctx.t(f"strike.{strike.reason}"))]


async def decide_appeal(ctx: Ctx, args: str) -> list[Reply]:
    parts = args.split()
    number = whole_number(parts[0]) if len(parts) == 2 else None
    strike = await ctx.tx.accountability.strike(number) \
        if number is not None and parts[1] in ("uphold", "pardon") else None
    if strike is None or strike.appeal != "pending":
        return [ctx.reply("appeal.unknown", id=parts[0][:20] if parts else "?")]
    now, week = ctx.tx.now(), strike.week_start
    zone = ctx.tx.rules.timezone
    if parts[1] == "pardon":
        await ctx.tx.accountability.pardon(ctx.who.account_id, strike, now)
        key = "appeal.pardoned"
    else:
        await ctx.tx.accountability.uphold(ctx.who.account_id, strike, now)
        key = "appeal.upheld"
    _tell(ctx, strike.member_id,
          lambda lang: t(lang, key, week=formatting.week(Week(week, zone), lang)))
    decision = ctx.t("appeal.decision_pardoned" if parts[1] == "pardon"
                     else "appeal.decision_upheld")
    return [ctx.reply("appeal.decided", id=strike.id, decision=decision)]


async def suspend(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "suspend")
    if member is None:
        return problem
    weeks = _weeks(args)
    if weeks is None:
        return [ctx.reply("admin.usage_weeks", command="suspend")]
    until = ctx.tx.accountability.weeks_from_now(ctx.tx.now(), weeks)
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "suspended", until,
                                           "member_suspended")
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_suspended",
                                         until=_when(ctx, until, lang)))
    return [ctx.reply("admin.suspended", username=member.instagram_username,
                      until=_when(ctx, until))]


async def pause(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "pause")
    if member is None:
        return problem
    weeks = _weeks(args)
    if len(args.split()) > 1 and weeks is None:
        return [ctx.reply("admin.usage_weeks", command="pause")]
    until = ctx.tx.accountability.weeks_from_now(ctx.tx.now(), weeks) if weeks else None
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "paused", until,
                                           "member_paused")

    def told(lang: str) -> str:
        suffix = t(lang, "status.told_paused_until", until=_when(ctx, until, lang)) \
            if until else ""
        return t(lang, "status.told_paused", until=suffix)

    _tell(ctx, member.id, told)
    suffix = ctx.t("status.told_paused_until", until=_when(ctx, until)) if until else ""
    return [ctx.reply("admin.paused", username=member.instagram_username, until=suffix)]


async def _reactivate(ctx: Ctx, args: str, command: str, status: str) -> list[Reply]:
    member, problem = await _member(ctx, args, command)
    if member is None:
        return problem
    if member.status != status:
        return [ctx.reply(f"admin.not_{status}", username=member.instagram_username)]
    action = {"unsuspend": "member_unsuspended", "resume": "member_resumed"}[command]
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "active", None, action)
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_active"))
    return [ctx.reply("admin.reactivated", username=member.instagram_username)]


async def unsuspend(ctx: Ctx, args: str) -> list[Reply]:
    return await _reactivate(ctx, args, "unsuspend", "suspended")


async def resume(ctx: Ctx, args: str) -> list[Reply]:
    return await _reactivate(ctx, args, "resume", "paused")


async def remove(ctx: Ctx, args: str) -> list[Reply]:
    """Removal happens only here, after an admin's confirmation button."""
    member, problem = await _member(ctx, args, "remove")
    if member is None:
        return problem
    name = member.instagram_username
    if args.split()[1:2] != ["confirm"]:
        button = Button(ctx.t("admin.remove_button"), f"/remove {name} confirm")
        return [ctx.confirm("admin.remove_confirm", button, "admin.remove_kept", username=name)]
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "removed", None,
                                           "member_removed")
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_removed"))
    return [ctx.reply("admin.removed", username=name)]


CORRECTIONS = {"done": "done", "완료": "done", "missing": "missing", "빠짐": "missing"}
MAX_REASON = 200


async def correct(ctx: Ctx, args: str) -> list[Reply]:
    """`/correct NAME POST_LINK done|missing REASON`: one verdict of last week's record
    changed, shown with the week's results with the admin's name and the reason."""
    parts = args.split(maxsplit=3)
    if len(parts) < 4:
        return [ctx.reply("correct.usage")]
    username, link = normalize_username(parts[0]), parse_post_link(parts[1])
    status, reason = CORRECTIONS.get(parts[2].lower()), parts[3].strip()
    if username is None or not isinstance(link, PostLink) or status is None:
        return [ctx.reply("correct.usage")]
    if len(reason) > MAX_REASON:
        return [ctx.reply("correct.reason_too_long", limit=MAX_REASON)]
    now = ctx.tx.now()
    week = Week.containing(now, ctx.tx.rules.timezone).previous()
    label = formatting.week(week, ctx.lang)
    if not await ctx.tx.records.exists(week):
        return [ctx.reply("correct.not_recorded", week=label)]
    actor = await ctx.tx.accountability.actor_name(ctx.who.account_id)
    done = await ctx.tx.records.correct(week, username, link.url, status, actor, reason, now)
    if done is None:
        return [ctx.reply("correct.no_entry", username=username, url=link.url, week=label)]
    await ctx.tx.audit.add(ctx.who.account_id, "week_corrected", target=username,
                           detail=f"{link.url} {done.before}->{status}")
    return [ctx.reply("correct.done", username=username, url=link.url, week=label,
                      before=t(ctx.lang, f"verdict.{done.before}"),
                      after=t(ctx.lang, f"verdict.{status}"))]


async def count_hidden(ctx: Ctx, args: str) -> list[Reply]:
    """`/counthidden STRIKE N|all`: the admin has seen the member's hidden comment on the
    strike's still-missing post N (or on all of them): the record counts it as done."""
    parts = args.split()
    number = whole_number(parts[0]) if len(parts) == 2 else None
    strike = await ctx.tx.accountability.strike_for_update(number) \
        if number is not None else None
    posts = hidden_posts(strike) if strike is not None else []
    everything = len(parts) == 2 and parts[1].lower() in ALL_WORDS
    which = whole_number(parts[1], 1, len(posts)) if posts and not everything else None
    if strike is None or not posts or (which is None and not everything):
        return [ctx.reply("hidden.unknown", id=parts[0][:20] if parts else "?")]
    if strike.appeal == "upheld":
        return [ctx.reply("hidden.upheld", id=strike.id)]
    done = await ctx.tx.accountability.count_hidden(
        ctx.who.account_id, strike, None if which is None else [which], ctx.tx.now())
    username = await ctx.tx.accountability.username(strike.member_id)
    if not done.counted:
        return [Reply("\n".join(ctx.t("hidden.already", username=username, owner=o, url=u)
                                for o, u in done.already))]
    zone, week_start = ctx.tx.rules.timezone, strike.week_start
    _tell(ctx, strike.member_id, _hidden_told(done, Week(week_start, zone)))
    label = _week(ctx, strike)
    lines = [ctx.t("hidden.counted", username=username, owner=o, url=u, week=label)
             for o, u in done.counted]
    lines.append(ctx.t("hidden.pardoned", id=strike.id, username=username) if done.pardoned
                 else ctx.t("hidden.remaining", count=len(done.remaining))
                 if done.remaining else ctx.t("hidden.all_counted"))
    return [Reply("\n".join(lines))]


def _hidden_told(done: HiddenCount, week: Week) -> Render:
    def render(lang: str) -> str:
        label = formatting.week(week, lang)
        lines = [t(lang, "hidden.told_counted", week=label)]
        lines += [t(lang, "announce.item", owner=o, url=u) for o, u in done.counted]
        if done.pardoned:
            lines.append(t(lang, "appeal.pardoned", week=label))
        elif done.remaining:
            lines.append(t(lang, "hidden.told_remaining", count=len(done.remaining)))
        return "\n".join(lines)
    return render


COMMANDS = [
    Command("me", me, audience="member", keywords=("내 기록", "me")),
    Command("leaderboard", leaderboard, audience="member", keywords=("순위", "leaderboard")),
    Command("appeal", appeal, audience="member", keywords=("이의 신청",)),
    Command("appealhidden", appeal_hidden, audience="member",
            keywords=("이의 신청 숨김", "댓글 숨김", "내 댓글이 숨겨졌어요",
                      "my comment is hidden"), in_menu=False),
    Command("strikes", strikes, audience="admin", keywords=("경고 목록",)),
    Command("pardon", pardon, audience="admin"),
    Command("suspend", suspend, audience="admin"),
    Command("unsuspend", unsuspend, audience="admin"),
    Command("pause", pause, audience="admin"),
    Command("resume", resume, audience="admin"),
    Command("remove", remove, audience="admin"),
    Command("correct", correct, audience="admin"),
    Command("appealdecide", decide_appeal, audience="admin", in_menu=False),
    Command("counthidden", count_hidden, audience="admin", in_menu=False),
]
