"""The composition root: builds the service container from the settings, once per process
(engine, migration check, rules, Instagram, web links, delivery, error report)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.config import Settings
from bot.error_report import ErrorReport
from jobs.schedule import Schedule
from services.automation.auto_comments import CommentRules
from services.automation.comment_text import BuiltinWriter, CommentWriter, OpenAIWriter
from services.container import CheckSettings, Services
from services.instagram.runtime import Instagram
from services.instagram.share_links import ShareResolver
from services.messaging.outbound import Outbound
from services.open_chat.mailbox_address import Mailbox, MailboxError
from services.rules import CommunityRules
from services.web.links import BoardMode, WebLinks
from storage import crypto
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrations import ensure_current


def comment_rules_from(settings: Settings) -> CommentRules:
    return CommentRules(
        comments_per_post=settings.comments_per_post,
        producer_hourly_cap=settings.producer_hourly_cap,
        producer_daily_cap=settings.producer_daily_cap,
        jitter=(settings.comment_jitter_min_seconds, settings.comment_jitter_max_seconds),
        window=timedelta(minutes=settings.auto_comment_window_minutes),
    )


def comment_writer_from(settings: Settings) -> CommentWriter:
    if settings.comment_writer == "openai":
        return OpenAIWriter(settings.openai_base_url, settings.openai_model,
                            settings.openai_api_key.get_secret_value(),
                            timeout=settings.openai_timeout_seconds)
    return BuiltinWriter()


def schedule_from(settings: Settings) -> Schedule:
    times = settings.schedule_times
    return Schedule(week_open=settings.week_open_at, reminders=times["reminder_times"],
                    nudge=settings.nudge_at, submission_warning=settings.submission_warning_at,
                    refresh=times["refresh_times"], comment_deadline=settings.comment_deadline,
                    verification_delay_minutes=settings.verification_delay_minutes)


def mail_address(settings: Settings) -> str:
    """The address admins mail exports to: the mailbox's user, with its host when the
    user is no address of its own ("" when no mailbox is read or its URL is wrong)."""
    if not settings.kakao_import_mailbox:
        return ""
    try:
        box = Mailbox.from_url(settings.kakao_import_mailbox)
    except MailboxError:
        return ""
    return box.user if "@" in box.user else f"{box.user}@{box.host}"


def rules_from(settings: Settings) -> CommunityRules:
    return CommunityRules(
        timezone=settings.zone,
        weekly_min_posts=settings.weekly_min_posts,
        weekly_max_posts=settings.weekly_max_posts,
        conversation_timeout=timedelta(minutes=settings.conversation_timeout_minutes),
        submission_deadline=settings.submission_deadline,
        comment_deadline=settings.comment_deadline,
        comment_grace=timedelta(minutes=settings.comment_grace_minutes),
        allow_resubmitted_posts=settings.allow_resubmitted_posts,
        gone_after=timedelta(hours=settings.gone_after_hours),
        kakao_import_weeks=settings.kakao_import_weeks,
        import_mail_address=mail_address(settings),
        late_joiners_owe_earlier_posts=settings.late_joiners_owe_earlier_posts,
        ladder=tuple(settings.ladder.split(",")),
        strike_for_missing=settings.strike_for_missing,
        strike_for_below_minimum=settings.strike_for_below_minimum,
        removal_after_empty_weeks=settings.removal_after_empty_weeks,
        grace_weeks=settings.grace_weeks,
        strikes_expire_after_clean_weeks=settings.strikes_expire_after_clean_weeks,
        appeal_hours=settings.appeal_hours,
        unfollow_daily_limit=settings.unfollow_daily_limit,
    )


def instagram_from(settings: Settings) -> Instagram:
    """The real Instagram: instagrapi, with instaloader as the second commenter reader.
    (The simulated Instagram is only ever chosen by tests and `autogram chat --demo`.)"""
    from services.instagram.instagrapi_adapter import InstagrapiGateway
    from services.instagram.instaloader_adapter import CombinedGateway, InstaloaderCommentReader

    primary = InstagrapiGateway(
        delay_range=(settings.instagram_delay_min_seconds, settings.instagram_delay_max_seconds),
        call_timeout=settings.instagram_call_timeout_seconds,
        proxy=settings.instagram_proxy.get_secret_value() or None,
    )
    reader = InstaloaderCommentReader(call_timeout=settings.instagram_call_timeout_seconds)
    shares = ShareResolver(proxy=settings.instagram_proxy.get_secret_value() or None,
                           timeout=min(10.0, settings.instagram_call_timeout_seconds))
    return Instagram(CombinedGateway(primary, reader), hourly_budget=settings.helper_hourly_budget,
                     shares=shares, burst=settings.helper_burst)


def check_settings_from(settings: Settings) -> CheckSettings:
    return CheckSettings(cache_seconds=settings.commenter_cache_minutes * 60.0,
                         check_now_every=timedelta(minutes=settings.check_now_minutes),
                         check_now_allowance=settings.check_now_allowance,
                         refresh_times=schedule_from(settings).refresh)


def web_links_from(settings: Settings) -> WebLinks:
    return WebLinks(settings.public_url, BoardMode(settings.web_board), settings.keys,
                    public=bool(settings.web_public_url))


@asynccontextmanager
async def open_services(settings: Settings, instagram: Instagram | None = None, *,
                        web: WebLinks | None = None) -> AsyncIterator[Services]:
    """The composition root: the process's one service container, built once on the
    configured database (refused when the database is behind) and never patched.

    Every mode gets the same members: the delivery and the week finisher are connected
    by the mode once its transports and jobs exist (services/messaging/outbound.py); the error
    report counts faults for /healthz and tells the admins through that delivery.
    `web`: the web pages' links where the mode serves them elsewhere (the demo's port)."""
    crypto.configure_keys(settings.keys)
    engine = create_engine(settings.database_url)
    try:
        await ensure_current(engine)
        outbound = Outbound()
        gateway = instagram or instagram_from(settings)
        gateway.alert = outbound.alert  # helpers taken out of service are told to admins
        services = Services(session_factory(engine), rules_from(settings),
                            serialize=is_sqlite(settings.database_url), instagram=gateway,
                            web=web or web_links_from(settings), delivery=outbound,
                            faults=ErrorReport(outbound),
                            check_settings=check_settings_from(settings))
        async with services.transaction() as tx:  # the helpers that can read, from the
            await tx.helpers.load_pool()  # start: a link's author is read at once
        yield services
    finally:
        await engine.dispose()
