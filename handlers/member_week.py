"""Members' weekly life: submit a link, withdraw it, see the to-do list, results, the notice."""

from __future__ import annotations

import re
from dataclasses import replace

from handlers import announcements, formatting
from handlers.arguments import iso_week, no_such_week, whole_number
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.registry import Command, Flow, Trigger
from services.instagram.runtime import Instagram
from services.week.calendar import Week
from services.week.link_check import CheckedLink, check_links, needs_instagram
from services.week.post_links import (
    LinkProblem,
    PostLink,
    find_links,
    looks_like_link,
    parse_post_link,
)
from services.week.progress import MISSED
from services.week.submissions import SubmitResult, Submitted, WithdrawResult

FLOW = "submit"
WITHDRAW_ID = "id:"  # a withdraw button's link, by its id rather than its number
WEEK_LABEL = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
STATUS_ICONS = {"done": "✅", "missing": "❌", "late": "⏰", "unknown": "❔", "unchecked": "⏳"}
STATUS_LINES = 100  # posts listed by /status (a 30-member community owes about 75)


async def submit(ctx: Ctx, args: str) -> list[Reply]:
    if args.strip():
        return await submit_link(ctx, args, in_flow=False)
    if no := await _refused_now(ctx):  # no link is asked for only to be refused
        return no
    ctx.goto(FLOW, "link")
    return [ctx.ask("submit.ask")]


async def _refused_now(ctx: Ctx) -> list[Reply]:
    """Why no link of this member would be taken now (empty: one may be)."""
    if ctx.who.member_id is None:
        return []
    refused = await ctx.tx.submissions.refusal(ctx.who.member_id, ctx.tx.now())
    return [] if refused is None else _refusal(ctx, refused)


def _refusal(ctx: Ctx, done: Submitted) -> list[Reply]:
    """A refusal whatever the link: the deadline passed, the quota full, not active."""
    ctx.end()
    if done.result is SubmitResult.CLOSED:
        deadline = ctx.tx.submissions.week(ctx.tx.now()).at(ctx.tx.rules.submission_deadline)
        when = formatting.moment(deadline, ctx.tx.rules.timezone, ctx.lang)
        return [ctx.reply("submit.closed", deadline=when)]
    buttons = (Button(ctx.t("button.withdraw"), "/withdraw"),) \
        if done.result is SubmitResult.OVER_MAX else ()
    return [ctx.reply(f"submit.{done.result.value}", *buttons, maximum=done.maximum)]


async def on_link(ctx: Ctx, text: str) -> list[Reply]:
    return await submit_link(ctx, text, in_flow=True)


async def submit_link(ctx: Ctx, text: str, *, in_flow: bool) -> list[Reply]:
    """Check and store the link(s); a bad link is explained and the step stays where it
    was. When Instagram is to be asked first (a share link to resolve, a post's author
    to read), that happens after this event's transaction, and the answer follows."""
    if no := await _refused_now(ctx):  # before any look at Instagram (a share link)
        return no
    found = find_links(text)
    parts = found if len(found) > 1 else [text]
    parsed = [parse_post_link(part) for part in parts]
    instagram = ctx.services.instagram
    if any(isinstance(p, PostLink) and needs_instagram(instagram, p) for p in parsed):
        return _submit_after_looking(ctx, parts, parsed, instagram)
    replies: list[Reply] = []
    for link in parsed:
        replies += await _submit_one(ctx, link, in_flow=in_flow)
    return _one_reply(parts, replies)


def _one_reply(parts: list[str], replies: list[Reply]) -> list[Reply]:
    """Several links in one message: one reply, a line per link with its fate, and
    one set of buttons (each kept once, in order)."""
    if len(parts) < 2 or len(replies) != len(parts):
        return replies
    lines, buttons = [], []
    for part, reply in zip(parts, replies, strict=True):
        first, *rest = reply.text.split("\n")
        lines.append(f"• {part.strip()[:120]}\n  {first}")
        lines += [f"  {line}" for line in rest if line.strip() and line.strip() not in part]
        buttons += [b for b in reply.buttons if b not in buttons]
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


