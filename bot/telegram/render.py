"""Replies as Telegram messages: inline keyboards, text split at 4096 characters,
pictures, files, a progress message edited in place, a password's message deleted."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import MessageLimit
from telegram.error import BadRequest, TelegramError

from bot.channels import Capabilities, picture_line
from bot.telegram.api import CALLBACK_DATA_LIMIT, with_retries
from bot.text import split_text
from handlers.events import Button, Reply

log = logging.getLogger(__name__)
PROGRESS_EVERY = 3.0  # seconds between two edits of a progress message

# Telegram shows every part of a reply.
TELEGRAM = Capabilities(buttons=True, url_buttons=True, images=True, image_urls=True,
                        files=True, edits=True, deletion=True, push=True, groups=True,
                        receives_files=True)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One button a row: labels stay readable on a phone."""
    if not buttons:
        return None
    for button in buttons:
        if len(button.payload.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"button payload over {CALLBACK_DATA_LIMIT} bytes: {button.payload!r}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, url=b.url) if b.url
          else InlineKeyboardButton(b.label, callback_data=b.payload)] for b in buttons]
    )


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> int | None:
    """Send one reply (split to fit); returns the id of its last text message."""
    chunks = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
    last = None
    for index, chunk in enumerate(chunks):
        markup = keyboard(reply.buttons) if index == len(chunks) - 1 else None
        last = await with_retries(
            lambda c=chunk, m=markup: bot.send_message(chat_id, c, reply_markup=m)
        )
    if reply.image is not None:
        photo = InputFile(reply.image, filename="image.png")
        await with_retries(lambda: bot.send_photo(chat_id, photo=photo))
    elif reply.image_url:  # the week's picture on the web app: Telegram fetches it
        await _send_picture_url(bot, chat_id, reply.image_url)
    if reply.document is not None:
        name, content = reply.document
        await with_retries(lambda: bot.send_document(
            chat_id, document=InputFile(content, filename=name)))
    return last.message_id if last is not None else None


async def _send_picture_url(bot: Bot, chat_id: int, url: str) -> None:
    """A picture by its address; when Telegram cannot fetch it, its link instead."""
    try:
        await with_retries(lambda: bot.send_photo(chat_id, photo=url))
    except BadRequest as exc:
        log.warning("Telegram could not fetch the picture %s: %s", url, exc)
        await with_retries(lambda: bot.send_message(chat_id, picture_line(url)))


async def delete_secret(bot: Bot, chat_id: int, message_id: int) -> None:
    """A password's message, gone from the chat (a failure is logged, not raised)."""
    try:
        await with_retries(lambda: bot.delete_message(chat_id, message_id))
    except TelegramError as exc:
        log.warning("could not delete a secret message in chat %s: %s", chat_id, exc)


class ProgressMessage:
    """One message edited in place as long work goes on: at most one edit every
    PROGRESS_EVERY seconds (Telegram limits edits too), and never the same text twice."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.clock = clock
        self.last_edit = float("-inf")
        self.text = ""

    async def show(self, text: str) -> None:
        now = self.clock()
        if text == self.text or now - self.last_edit < PROGRESS_EVERY:
            return
        self.text, self.last_edit = text, now
        try:
            if self.message_id is None:
                sent = await self.bot.send_message(self.chat_id, text)
                self.message_id = sent.message_id
            else:
                await self.bot.edit_message_text(text, chat_id=self.chat_id,
                                                 message_id=self.message_id)
        except TelegramError as exc:  # a lost progress update is not worth failing for
            log.info("progress update not shown: %s", exc)
