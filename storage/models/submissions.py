"""The weekly exchange: submitted posts (seed request_by_week) and their verification."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, CreatedAt, UTCDateTime

# "done": commented by the week's comment deadline (plus the grace); "late": the only
# comment came after it; "missing": a complete read lacks a comment; "unknown": not
# settled by a complete read; "coauthor": a co-author of the post, owes nothing on it.
VERIFICATION_STATUSES = ("done", "late", "missing", "unknown", "coauthor")


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
    shortcode: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(16), default="chat", nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # "active"; "gone" (deleted: reads hours apart, by different helpers, agree);
    # "private" (its account is private: nobody can read it until it is public again;
    # it does not count); "comments_off" (nobody can comment: nobody owes it, it still
    # counts as handed in); "foreign" (neither its author nor a co-author is the member:
    # nobody owes it, it does not count).
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    # The post's author as Instagram last said (None: not read yet).
    author: Mapped[str | None] = mapped_column(String(30))
    author_pk: Mapped[str | None] = mapped_column(String(32))
    # The co-authors' usernames (a collab post), space-separated (None: none, or not read).
    coauthors: Mapped[str | None] = mapped_column(Text)
    # The first "not found" of the answers that have all said so since (None: the last
    # read saw the post), and the helpers that said it, space-separated.
    not_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_found_by: Mapped[str | None] = mapped_column(Text)


class PostRead(Base):
    """A post's comments as the verification last read them: the read in progress (kept
    so a paused, failed or cut read goes on from its next page, in any process), and the
    summary of the last read that went through every page, from which the next read asks
    only what is newer (services/verification/verifier.py)."""

    __tablename__ = "post_reads"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("request_by_week.id", ondelete="CASCADE"), primary_key=True
    )
    # The latest read as JSON (services/instagram/comment_pages.CommentRead.to_state):
    # unfinished when `finished` is false, else the base of the next, newer-only read.
    state: Mapped[str | None] = mapped_column(Text)
    finished: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The last read that went through every page ("exhausted"): the newest comment's pk
    # and time, the cursor asking for newer ones (if Instagram gave one), the distinct
    # comments seen, the count Instagram reported (None: none, or it did not add up).
    newest_pk: Mapped[str | None] = mapped_column(String(32))
    newest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    head_cursor: Mapped[str | None] = mapped_column(Text)
    seen: Mapped[int | None] = mapped_column(Integer)
    reported: Mapped[int | None] = mapped_column(Integer)
    exhausted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a read of the post last advanced (the least recently read go first).
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
