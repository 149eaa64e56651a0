"""`autogram run`: serve everything configured in one event loop, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings, load_settings
from bot.delivery import Delivery
from bot.kakao import SKILL_PATH, KakaoSkill
from bot.web import HealthCheck, build_web_app, database_check, errors_check, helpers_check
from bot.web_pages import WebPages
from bot.wiring import comment_rules_from, comment_writer_from, open_services, schedule_from
from handlers.dispatcher import Dispatcher
from handlers.open_chat import delivered_report, mail_report
from jobs.comments import CommentJob
from jobs.leader import Leader
from jobs.open_chat_folder import ReportSink, import_new_files
from jobs.open_chat_mail import Mailbox, MailSink, import_mail, senders_from
from jobs.schedule import JobRunner, daily
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.open_chat.chat_export import ExportUnreadable
from services.open_chat.importer import ImportReport, MailReport
from storage import crypto

log = logging.getLogger(__name__)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Start the web app and Telegram (when a token is set); wait for SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    # `autogram rotate-keys` while the bot runs: SIGHUP (or the first secret the old keys
    # cannot read) makes the bot read ENCRYPTION_KEYS again from the environment / .env.
    crypto.set_key_source(lambda: load_settings().keys)
    try:
        loop.add_signal_handler(signal.SIGHUP, _reload_keys)
    except (NotImplementedError, RuntimeError, AttributeError):
        pass

    async with open_services(settings) as services:
        dispatcher = Dispatcher(services)
        telegram = None
        checks: list[HealthCheck] = [database_check(services), helpers_check(services),
                                     errors_check(services)]
        if settings.telegram_token:
            from bot.telegram import TelegramTransport

            async def admin_accounts() -> list[tuple[str, str, str]]:
                async with services.transaction() as tx:
                    return await tx.accounts.admin_accounts()

            telegram = TelegramTransport(settings, dispatcher, admin_accounts)

            async def telegram_check() -> tuple[str, bool, str]:
                running = telegram is not None and telegram.app.running
                return "telegram", running, "running" if running else "stopped"

            checks.append(telegram_check)
        scheduler = AsyncIOScheduler(timezone=settings.zone)
        leader = Leader(services.engine)

        async def scheduler_check() -> tuple[str, bool, str]:
            role = "leader" if leader.leading else "standby"
            return "scheduler", True, f"running ({role})" if scheduler.running else "off"

        checks.append(scheduler_check)
        web_app = build_web_app(checks, settings.healthz_token.get_secret_value())
        kakao = KakaoSkill(settings, dispatcher, services)
        kakao.add_routes(web_app)
        pages = WebPages(services, services.web, settings.web_board_cache_seconds)
        pages.add_routes(web_app)
        web_app.on_cleanup.append(pages.close)
        delivery = Delivery(services, [n for n in (telegram, kakao) if n is not None])
        services.delivery.connect(delivery)  # the transports exist: the way out is open
        if settings.kakao_import_folder:
            _watch_folder(scheduler, settings, services, delivery, leader)
        if settings.kakao_import_mailbox:
            _watch_mailbox(scheduler, settings, services, delivery, leader)
        weekly = WeeklyJobs(services, delivery, nudge_after_days=settings.nudge_after_days)
        # An admin's /verify of a finished week whose final check did not finish.
        services.finish_week.connect(weekly.finish_week)
        comments = CommentJob(services, delivery, comment_writer_from(settings),
                              comment_rules_from(settings))

        async def nightly_comments() -> None:
            await comments.run()

        job_runner = JobRunner(weekly, leader, schedule_from(settings), [
            ("comments", daily(settings.auto_comment_at, settings.zone), nightly_comments)])
        job_runner.install(scheduler)
        if telegram is not None:
            telegram.add_routes(web_app)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.web_host, settings.web_port)
        await site.start()
        try:
            if telegram is not None:
                await telegram.start()
            scheduler.start()
            _announce(settings, telegram is not None, kakao.enabled)
            async with services.transaction() as tx:
                registered, usable = await tx.helpers.counts()
            if not registered:
                log.warning("No Instagram helper account is registered: the weekly check "
                            "cannot run until an admin adds one with /addhelper.")
            elif not usable:
                log.warning("No Instagram helper account can read (%d registered): the weekly "
                            "check cannot run until an admin logs one in again with "
                            "/checkhelper NAME (/helpers shows why each stopped).", registered)
            await stop.wait()
            log.info("Stopping...")
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await job_runner.stop()
            await leader.release()
            if telegram is not None:
                await telegram.stop()
            await runner.cleanup()
    log.info("Stopped.")


def _to_admins(delivery: Delivery, source: str) -> ReportSink:
    """Where a delivered file's report goes: every admin, in their language."""

    async def tell(name: str, result: ImportReport | ExportUnreadable) -> None:
        async with delivery.services.transaction() as tx:
            admins = await tx.accounts.admin_accounts()
        if not admins:  # nobody to tell in a chat: the log is the only place it is read
            log.warning("No admin can be told of %s (no admin has claimed a chat account "
                        "yet: `autogram admin add NAME`, then /claim CODE in a chat); its "
                        "report is only here:\n%s", name,
                        delivered_report(source, name, result, "en"))
            return
        log.info("%s", delivered_report(source, name, result, "en"))
        await delivery.to_admins(lambda language: delivered_report(source, name, result,
                                                                   language))

    return tell