def _submit_after_looking(ctx: Ctx, parts: list[str], parsed: list[PostLink | LinkProblem],
                          instagram: Instagram | None) -> list[Reply]:
    ctx.end()
    ctx.defer(Continue(check_links, (instagram, parsed), then=_links_looked,
                       values={"parts": parts}, catch=()))
    return [Reply(ctx.t("submit.checking"), progress=True)]


async def _links_looked(ctx: Ctx, looked: list[CheckedLink | LinkProblem], *,
                        parts: list[str]) -> list[Reply]:
    """Instagram has been asked about the links: each handed in now. The submit flow
    ended when they were sent; a flow the member started meanwhile goes on untouched."""
    kept = ctx.state
    replies: list[Reply] = []
    for item in looked:
        replies += await _submit_one(ctx, item, in_flow=False)
    ctx.state = kept
    return _one_reply(parts, replies)


async def _submit_one(ctx: Ctx, link: PostLink | LinkProblem | CheckedLink, *,
                      in_flow: bool) -> list[Reply]:
    info = None
    if isinstance(link, CheckedLink):
        if link.unresolved_share:
            return [ctx.reply("submit.share_unresolved", Button(ctx.t("button.submit_more"),
                                                                "/submit"), url=link.link.url)]
        link, info = link.link, link.info
    if isinstance(link, LinkProblem):
        key = f"link.{link.value}"
        return [ctx.ask(key) if in_flow else ctx.reply(key)]
    if ctx.who.member_id is None:
        return [ctx.reply("common.members_only")]
    done = await ctx.tx.submissions.submit(ctx.who.member_id, link, ctx.tx.now(), info=info)
    replies = _submitted(ctx, link, done, in_flow=in_flow)
    if done.renamed is not None:  # the reply says it, so nobody wonders why names differ
        note = ctx.t("submit.renamed", old=done.renamed[0], new=done.renamed[1])
        replies = [replace(reply, text=f"{reply.text}\n{note}") for reply in replies]
    return replies


def _submitted(ctx: Ctx, link: PostLink, done: Submitted, *, in_flow: bool) -> list[Reply]:
    if done.result is SubmitResult.ACCEPTED:
        ctx.end()
        return [_accepted(ctx, link, done.count, done.maximum)]
    if done.result is SubmitResult.FOREIGN:
        return [ctx.reply("submit.foreign", author=done.author, url=link.url,
                          me=ctx.who.member_username or "")]
    if done.result is SubmitResult.EARLIER_WEEK and done.earlier_week is not None:
        week = Week(done.earlier_week, ctx.tx.rules.timezone)
        key = "submit.earlier_week"  # another link may follow
        values = {"week": formatting.week(week, ctx.lang), "url": link.url}
        return [ctx.ask(key, **values) if in_flow else ctx.reply(key, **values)]
    if done.result is SubmitResult.DUPLICATE_COAUTHOR:
        key = "submit.duplicate_coauthor"
        return [ctx.ask(key, owner=done.owner) if in_flow else ctx.reply(key, owner=done.owner)]
    if done.result in (SubmitResult.CLOSED, SubmitResult.OVER_MAX, SubmitResult.NOT_ACTIVE):
        return _refusal(ctx, done)
    key = f"submit.{done.result.value}"  # duplicates: another link may follow
    return [ctx.ask(key) if in_flow else ctx.reply(key)]


def _accepted(ctx: Ctx, link: PostLink, count: int, maximum: int) -> Reply:
    text = ctx.t("submit.accepted", count=count, maximum=maximum, url=link.url)
    minimum = ctx.tx.rules.weekly_min_posts
    if count < minimum:
        text += "\n" + ctx.t("submit.below_minimum", minimum=minimum)
    buttons = [Button(ctx.t("button.status"), "/status")]
    if count < maximum:
        buttons.insert(0, Button(ctx.t("button.submit_more"), "/submit"))
    buttons.append(Button(ctx.t("button.withdraw"), "/withdraw"))
    return Reply(text, buttons=tuple(buttons))


