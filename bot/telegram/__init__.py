"""Telegram transport on python-telegram-bot 22: polling or webhook, inside our event loop.

Where each part lives:

- transport.py   the transport: lifecycle, one person's updates in order, answers
                 queued with their handling and sent after the commit, the Channel
                 jobs use (post, broadcast)
- updates.py     the record of updates: polling, acknowledging only what is recorded,
                 taking up what a crashed instance left
- update_record.py  what a webhook body must look like to be recorded
- webhook.py     the webhook endpoint (secret checked, recorded before the 200)
- incoming.py    updates as the handlers' Incoming events
- files.py       files people send (downloaded within the Bot API's limit)
- render.py      replies as messages: keyboards, splitting, pictures, files, progress
                 edits, a password's message deleted; what Telegram can show
- answers.py     an update's answer as JSON, as the outbox keeps it
- menus.py       the command menus per scope, language and admin
- api.py         Bot API calls with retries, Telegram's limits
"""

from bot.telegram.api import PLATFORM
from bot.telegram.transport import TelegramTransport
from bot.telegram.webhook import WEBHOOK_PATH

__all__ = ["PLATFORM", "WEBHOOK_PATH", "TelegramTransport"]
