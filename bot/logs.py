"""Logging setup: one line per record, plain text (LOG_FORMAT=text, the default, for a
person at a terminal) or a JSON object (LOG_FORMAT=json, for a log collector); and the
libraries that write request and update bodies are held back.

At DEBUG, python-telegram-bot logs every update (a password message included), httpx
logs each Bot API URL (the token is part of it), and instagrapi logs its requests. Those
loggers never go below the floor here, whatever LOG_LEVEL says. A JSON line carries a
record's `extra` fields too, with the value of any field whose name says it holds a
secret replaced.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has: the rest of a record's attributes came in `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
_SECRET = re.compile(r"pass(word|wd)|secret|token|session|cookie|api_?key|authori[sz]ation|"
                     r"credential|(^|_)code$", re.IGNORECASE)
HIDDEN = "[hidden]"

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


class JsonLines(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, logger, message, the
    exception and stack when there are, and the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = HIDDEN if _SECRET.search(name) else value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: int, form: str = "text") -> None:
    """Log at `level` to standard error, one line a record, in `form` ("text" or "json")."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    hold_back_libraries(level)