def _mail_to_admins(delivery: Delivery) -> MailSink:
    """Where a mail's report goes (one message per mail): every admin, in their language."""

    async def tell(report: MailReport) -> None:
        log.info("%s", mail_report(report, "en"))
        await delivery.to_admins(lambda language: mail_report(report, language))

    return tell


def _reported(services: Services, kind: str, job: Callable[[], Awaitable[None]]
              ) -> Callable[[], Awaitable[None]]:
    """A scheduler job whose unexpected failure is logged and reported (the scheduler
    would only log it), and tried again at its next interval."""

    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            log.exception("%s failed", kind)
            services.faults.report(kind, exc)

    return run


def _watch_folder(scheduler: AsyncIOScheduler, settings: Settings, services: Services,
                  delivery: Delivery, leader: Leader) -> None:
    """Import new exports from KAKAO_IMPORT_FOLDER (on the leading instance only)."""
    folder, tell = Path(settings.kakao_import_folder), _to_admins(delivery, "folder")

    async def scan() -> None:
        if leader.leading:
            await import_new_files(services, folder, tell)

    scheduler.add_job(_reported(services, "export folder scan", scan), "interval",
                      seconds=settings.kakao_import_interval_seconds,
                      next_run_time=datetime.now(settings.zone), max_instances=1,
                      coalesce=True, id="kakao_import_folder")


def _watch_mailbox(scheduler: AsyncIOScheduler, settings: Settings, services: Services,
                   delivery: Delivery, leader: Leader) -> None:
    """Import exports mailed to KAKAO_IMPORT_MAILBOX (on the leading instance only)."""
    box, tell = Mailbox.from_url(settings.kakao_import_mailbox), _mail_to_admins(delivery)
    password = settings.kakao_import_mailbox_password.get_secret_value()
    senders = senders_from(settings.kakao_import_senders)
    log.info("Reading exports mailed to %s from %d sender(s).", box, len(senders))

    async def poll() -> None:
        if leader.leading:
            await import_mail(services, box, password, senders, tell,
                              authserv_id=settings.kakao_import_authserv_id,
                              cafile=settings.kakao_import_mailbox_cafile)

    scheduler.add_job(_reported(services, "mailbox poll", poll), "interval",
                      seconds=settings.kakao_import_mail_interval_seconds,
                      next_run_time=datetime.now(settings.zone), max_instances=1,
                      coalesce=True, id="kakao_import_mail")


def _reload_keys() -> None:
    if crypto.reload_keys():
        log.info("Encryption keys read again (SIGHUP).")
    else:
        log.warning("SIGHUP: ENCRYPTION_KEYS is empty; the keys in use are kept.")


def _announce(settings: Settings, telegram_on: bool, kakao_on: bool) -> None:
    base = f"http://{settings.web_host}:{settings.web_port}"
    lines = [f"Web app on {base} (health: {base}/healthz); the week board is at "
             f"{settings.public_url}/week (paste it into the open chat; /weeklink)."]
    if kakao_on:
        lines.append(f"KakaoTalk: skill endpoint POST {base}{SKILL_PATH}.")
    else:
        lines.append(
            f"KakaoTalk: the skill endpoint {base}{SKILL_PATH} refuses calls until "
            "KAKAO_SKILL_SECRET and KAKAO_BOT_ID are set in .env."
        )
    if telegram_on:
        mode = "webhook" if settings.webhook_mode else "polling"
        lines.append(f"Telegram: on ({mode}).")
    else:
        lines.append(
            "Telegram: off. To enable it, put TELEGRAM_TOKEN=<token from @BotFather> in .env."
        )
    lines.append(
        "To chat with the bot here and now, run `make chat` (or `.venv/bin/autogram chat`) "
        "in another terminal; `make demo` gives a ready-made community on a simulated "
        "Instagram. Stop with Ctrl-C."
    )
    for line in lines:
        log.info(line)
    if not settings.web_public_url:
        log.warning("WEB_PUBLIC_URL is not set: the web pages are this machine's own, so "
                    "members' /status has no 'open in browser' button on KakaoTalk or "
                    "Telegram, and KakaoTalk shows no week picture or notice QR code. Set it "
                    "to the address the web app is reached at from outside.")
