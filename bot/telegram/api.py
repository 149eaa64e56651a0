"""Calling the Bot API: retries on network failures, and Telegram's own limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter

log = logging.getLogger(__name__)
PLATFORM = "telegram"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's getFile limit
T = TypeVar("T")


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """Retry a Bot API call on network failures (a 502 from Telegram's front, a timeout).

    RetryAfter (429) is retried by the AIORateLimiter; BadRequest and Forbidden are
    answers, not failures, and are raised at once.
    """
    delay = 0.5
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter:
            raise
        except BadRequest:
            raise
        except NetworkError as exc:
            if attempt == attempts - 1:
                raise
            log.warning("Telegram network error (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
