"""The community: members (seed table sns_raise_user), admins, chat accounts and invites."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, CreatedAt, UTCDateTime

MEMBER_STATUSES = ("active", "paused", "suspended", "removed")
LINK_SECRET_BYTES = 16


def new_link_secret() -> bytes:
    return secrets.token_bytes(LINK_SECRET_BYTES)


class Member(CreatedAt, Base):
    """A community member, known by Instagram's numeric user id (`instagram_pk`, learned
    from the first read that shows the account) and by their current username (stored
    lower-case, followed when Instagram shows the pk with a new name)."""

    __tablename__ = "sns_raise_user"
    # Ids are never reused (SQLite would hand a deleted member's id to the next one):
    # week records and logs that keep an id never come to name someone else.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instagram_username: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    # Indexed, not unique: storing it then takes no key lock on the row, which verdicts
    # hold (services/members/instagram_identities.py keeps it one member's).
    instagram_pk: Mapped[str | None] = mapped_column(String(32), index=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a pause or a suspension ends by itself (None: a pause until /resume).
    status_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Raised to revoke every personal web link made so far (services/web/links.py).
    link_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                            nullable=False)
    # The member's last "check now" (services/verification/check_runs.py): the cooldown,
    # shared by every instance and kept over a restart.
    check_now_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Random, made with the member: their personal links name it (never the id), so a
    # link cannot open the page of anyone added after the member was deleted.
    link_secret: Mapped[bytes] = mapped_column(LargeBinary(LINK_SECRET_BYTES), unique=True,
                                               default=new_link_secret, nullable=False)
    # /newlink's daily limit: the community day of the last new links, and how many.
    links_made_on: Mapped[date | None] = mapped_column(Date)
    links_made: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                            nullable=False)

    chat_accounts: Mapped[list[ChatAccount]] = relationship(back_populates="member")


class MemberName(Base):
    """A username a member had before a rename: it still resolves in open-chat imports,
    links and earlier weeks' results."""

    __tablename__ = "member_name"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class ChatAccount(CreatedAt, Base):
    """Someone who wrote to the bot on one platform; linked to a member once invited."""

    __tablename__ = "chat_account"
    __table_args__ = (
        UniqueConstraint("platform", "platform_user_id"),
        # A member links at most one account per platform.
        UniqueConstraint("member_id", "platform"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    platform_user_id: Mapped[str] = mapped_column(String(128), nullable=False)
    display_name: Mapped[str | None] = mapped_column(Text)  # whole: Telegram allows 129
    language: Mapped[str] = mapped_column(String(8), default="ko", nullable=False)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="SET NULL"), index=True
    )
    # False once a private message to this account failed (never started, or blocked).
    reachable: Mapped[bool] = mapped_column(default=True, nullable=False)

    member: Mapped[Member | None] = relationship(back_populates="chat_accounts")


class Admin(CreatedAt, Base):
    """An admin: created from the CLI with a one-time claim code, claimed from a chat account."""

    __tablename__ = "admin"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    chat_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_account.id", ondelete="CASCADE"), unique=True
    )
    claim_code_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invite(CreatedAt, Base):
    """A personal, single-use invite that links a chat account to a member."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("sns_raise_user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_account.id", ondelete="SET NULL")
    )
    # A re-link (a new phone): accepting it moves the member from their old account on
    # that platform to the new one, history kept.
    moves_account: Mapped[bool] = mapped_column(default=False, server_default=false(),
                                                nullable=False)
