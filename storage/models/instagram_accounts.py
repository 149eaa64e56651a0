"""Instagram accounts the bot uses or serves: helpers, consumers, producers, and the comment log.

Passwords and sessions are `EncryptedText` / `EncryptedJSON` columns: they reach the
database only as Fernet tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedJSON, EncryptedText
from storage.models.base import Base, CreatedAt, UTCDateTime


class Helper(CreatedAt, Base):
    """An Instagram account the bot reads with (commenters, followers)."""

    __tablename__ = "helper"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instagram_username: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    instagram_pk: Mapped[str | None] = mapped_column(String(32))  # None: not read yet
    password: Mapped[str | None] = mapped_column(EncryptedText())
    session: Mapped[Any] = mapped_column(EncryptedJSON(), nullable=True)
    # "new" (never logged in), "needs_code", "ready", "cooling" (rate limit), "checkpoint",
    # "expired" (services/instagram/helper_accounts.py says what each means).
    status: Mapped[str] = mapped_column(String(16), default="new", nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An InstagramError code (never the library's text: it may quote the request).
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)


class Consumer(CreatedAt, Base):
    """A member whose new posts receive automatic comments."""

    __tablename__ = "consumer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    instagram_username: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    instagram_pk: Mapped[str | None] = mapped_column(String(32))  # None: not read yet
    # "pending" (waits for an admin), "active", "off".
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_post_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Producer(CreatedAt, Base):
    """A member who lends their Instagram account to write automatic comments."""

    __tablename__ = "producer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    instagram_username: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    instagram_pk: Mapped[str | None] = mapped_column(String(32))  # None: not read yet
    password: Mapped[str | None] = mapped_column(EncryptedText())
    session: Mapped[Any] = mapped_column(EncryptedJSON(), nullable=True)
    verified: Mapped[bool] = mapped_column(default=False, nullable=False)
    # "pending" (waits for an admin), "active", "off".
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CommentLog(CreatedAt, Base):
    """Every attempt to write an automatic comment; unique per producer and post."""

    __tablename__ = "comment_log"
    __table_args__ = (UniqueConstraint("producer_id", "post_shortcode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producer.id", ondelete="CASCADE"), nullable=False
    )
    consumer_id: Mapped[int] = mapped_column(
        ForeignKey("consumer.id", ondelete="CASCADE"), nullable=False, index=True
    )
    post_shortcode: Mapped[str] = mapped_column(String(64), nullable=False)
    # "pending", "written", "failed", "skipped".
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
