"""Accountability: each member's week as it ended, and the strikes of the ladder."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, CreatedAt, UTCDateTime


class MemberWeek(Base):
    """How one member's week ended (written once, when the ladder runs; an appeal that
    clears may update it): the basis of streaks, completion rates and the leaderboard."""

    __tablename__ = "member_week"
    __table_args__ = (UniqueConstraint("member_id", "week_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    owed: Mapped[int] = mapped_column(Integer, nullable=False)
    done: Mapped[int] = mapped_column(Integer, nullable=False)
    missing: Mapped[int] = mapped_column(Integer, nullable=False)
    unknown: Mapped[int] = mapped_column(Integer, nullable=False)
    submitted: Mapped[int] = mapped_column(Integer, nullable=False)
    # Every owed comment written (nothing missing, nothing unknown) and the quota met.
    complete: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # No strike this week (grace weeks are clean).
    clean: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Strike(CreatedAt, Base):
    """One strike of the ladder: a week with comments left missing, or below the quota."""

    __tablename__ = "strike"
    __table_args__ = (UniqueConstraint("member_id", "week_start", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    week_start: Mapped[date] = mapped_column(Date, nullable=False)
    # "missing" (posts left uncommented) or "below_minimum" (too few posts handed in).
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    # The evidence: {"posts": [[owner, url], ...]} or {"submitted": n, "minimum": m}.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    # "active", "expired" (clean weeks since), "pardoned" (an admin, or an appeal).
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    # None, "pending" (with the admins), "cleared" (the re-check found the comments),
    # "upheld" or "pardoned" (the admins decided).
    appeal: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
