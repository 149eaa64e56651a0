"""Logging setup: libraries that write request and update bodies are held back.

At DEBUG, python-telegram-bot logs every update (a password message included), httpx
logs each Bot API URL (the token is part of it), and instagrapi logs its requests. Those
loggers never go below the floor here, whatever LOG_LEVEL says.
"""

from __future__ import annotations

import logging

FLOORS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "instagrapi": logging.INFO,
    "private_request": logging.WARNING,
    "public_request": logging.WARNING,
    "instaloader": logging.INFO,
    "urllib3": logging.INFO,
    "aiosqlite": logging.INFO,
    "alembic.runtime.plugins": logging.WARNING,
    # One line per job run otherwise (the leader check runs every 30 seconds).
    "apscheduler": logging.WARNING,
}


def hold_back_libraries(level: int) -> None:
    """Set each talkative library's logger to `level`, but never below its floor."""
    for name, floor in FLOORS.items():
        logging.getLogger(name).setLevel(max(level, floor))


def configure(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    hold_back_libraries(level)
