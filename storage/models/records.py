"""A finished week as it was at its final check: the record results are read from.

Names, not foreign keys, tie it to members and posts: suspending, pausing, adding or
deleting a member later never changes it. Corrections (appeal re-checks, pardons, an
admin's correction) are rows of their own, with who made them and why.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class WeekRecord(Base):
    __tablename__ = "week_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, unique=True, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Whether any verdict was ever written for the week (False: nobody could check it).
    checked: Mapped[bool] = mapped_column(Boolean, nullable=False)


class WeekRecordMember(Base):
    """A member who was active when the week was recorded."""

    __tablename__ = "week_record_member"
    __table_args__ = (UniqueConstraint("week_start", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: outlives them
    username: Mapped[str] = mapped_column(String(30), nullable=False)
    submitted: Mapped[int] = mapped_column(Integer, nullable=False)


class WeekRecordPost(Base):
    """A post of the week: counted (owed by the others), comments_off, foreign or gone."""

    __tablename__ = "week_record_post"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True)
    owner: Mapped[str] = mapped_column(String(30), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    shortcode: Mapped[str] = mapped_column(String(64), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)


class WeekRecordEntry(Base):
    """One owed comment: who owed it on which post, and the verdict."""

    __tablename__ = "week_record_entry"
    __table_args__ = (UniqueConstraint("post_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("week_record_post.id", ondelete="CASCADE"), nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class WeekCorrection(Base):
    """A change to a recorded week, told with it: who, why, what it was and became."""

    __tablename__ = "week_correction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # "verdict" (an owed comment's verdict changed) or "pardon" (a strike taken back).
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    username: Mapped[str] = mapped_column(String(30), nullable=False)  # whose week changed
    post_owner: Mapped[str | None] = mapped_column(String(30))
    post_url: Mapped[str | None] = mapped_column(Text)
    before: Mapped[str | None] = mapped_column(String(32))
    after: Mapped[str | None] = mapped_column(String(32))
    # Who made it: "recheck" (an appeal's re-check by the bot) or an admin's name.
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
