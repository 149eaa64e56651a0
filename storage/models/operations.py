"""What a chat bot needs around the seed tables: conversations, groups, notices, runs, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedJSON
from storage.models.base import Base, CreatedAt, UTCDateTime


class ConversationState(Base):
    """Where one user stands in a multi-step flow; kept here so a restart continues it."""

    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    platform_user_id: Mapped[str] = mapped_column(String(128), nullable=False)
    flow: Mapped[str] = mapped_column(String(32), nullable=False)
    step: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class GroupChat(CreatedAt, Base):
    """A group chat registered to receive reminders and results."""

    __tablename__ = "group_chat"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str | None] = mapped_column(String(256))
    registered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_account.id", ondelete="SET NULL")
    )


class Notice(CreatedAt, Base):
    """An announcement; the newest one is the current notice."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    open_chat_url: Mapped[str | None] = mapped_column(Text)
    qr_image: Mapped[bytes | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_account.id", ondelete="SET NULL")
    )


class JobRun(Base):
    """One run of a scheduled job for one period; unique so a period never runs twice."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), nullable=False)
    period: Mapped[str] = mapped_column(String(64), nullable=False)
    # "running", "done", "failed".
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Starts of this run: more than one means it was interrupted and resumed.
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    error: Mapped[str | None] = mapped_column(Text)


class Outbox(CreatedAt, Base):
    """Replies waiting for the user's next message: work that outlived a platform's
    reply window (KakaoTalk without a callback), or the rest of a long answer; and
    (kind "send") a Telegram update's answer, queued by the transaction that marks the
    update handled and deleted once sent."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    platform_user_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    replies: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)


class AuditEntry(CreatedAt, Base):
    """An admin action, or a refused attempt at one."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_account.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[str | None] = mapped_column(Text)


class TelegramUpdate(Base):
    """Every Telegram update, recorded before it is acknowledged (unique by Telegram's
    own id) and processed from this record: a crash loses nothing, a redelivery runs
    nothing twice. `claimed_at` says when an instance took it up; `done_at` when its
    handling ended. The body can hold a password a person just typed: it is stored
    encrypted, and emptied once the update is handled (None: it was not kept)."""

    __tablename__ = "telegram_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
