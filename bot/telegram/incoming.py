"""Telegram updates as the handlers' `Incoming` events: a text, a button, a file."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Chat, Update, User
from telegram.error import TelegramError

from bot.telegram.api import PLATFORM
from bot.telegram.files import download
from bot.telegram.render import TELEGRAM
from handlers.events import Incoming

log = logging.getLogger(__name__)


def meant_for(bot_name: str, text: str) -> bool:
    """In groups only commands count, and only bare ones or ones addressed to this bot
    (`bot_name`: the bot's own Telegram name)."""
    if not text.startswith("/"):
        return False
    head = text.split(maxsplit=1)[0]
    return "@" not in head or head.split("@", 1)[1].lower() == bot_name.lower()


def _event(update: Update, chat: Chat, user: User, **details: Any) -> Incoming:
    """What every Telegram event says the same way: who, where, and what the channel can
    do (its capabilities, bot/telegram/render.py)."""
    return Incoming(
        platform=PLATFORM,
        chat_id=str(chat.id),
        chat_kind="private" if chat.type == "private" else "group",
        user_id=str(user.id),
        user_name=user.full_name,
        language_hint=user.language_code,
        deletes_messages=TELEGRAM.deletion,
        sends_files=TELEGRAM.receives_files,
        takes_documents=TELEGRAM.files,
        delivery_id=update.update_id,
        **details,
    )


def message_event(update: Update, username: str) -> Incoming | None:
    """A text message; None for one not for the bot (a group's chatter)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None or message.text is None:
        return None
    if chat.type != "private" and not meant_for(username, message.text):
        return None
    return _event(update, chat, user, text=message.text, message_id=str(message.message_id))


async def document_event(update: Update) -> Incoming | None:
    """A file in a private chat (an open-chat export from an admin), downloaded (the
    transport takes documents from private chats only)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.document is None:
        return None
    document = message.document
    return _event(update, message.chat, user, text=message.caption or "",
                  message_id=str(message.message_id), attachment=await download(document),
                  attachment_name=document.file_name or "", attachment_size=document.file_size)


async def button_event(update: Update) -> Incoming | None:
    """A pressed button, answered at once so it stops spinning on the user's phone."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return None
    try:
        await query.answer()
    except TelegramError as exc:
        log.info("could not answer callback query: %s", exc)
    chat = query.message.chat if query.message else None
    if chat is None:
        return None
    return _event(update, chat, user, payload=query.data or "")
