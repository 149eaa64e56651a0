"""The first handlers: /start (with invite deep links), /help, /lang, /claim."""

from __future__ import annotations

import re
from dataclasses import replace

from handlers import formatting
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import Command, Trigger
from services.members.admin_claim import ClaimResult
from services.members.chat_accounts import LANGUAGES
from services.week.calendar import Week

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
    # a re-link: the old phone's account is told, after the commit
    for platform, user_id, language in accepted.moved_from or ():
        ctx.defer(Continue(ctx.services.delivery.to_account, (platform, user_id, t(
            language, "invite.moved_away", username=accepted.username or ""))))
    key = "invite.moved_here" if accepted.moved_from else f"invite.{accepted.result.value}"
    start_here = ctx.t("invite.start_here_kakao" if ctx.event.platform == "kakao"
                       else "invite.start_here")
    return [ctx.reply(key, username=accepted.username or "", start_here=start_here,
                      **weekly_rules(ctx))]


def weekly_rules(ctx: Ctx) -> dict[str, object]:
    """The week's rules as a welcome states them: the quota and this week's deadlines."""
    rules, now = ctx.tx.rules, ctx.tx.now()
    week = Week.containing(now, rules.timezone)
    return {"minimum": rules.weekly_min_posts, "maximum": rules.weekly_max_posts,
            "submit": formatting.moment(week.at(rules.submission_deadline), rules.timezone,
                                        ctx.lang),
            "comment": formatting.moment(week.at(rules.comment_deadline), rules.timezone,
                                         ctx.lang)}


# The help's buttons on KakaoTalk: the commands a member uses most, as quick replies.
KAKAO_QUICK = ("status", "submit", "results", "notice")


def _word(command: Command, lang: str) -> str | None:
    """The word that runs `command` in the user's language (KakaoTalk members type words,
    not slash commands): English words for English, else the first Korean one."""
    korean = [w for w in command.keywords if any("가" <= c <= "힣" for c in w)]
    english = [w for w in command.keywords if w.isascii()]
    if lang == "en" and english:
        return english[0]
    return korean[0] if korean else None


def _kakao_help(ctx: Ctx, commands: list[Command]) -> list[Reply]:
    """KakaoTalk: the words people send there (링크 제출, 내 현황, ...), slash forms only
    for what has no word, and quick replies for the common ones."""
    lines = [ctx.t("help.words_header")]
    buttons = []
    for command in commands:
        word = _word(command, ctx.lang)
        lines.append(ctx.t("help.word_line", word=word or f"/{command.name}",
                           description=ctx.t(f"cmd.{command.name}")))
        if word and command.name in KAKAO_QUICK:
            buttons.append(Button(word, f"/{command.name}"))
    lines += ["", ctx.t("help.words_footer") if buttons else ctx.t("help.keywords")]
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def help_(ctx: Ctx, _args: str) -> list[Reply]:
    commands = ctx.registry.visible(ctx.who.audience, member=ctx.who.member_id is not None)
    if ctx.event.platform == "kakao":
        return _kakao_help(ctx, list(commands))
    lines = [ctx.t("help.header")]
    for command in commands:
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


INVITE_CODE = re.compile(r"^[A-Z2-9]{8}$")


def is_invite_code(ctx: Ctx, text: str) -> bool:
    """An invite code typed on its own: a member's own as it was given (capitals),
    anyone else's in any case."""
    code = text.strip()
    return bool(INVITE_CODE.match(code if ctx.who.member_id is not None else code.upper()))


async def typed_invite_code(ctx: Ctx, text: str) -> list[Reply]:
    return await start(ctx, text.strip())


TRIGGERS = [Trigger("invite_code", "text", is_invite_code, typed_invite_code)]
COMMANDS = [
    Command("start", start, keywords=("시작", "start")),
    Command("help", help_, keywords=("도움말", "도움", "help", "메뉴", "menu")),
    Command("lang", lang, keywords=("언어", "language")),
    Command("claim", claim, private_only=True, in_menu=False),
]
