"""What the unfollow check keeps, only when the person asks: a whitelist, and the
followers of their last kept check (to say who stopped following since). Nothing of
an Instagram login is ever stored for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, CreatedAt, UTCDateTime


class FollowWhitelist(CreatedAt, Base):
    """Accounts a person follows on purpose: hidden from "does not follow back"."""

    __tablename__ = "follow_whitelist"
    __table_args__ = (UniqueConstraint("chat_account_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_account_id: Mapped[int] = mapped_column(
        ForeignKey("chat_account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    username: Mapped[str] = mapped_column(String(30), nullable=False)


class FollowSnapshot(Base):
    """The followers of a person's last check that they chose to keep (one per person)."""

    __tablename__ = "follow_snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_account_id: Mapped[int] = mapped_column(
        ForeignKey("chat_account.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    followers: Mapped[list[str]] = mapped_column(JSON, nullable=False)