async def withdraw(ctx: Ctx, args: str) -> list[Reply]:
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    now = ctx.tx.now()
    mine = await ctx.tx.submissions.mine(ctx.who.member_id, now)
    if args.strip() and not mine:
        return [ctx.reply("withdraw.none")]
    if args.strip():
        # A button names the link itself ("id:12": still right after another is taken
        # back); a number typed is the link's number on the list.
        word = args.strip()
        by_id = whole_number(word[3:]) if word.startswith(WITHDRAW_ID) else None
        number = whole_number(word, 1, len(mine)) if by_id is None else None
        if by_id is None and number is None:
            return [ctx.reply("withdraw.usage", count=len(mine))]
        chosen = by_id if by_id is not None else mine[(number or 1) - 1].id
        result = await ctx.tx.submissions.withdraw(ctx.who.member_id, chosen, now)
        count = len(await ctx.tx.submissions.mine(ctx.who.member_id, now))
        return [ctx.reply(f"withdraw.{result.value}", count=count,
                          maximum=ctx.tx.rules.weekly_max_posts)]
    if not mine:
        return [ctx.reply("withdraw.none")]
    if not ctx.tx.submissions.is_open(now):
        return [ctx.reply(f"withdraw.{WithdrawResult.CLOSED.value}")]
    buttons = [Button(f"{n}. {s.shortcode[:20]}", f"/withdraw {WITHDRAW_ID}{s.id}") for n, s in
               enumerate(mine, 1)]
    lines = [ctx.t("withdraw.choose")] + [f"{n}. {s.url}" for n, s in enumerate(mine, 1)]
    return [ctx.choices("\n".join(lines), buttons, "withdraw.kept")]


async def status(ctx: Ctx, _args: str) -> list[Reply]:
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    # Those still to do first; a big community's list ends at STATUS_LINES (the rest is
    # on the personal page: a chat of a thousand lines is read by nobody).
    view = await ctx.tx.progress.status(ctx.who.member_id, ctx.tx.now(), shown=STATUS_LINES)
    zone, lang = ctx.tx.rules.timezone, ctx.lang
    lines = [ctx.t("status.header", week=formatting.week(view.week, lang))]
    if view.owed:
        lines.append(ctx.t("status.todo_header", done=view.done, total=view.owed))
        lines += [f"{STATUS_ICONS[i.status]} {formatting.owner(i.owner, ctx.lang)} {i.url}".rstrip()
                  for i in view.todo]
        if view.owed > len(view.todo):
            lines.append(ctx.t("status.more", count=view.owed - len(view.todo)))
        lines.append(ctx.t("status.legend"))
    else:
        lines.append(ctx.t("status.todo_empty"))
    lines += ["", ctx.t("status.own_header", count=len(view.own), minimum=view.minimum,
                        maximum=view.maximum)]
    lines += [f"• {s.url}" for s in view.own]
    lines += [
        "",
        ctx.t("status.deadlines",
              submit=formatting.moment(view.submission_deadline, zone, lang),
              comment=formatting.moment(view.comment_deadline, zone, lang)),
    ]
    may_submit = await ctx.tx.submissions.refusal(ctx.who.member_id, ctx.tx.now()) is None
    buttons = [Button(ctx.t("button.submit_more"), "/submit")] if may_submit else []
    if view.left:
        buttons.insert(0, Button(ctx.t("status.check_now"), "/checknow"))
    if browser := await ctx.browser_button():
        buttons.append(browser)
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def community_results(ctx: Ctx, args: str) -> list[Reply]:
    """Admins: the community's results of a week (default: last week), as posted."""
    zone = ctx.tx.rules.timezone
    if args.strip():
        week = iso_week(args, zone)
        if week is None:
            return [no_such_week(ctx, args) or ctx.reply("results.admin_usage")]
    else:
        week = Week.containing(ctx.tx.now(), zone).previous()
    label = formatting.week(week, ctx.lang)
    if week.start > Week.containing(ctx.tx.now(), zone).start:
        return [ctx.reply("results.future_week", week=label)]
    recorded = await ctx.tx.progress.recorded(week)
    results = recorded or await ctx.tx.progress.live_week_results(week)
    if results.posts == 0:
        return [ctx.reply("results.admin_no_week", week=label)]
    if not results.checked:
        return [ctx.reply("results.admin_not_checked", week=label)]
    reasons = await ctx.tx.progress.check_reasons(week)
    # A week without its final record is not a result yet: headed as it stands so far.
    render = announcements.group_results(results, results.unchecked(reasons),
                                         so_far=recorded is None)
    return [Reply(render(ctx.lang), image_url=picture_url(ctx, week))]


