"""The one place where commands read numbers, months and weeks from what people type.

Only ASCII digits count ("²" or "٣" pass `str.isdigit` but are no number anyone
meant), a number has at most nine digits and must lie in the command's range, a month
or a week must lie in the years the bot can have data for. Each reader answers None
for anything else, and the command says what it expects.
"""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.events import Reply
from services.week.calendar import Week

NUMBER = re.compile(r"[0-9]{1,9}")
MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
WEEK = re.compile(r"([0-9]{4})-?[Ww]([0-9]{1,2})")
# "2", "2번", "2.", "#2": the number of a listed choice.
CHOICE = re.compile(r"#?\s*([0-9]{1,9})\s*(?:번|\.|\))?")
YEARS = range(2020, 2101)  # a month or week outside these has no data, ever


def whole_number(text: str, low: int = 1, high: int = 10**9) -> int | None:
    """A whole number in [low, high] written in ASCII digits; None otherwise."""
    text = text.strip()
    if not NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def choice_number(text: str, count: int) -> int | None:
    """The number of one of `count` listed choices ("2", "2번", "2."); None otherwise."""
    found = CHOICE.fullmatch(text.strip())
    return whole_number(found.group(1), 1, count) if found else None


def month(text: str) -> tuple[int, int] | None:
    """"2026-11" -> (2026, 11)."""
    found = MONTH.fullmatch(text.strip())
    if not found:
        return None
    year, number = int(found.group(1)), int(found.group(2))
    return (year, number) if year in YEARS and 1 <= number <= 12 else None


def _year_and_week(text: str) -> tuple[int, int] | None:
    """"2026-W47" or "2026W47" -> (2026, 47), the number not checked yet."""
    found = WEEK.fullmatch(text.strip())
    if not found or int(found.group(1)) not in YEARS:
        return None
    return int(found.group(1)), int(found.group(2))


def iso_week(text: str, zone: ZoneInfo) -> Week | None:
    """"2026-W47" or "2026W47" -> that ISO week."""
    written = _year_and_week(text)
    if written is None:
        return None
    try:
        monday = date.fromisocalendar(*written, 1)
    except ValueError:
        return None
    return Week(monday, zone)


def missing_week(text: str) -> tuple[int, int] | None:
    """A week written right that does not exist ("2026-W60", "2026-W00"): (its year, how
    many ISO weeks that year has), so the answer says so instead of how to write one."""
    written = _year_and_week(text)
    if written is None:
        return None
    year, number = written
    weeks = date(year, 12, 28).isocalendar()[1]  # the 28th of December: the last week
    return None if 1 <= number <= weeks else (year, weeks)


def no_such_week(ctx: Ctx, text: str) -> Reply | None:
    """"There is no such week" for a week written right that does not exist (None for
    anything else: the command then says how to write one)."""
    missing = missing_week(text)
    if missing is None:
        return None
    return ctx.reply("week.missing", label=text.strip().upper(), year=missing[0],
                     weeks=missing[1])
