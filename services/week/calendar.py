"""Weeks run Monday to Sunday in the community's time zone; deadlines are config.

A deadline is written like "SUN 12:00": a weekday and a time, within the week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DEADLINE = re.compile(r"^(MON|TUE|WED|THU|FRI|SAT|SUN) ([01]\d|2[0-3]):([0-5]\d)$")


def parse_deadline(text: str) -> tuple[int, time]:
    """"SUN 12:00" -> (6, 12:00); raises ValueError with the expected form."""
    match = DEADLINE.match(text.strip().upper())
    if not match:
        raise ValueError(f"{text!r} is not like 'SUN 12:00' (weekday MON..SUN, then HH:MM)")
    return WEEKDAYS.index(match.group(1)), time(int(match.group(2)), int(match.group(3)))


@dataclass(frozen=True)
class Week:
    start: date  # the Monday
    zone: ZoneInfo

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Week:
        local = moment.astimezone(zone).date()
        return cls(local - timedelta(days=local.weekday()), zone)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    def previous(self) -> Week:
        return Week(self.start - timedelta(days=7), self.zone)

    def at(self, deadline: str) -> datetime:
        """The moment of a "SUN 12:00" deadline in this week, in UTC."""
        weekday, clock = parse_deadline(deadline)
        local = datetime.combine(self.start + timedelta(days=weekday), clock, self.zone)
        return local.astimezone(UTC)
