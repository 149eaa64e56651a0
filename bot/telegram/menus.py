"""The command menus Telegram shows: per scope and language, and each admin's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)

from bot.telegram.api import PLATFORM, with_retries
from handlers.registry import Registry
from services.container import Services

AdminAccounts = Callable[[], Awaitable[list[tuple[str, str, str]]]]


def _commands(pairs: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(name, description[:256]) for name, description in pairs]


async def set_menus(bot: Bot, services: Services, registry: Registry,
                    admin_accounts: AdminAccounts | None) -> None:
    """Command menus per scope and language; admins get theirs in their own chat."""
    for language in ("ko", "en"):
        code = language if language != "ko" else None
        private = _commands(registry.menu("member", language))
        group = _commands(registry.menu("member", language, in_group=True))
        for scope, commands in (
            (BotCommandScopeAllPrivateChats(), private),
            (BotCommandScopeAllGroupChats(), group),
        ):
            await with_retries(
                lambda s=scope, c=commands, lc=code: bot.set_my_commands(
                    c, scope=s, language_code=lc
                )
            )
    if admin_accounts is not None:
        async with services.transaction() as tx:
            members = await tx.accounts.member_accounts(PLATFORM)
        for platform, user_id, language in await admin_accounts():
            if platform == PLATFORM:
                await set_admin_menu(bot, registry, int(user_id), language,
                                     member=user_id in members)


async def set_admin_menu(bot: Bot, registry: Registry, chat_id: int, language: str,
                         member: bool = True) -> None:
    """An admin's own menu: the admin commands, and member ones if they are one."""
    commands = _commands(registry.menu("admin", language, member=member))
    await with_retries(lambda: bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id)))
