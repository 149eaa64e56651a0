"""The web pages from chat: `/weeklink` gives an admin the board's link with a line of
counts, to paste into the open chat (no bot can post there); `/newlink` makes a
member's personal link anew, closing the old one (it was shared, or a phone was lost),
a few times a day at most.
"""

from __future__ import annotations

from handlers import formatting
from handlers.arguments import iso_week, no_such_week
from handlers.context import Ctx
from handlers.events import Reply
from handlers.registry import Command
from services.web.links import NEWLINKS_PER_DAY
from services.week.calendar import Week


async def week_link(ctx: Ctx, args: str) -> list[Reply]:
    web, zone = ctx.services.web, ctx.tx.rules.timezone
    this_week = Week.containing(ctx.tx.now(), zone)
    week = iso_week(args, zone) if args.strip() else this_week
    if week is None:
        return [no_such_week(ctx, args) or ctx.reply("weeklink.usage")]
    if week.start > this_week.start:
        return [ctx.reply("results.future_week", week=formatting.week(week, ctx.lang))]
    if not web.available:
        return [ctx.reply("weeklink.unavailable")]
    board = await ctx.tx.board.board(week)
    url = web.week_url(None if week == this_week else week)
    key = "weeklink.text" if board.finished else "weeklink.text_so_far"
    paste = ctx.t(key, week=formatting.week(week, ctx.lang),
                  members=len(board.rows), left=board.comments_left, done=len(board.done),
                  url=url)
    if board.rows:
        paste += "\n" + ctx.t("weeklink.picture", url=web.picture_url(week))
    header = [ctx.reply("weeklink.header")]
    if not web.public:  # the link is this machine's own: say so before it is pasted
        header.append(ctx.reply("weeklink.not_public"))
    return [*header, Reply(paste)]


async def new_link(ctx: Ctx, _args: str) -> list[Reply]:
    web, member_id = ctx.services.web, ctx.who.member_id
    if member_id is None:
        return [ctx.reply("admin.not_member")]
    if not web.personal:
        return [ctx.reply("newlink.unavailable")]
    today = ctx.tx.now().astimezone(ctx.tx.rules.timezone).date()
    if not await web.renew(ctx.tx.session, member_id, today):
        return [ctx.reply("newlink.limit", limit=NEWLINKS_PER_DAY)]
    url = await web.personal_url(ctx.tx.session, member_id, ctx.tx.now())
    return [ctx.reply("newlink.done", url=url)]


COMMANDS = [
    Command("weeklink", week_link, audience="admin", keywords=("현황 링크", "주간 링크")),
    Command("newlink", new_link, audience="member", private_only=True,
            keywords=("새 링크",)),
]
