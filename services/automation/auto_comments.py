"""Consumers, producers, and the nightly automatic comments.

A consumer is a member whose new posts receive comments; a producer lends their
Instagram account to write them (services/automation/registrations.py registers both).
The nightly job finds each active consumer's posts newer than the last one seen, picks producers by
least recent use (never the consumer's own account, never twice on one post), within
per-producer caps per hour and per day, and writes one distinct comment per producer.

Every attempt is in the comment log, unique per (producer, post), and the row is
committed *before* the write: a re-run or a crash mid-way can never write the same
producer's comment on a post twice (an attempt cut by a crash stays "pending").
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.automation.comment_text import CommentWriter
from services.instagram.errors import (
    ActionBlocked,
    CheckpointRequired,
    InstagramError,
    NotFound,
    PrivateProfile,
    RateLimited,
    SessionExpired,
)
from services.instagram.gateway import Post
from services.instagram.helper_accounts import HelperAccountService
from services.instagram.pool import ROUTINE_SHARE
from storage.models import CommentLog, Consumer, Member, Producer, utcnow

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger(__name__)
COUNTED = ("pending", "written")  # what counts against a producer's caps
FIRST_LOOK = timedelta(days=2)  # a new consumer's posts from this far back are served


@dataclass(frozen=True)
class CommentRules:
    comments_per_post: int = 3
    producer_hourly_cap: int = 8  # Instagram tolerates about 60 an hour; stay far below
    producer_daily_cap: int = 25
    jitter: tuple[float, float] = (20.0, 90.0)  # seconds between two writes
    window: timedelta = timedelta(hours=1)  # no new write starts after this


@dataclass
class CommentReport:
    consumers: int = 0
    posts: int = 0
    written: int = 0
    failed: int = 0
    skipped: int = 0
    capped: int = 0
    unverified: list[str] = field(default_factory=list)  # producers whose session expired


Tell = Callable[[int, str], Awaitable[None]]  # (member id, what happened) -> told privately


class AutoCommenter:
    def __init__(self, services: Services, writer: CommentWriter, rules: CommentRules, *,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 tell: Tell | None = None, seed: int | None = None) -> None:
        self.services = services
        self.writer = writer
        self.rules = rules
        self.clock = clock
        self.sleep = sleep
        self.tell = tell
        self.random = random.Random(seed)

    async def run(self) -> CommentReport:
        report = CommentReport()
        instagram = self.services.instagram
        deadline = self.clock() + self.rules.window
        async with self.services.transaction() as tx:
            await HelperAccountService(tx.session, instagram).load_pool()
            consumers = list(await tx.session.scalars(
                select(Consumer).join(Member, Member.id == Consumer.member_id)
                .where(Consumer.status == "active", Member.status == "active")))
        report.consumers = len(consumers)
        for consumer in consumers:
            try:
                posts = await instagram.pool.run(lambda s, c=consumer: instagram.gateway
                                                 .recent_posts(s, c.instagram_username, 6),
                                                 share=ROUTINE_SHARE)  # not the final's
            except InstagramError as exc:
                log.warning("could not list @%s's posts: %s", consumer.instagram_username,
                            exc.code)
                continue
            seen = consumer.last_seen_post_at or (self.clock() - FIRST_LOOK)
            for post in sorted((p for p in posts if p.taken_at > seen),
                               key=lambda p: p.taken_at):
                if self.clock() >= deadline:
                    return report
                report.posts += 1
                await self._serve(consumer, post, report, deadline)
                async with self.services.transaction() as tx:
                    row = await tx.session.get(Consumer, consumer.id)
                    if row is not None:
                        row.last_seen_post_at = max(row.last_seen_post_at or post.taken_at,
                                                    post.taken_at)
        async with self.services.transaction() as tx:
            await HelperAccountService(tx.session, instagram).save_pool()
        return report

    async def _producers(self, consumer: Consumer, shortcode: str
                         ) -> tuple[list[Producer], int]:
        """Producers that may write on this post now (least recently used first), and how
        many comments the post still needs."""
        now = self.clock()
        async with self.services.transaction() as tx:
            done = set(await tx.session.scalars(
                select(CommentLog.producer_id).where(CommentLog.post_shortcode == shortcode)))
            producers = list(await tx.session.scalars(
                select(Producer).join(Member, Member.id == Producer.member_id)
                .where(Producer.status == "active", Producer.verified.is_(True),
                       Member.status == "active", Producer.member_id != consumer.member_id,
                       Producer.instagram_username != consumer.instagram_username)
                .order_by(Producer.last_used_at.is_not(None), Producer.last_used_at,
                          Producer.id)))
            usable = []
            for producer in producers:
                if producer.id in done or (producer.cooldown_until or now) > now:
                    continue
                hour = await self._count(tx.session, producer.id, now - timedelta(hours=1))
                day = await self._count(tx.session, producer.id, now - timedelta(days=1))
                if hour < self.rules.producer_hourly_cap and day < self.rules.producer_daily_cap:
                    usable.append(producer)
        return usable, max(0, self.rules.comments_per_post - len(done))

    @staticmethod
    async def _count(session: AsyncSession, producer_id: int, since: datetime) -> int:
        return int(await session.scalar(
            select(func.count()).select_from(CommentLog).where(
                CommentLog.producer_id == producer_id, CommentLog.status.in_(COUNTED),
                CommentLog.created_at >= since)) or 0)

    async def _serve(self, consumer: Consumer, post: Post, report: CommentReport,
                     deadline: datetime) -> None:
        producers, needed = await self._producers(consumer, post.shortcode)
        if needed == 0:
            return
        if len(producers) < needed:
            report.capped += needed - len(producers)
        texts = await self.writer.write(post.caption, min(needed, len(producers)))
        for producer, text in zip(producers, texts, strict=False):
            if self.clock() >= deadline:
                return
            entry = CommentLog(producer_id=producer.id, consumer_id=consumer.id,
                               post_shortcode=post.shortcode, status="pending", text=text,
                               created_at=self.clock())
            try:
                async with self.services.transaction() as tx:
                    tx.session.add(entry)  # committed before the write: never twice
            except IntegrityError:
                continue  # another run took this (producer, post)
            await self.sleep(self.random.uniform(*self.rules.jitter))
            status, error = await self._write(producer, post.shortcode, text, report)
            async with self.services.transaction() as tx:
                row = await tx.session.get(CommentLog, entry.id)
                stored = await tx.session.get(Producer, producer.id)
                if row is not None:
                    row.status, row.error = status, error
                if stored is not None:
                    stored.last_used_at = self.clock()
                    if error in ("rate_limited", "action_blocked"):
                        stored.cooldown_until = self.clock() + timedelta(hours=6)
                    if error in ("session_expired", "challenge"):
                        stored.verified = False
            if status == "skipped":
                return  # the post is gone or private: no one else tries

    async def _write(self, producer: Producer, shortcode: str, text: str,
                     report: CommentReport) -> tuple[str, str | None]:
        gateway = self.services.instagram.gateway  # type: ignore[union-attr]
        try:
            await gateway.comment(producer.session, shortcode, text)
        except (NotFound, PrivateProfile) as exc:
            report.skipped += 1
            return "skipped", exc.code
        except (SessionExpired, CheckpointRequired) as exc:
            report.failed += 1
            report.unverified.append(producer.instagram_username)
            if self.tell is not None:
                await self.tell(producer.member_id, "expired")
            return "failed", exc.code
        except (RateLimited, ActionBlocked, InstagramError) as exc:
            report.failed += 1
            return "failed", exc.code
        report.written += 1
        return "written", None
