"""Builds the services from settings: engine, migration check, rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.config import Settings
from services.container import Services
from services.rules import CommunityRules
from storage import crypto
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrations import ensure_current


def rules_from(settings: Settings) -> CommunityRules:
    return CommunityRules(
        timezone=settings.zone,
        weekly_min_posts=settings.weekly_min_posts,
        weekly_max_posts=settings.weekly_max_posts,
        conversation_timeout=timedelta(minutes=settings.conversation_timeout_minutes),
        submission_deadline=settings.submission_deadline,
        comment_deadline=settings.comment_deadline,
        kakao_import_weeks=settings.kakao_import_weeks,
    )


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Services on the configured database; refuses a database that is behind."""
    crypto.configure_keys(settings.keys)
    engine = create_engine(settings.database_url)
    try:
        await ensure_current(engine)
        serialize = is_sqlite(settings.database_url)
        yield Services(session_factory(engine), rules_from(settings), serialize=serialize)
    finally:
        await engine.dispose()
