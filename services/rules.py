"""The community's rules that come from config, handed down from the bot's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from services.week.calendar import Week


@dataclass(frozen=True)
class CommunityRules:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Seoul"))
    weekly_min_posts: int = 2
    weekly_max_posts: int = 3
    conversation_timeout: timedelta = timedelta(minutes=30)
    # Weekly deadlines, "WEEKDAY HH:MM" in the community's zone (services.week.calendar).
    submission_deadline: str = "SUN 12:00"
    comment_deadline: str = "SUN 23:59"
    # A comment made (Instagram's own time) by comment_deadline + comment_grace is on
    # time; a later one is "late".
    comment_grace: timedelta = timedelta(0)
    # A post handed in in an earlier week may be handed in again (its old comments count).
    allow_resubmitted_posts: bool = False
    # "Not found" answers this far apart (by two helpers where there are two) make a
    # post gone.
    gone_after: timedelta = timedelta(hours=6)
    # An open-chat export sent to the bot imports this many weeks, the current one included.
    kakao_import_weeks: int = 2
    # Where admins mail the open chat's export ("" : no mailbox is read): KakaoTalk,
    # which cannot send the bot a file, names it.
    import_mail_address: str = ""
    # A member who joins mid-week owes comments on the posts handed in before they joined.
    late_joiners_owe_earlier_posts: bool = False
    # The accountability ladder (services/accountability/ladder.py): what the 1st, 2nd, ...
    # active strike brings: "warning", "suspend N" (weeks), "removal" (proposed).
    ladder: tuple[str, ...] = ("warning", "removal")
    strike_for_missing: bool = True
    strike_for_below_minimum: bool = True
    # Weeks in a row without a single submission before removal is proposed (0: never).
    removal_after_empty_weeks: int = 2
    grace_weeks: int = 1  # a new member's first weeks earn no strike
    strikes_expire_after_clean_weeks: int = 4
    appeal_hours: int = 48
    # Unfollow checks with login a person may run in a day.
    unfollow_daily_limit: int = 3

    def comment_cutoff(self, week: Week) -> datetime:
        """The last moment a comment counts for `week`: the comment deadline (a comment
        made at it counts, one a second later is late), plus the grace."""
        return week.at(self.comment_deadline) + self.comment_grace