def picture_url(ctx: Ctx, week: Week) -> str | None:
    """The week's results picture on the web app, where KakaoTalk can fetch it."""
    web = ctx.services.web
    return web.picture_url(week) if web.public else None


async def results(ctx: Ctx, args: str) -> list[Reply]:
    if ctx.who.is_admin and (args.strip() or ctx.who.member_id is None):
        return await community_results(ctx, args)
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    view = await ctx.tx.progress.results(ctx.who.member_id, ctx.tx.now())
    lines = [ctx.t("results.header", week=formatting.week(view.week, ctx.lang))]
    if view.posts == 0:
        return [Reply("\n".join([*lines, ctx.t("results.no_posts")]))]
    if not view.took_part:
        return [Reply("\n".join([*lines, ctx.t("results.not_part")]))]
    if not view.checked:
        return [Reply("\n".join([*lines, ctx.t("results.not_checked", posts=view.posts)]))]
    missing = [i for i in view.owed if i.status in MISSED]
    unknown = [i for i in view.owed if i.status in ("unknown", "unchecked")]
    done = len(view.owed) - len(missing) - len(unknown)
    lines.append(ctx.t("results.mine", done=done, total=len(view.owed)))
    lines += [f"{STATUS_ICONS[i.status]} {formatting.owner(i.owner, ctx.lang)} {i.url}".rstrip()
                  for i in missing]
    if unknown:
        lines.append(ctx.t("results.unknown", count=len(unknown)))
    if view.own_count < view.minimum:
        lines.append(ctx.t("results.below_minimum", count=view.own_count, minimum=view.minimum))
    lines += [
        "",
        ctx.t("results.community", posts=view.posts, done=view.members_done,
              missing=view.members_missing, unknown=view.members_unknown),
    ]
    if view.corrections:
        lines += ["", *announcements.correction_lines(ctx.lang, view.corrections)]
    return [Reply("\n".join(lines), image_url=picture_url(ctx, view.week))]


async def notice(ctx: Ctx, _args: str) -> list[Reply]:
    current = await ctx.tx.community.notice()
    if current is None:
        return [ctx.reply("notice.none")]
    when = formatting.moment(current.created_at, ctx.tx.rules.timezone, ctx.lang)
    text = f"{ctx.t('notice.header', when=when)}\n\n{current.text}"
    web = ctx.services.web
    # Where a platform shows pictures by address only (KakaoTalk), the web app serves it.
    qr_url = web.notice_qr_url(current.qr_image) \
        if current.qr_image and web.public else None
    return [Reply(text, image=current.qr_image, image_url=qr_url)]


def is_link(_ctx: Ctx, text: str) -> bool:
    return looks_like_link(text)


async def sent_link(ctx: Ctx, text: str) -> list[Reply]:
    """A member simply sends a link, outside any flow: that is a submission."""
    return await submit_link(ctx, text, in_flow=False)


TRIGGERS = [Trigger("post_link", "text", is_link, sent_link, audience="member")]
COMMANDS = [
    Command("submit", submit, audience="member", private_only=True,
            keywords=("링크 제출", "제출", "submit")),
    Command("status", status, audience="member", keywords=("내 현황", "현황", "status")),
    Command("results", results, audience="member", keywords=("결과", "results"),
            admins_too=True),
    Command("withdraw", withdraw, audience="member", private_only=True,
            keywords=("제출 취소", "withdraw")),
    Command("notice", notice, keywords=("공지", "notice")),
]
FLOWS = [Flow(FLOW, {"link": on_link})]
