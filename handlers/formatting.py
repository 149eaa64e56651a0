"""Dates, weeks and times in the community's zone, written the way each language reads them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.i18n import t
from services.week.calendar import Week
from services.week.record import is_deleted

KO_WEEKDAYS = "월화수목금토일"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day(value: date, language: str) -> str:
    if language == "en":
        return f"{EN_WEEKDAYS[value.weekday()]} {value.day} {EN_MONTHS[value.month - 1]}"
    return f"{value.month}월 {value.day}일 ({KO_WEEKDAYS[value.weekday()]})"


def moment(value: datetime, zone: ZoneInfo, language: str) -> str:
    local = value.astimezone(zone)
    return f"{day(local.date(), language)} {local:%H:%M}"


def week(value: Week, language: str) -> str:
    return f"{day(value.start, language)} ~ {day(value.end, language)}"


def owner(name: str, language: str) -> str:
    """A post's owner as a line shows them: "@name", or "(삭제된 멤버)" for a member
    deleted since the week was recorded (the record keeps no name of theirs)."""
    return t(language, "deluser.shown_as") if is_deleted(name) else f"@{name}"
