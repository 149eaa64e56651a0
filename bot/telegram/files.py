"""Files people send the bot on Telegram (an open-chat export), read within the Bot
API's download limit."""

from __future__ import annotations

from telegram import Document

from bot.telegram.api import MAX_DOWNLOAD, with_retries


async def download(document: Document) -> bytes:
    """The file's bytes; empty when it is over the limit (its announced size then tells
    the person the limit)."""
    if (document.file_size or 0) > MAX_DOWNLOAD:
        return b""
    telegram_file = await with_retries(document.get_file)
    return bytes(await with_retries(telegram_file.download_as_bytearray))
