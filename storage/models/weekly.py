"""The weekly exchange: submitted posts (seed request_by_week) and their verification."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, CreatedAt, UTCDateTime

VERIFICATION_STATUSES = ("done", "missing", "unknown")


class Submission(CreatedAt, Base):
    """One post a member handed in for a week (Monday of the week in the community's zone)."""

    __tablename__ = "request_by_week"
    # A post is submitted once a week, whoever submits it.
    __table_args__ = (UniqueConstraint("week_start", "shortcode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    shortcode: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="chat", nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # "active"; "gone" (deleted or private, confirmed by a second read); "comments_off"
    # (nobody can comment: nobody owes it, it still counts as handed in); "foreign" (its
    # author is not the member: nobody owes it, it does not count).
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    # The post's author as Instagram last said (None: not read yet).
    author: Mapped[str | None] = mapped_column(String(30))
    # When a read last said "not found" without a second read confirming it yet.
    not_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Verification(Base):
    """Whether one member commented on one submitted post, as last checked."""

    __tablename__ = "user_action_verification"

    # Keyed by post then member, and no other index: a post's verdicts are written
    # together (a thousand-member week writes 2.5 million), into neighbouring pages of
    # the one index. A member's verdicts are read through the week's posts (a probe a
    # post); deleting a member, which is rare, scans.
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("request_by_week.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
