"""The first handlers: /start (with invite deep links), /help, /lang, /claim."""

from __future__ import annotations

from dataclasses import replace

from handlers import formatting
from handlers.context import Ctx, ProgressFn
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import ALL_COMMANDS, Command, visible_commands
from services.accounts import LANGUAGES
from services.admins import ClaimResult
from services.weeks import Week

LANGUAGE_LABELS = {"ko": "한국어", "en": "English"}


async def start(ctx: Ctx, args: str) -> list[Reply]:
    if args:
        return await _accept_invite(ctx, args)
    if ctx.who.is_admin:
        return [ctx.reply("start.welcome_admin")]
    if ctx.who.member_id:
        return [ctx.reply("start.welcome_member", username=ctx.who.member_username)]
    return [ctx.reply("stranger.how_to_join")]


async def _accept_invite(ctx: Ctx, code: str) -> list[Reply]:
    accepted = await ctx.tx.invites.accept(ctx.who.account_id, code)
    if accepted.moved_from:  # a re-link: the old phone's account is told
        services, username, moved = ctx.services, accepted.username or "", accepted.moved_from

        async def work(_progress: ProgressFn) -> list[Reply]:
            if services is not None and services.delivery is not None:
                for platform, user_id, language in moved:
                    await services.delivery.to_account(
                        platform, user_id, t(language, "invite.moved_away", username=username))
            return []

        ctx.after(work)
    key = "invite.moved_here" if accepted.moved_from else f"invite.{accepted.result.value}"
    return [ctx.reply(key, username=accepted.username or "", **weekly_rules(ctx))]


def weekly_rules(ctx: Ctx) -> dict[str, object]:
    """The week's rules as a welcome states them: the quota and this week's deadlines."""
    rules, now = ctx.tx.rules, ctx.tx.now()
    week = Week.containing(now, rules.timezone)
    return {"minimum": rules.weekly_min_posts, "maximum": rules.weekly_max_posts,
            "submit": formatting.moment(week.at(rules.submission_deadline), rules.timezone,
                                        ctx.lang),
            "comment": formatting.moment(week.at(rules.comment_deadline), rules.timezone,
                                         ctx.lang)}


async def help_(ctx: Ctx, _args: str) -> list[Reply]:
    lines = [ctx.t("help.header")]
    for command in visible_commands(ALL_COMMANDS, ctx.who.audience,
                                    member=ctx.who.member_id is not None):
        lines.append(
            ctx.t("help.line", command=command.name, description=ctx.t(f"cmd.{command.name}"))
        )
    lines += ["", ctx.t("help.keywords")]
    return [Reply("\n".join(lines))]


def _language_buttons() -> tuple[Button, ...]:
    return tuple(Button(LANGUAGE_LABELS[code], f"/lang {code}") for code in LANGUAGES)


async def lang(ctx: Ctx, args: str) -> list[Reply]:
    choice = args.strip().lower()
    if not choice:
        return [ctx.reply("lang.choose", *_language_buttons())]
    if choice not in LANGUAGES:
        return [ctx.reply("lang.unknown", *_language_buttons(), value=args.strip())]
    await ctx.tx.accounts.set_language(ctx.event.platform, ctx.event.user_id, choice)
    ctx.who = replace(ctx.who, language=choice)
    return [ctx.reply("lang.set")]


async def claim(ctx: Ctx, args: str) -> list[Reply]:
    if not args.strip():
        return [ctx.reply("claim.usage")]
    result = await ctx.tx.admins.claim(ctx.who.account_id, args)
    if result is ClaimResult.CLAIMED:
        ctx.menu_changed = True
    return [ctx.reply(f"claim.{result.value}")]


COMMANDS = [
    Command("start", start, keywords=("시작", "start")),
    Command("help", help_, keywords=("도움말", "도움", "help", "메뉴", "menu")),
    Command("lang", lang, keywords=("언어", "language")),
    Command("claim", claim, private_only=True, in_menu=False),
]
