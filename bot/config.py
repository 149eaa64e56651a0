"""Settings from the environment and `.env`, validated at start with messages that say how to fix.

Every setting has a default except what a feature truly needs (a Telegram token for
Telegram, keys for storing secrets). `.env.example` documents each one (a test checks it
states the defaults written here). A default that code below the settings also uses (a
community rule, a pace of Instagram requests, a cache's life) is written once, where that
code is, and read here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.automation.auto_comments import CommentRules
from services.instagram.pool import CALL_TIMEOUT, DELAY_RANGE, HOURLY_BUDGET
from services.open_chat.mailbox_address import Mailbox, MailboxError
from services.rules import CommunityRules
from services.verification.check_runs import CHECK_NOW_ALLOWANCE, CHECK_NOW_EVERY, REFRESH_TIMES
from services.verification.verifier import COMMENTER_CACHE
from services.web.board_cache import BOARD_CACHE_SECONDS
from services.week.calendar import parse_deadline
from storage.db import DEFAULT_DATABASE_URL

RULES = CommunityRules()  # the community rules' defaults
COMMENTS = CommentRules()  # the automatic comments' defaults


def _minutes(span: timedelta) -> int:
    return int(span / timedelta(minutes=1))


class ConfigError(ValueError):
    """A setting is wrong; the message names it and says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    encryption_keys: SecretStr = SecretStr("")
    timezone: str = RULES.timezone.key
    log_level: str = "INFO"
    # "text" (a line for a person) or "json" (a JSON object a line, for a log collector).
    log_format: str = "text"

    telegram_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    # Messages a second that broadcasts (reminders, results) may use, below Telegram's 30/s.
    telegram_broadcast_rate: float = 20.0
    # Telegram's own limit for all messages a second (AIORateLimiter's overall rate).
    telegram_max_rate: float = 30.0
    # Updates handled at once (different users; one user's updates stay in order).
    telegram_concurrent_updates: int = 64
    telegram_poll_timeout: int = 30

    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # The public root that reaches the web app (links in messages are built from it);
    # empty: http://WEB_HOST:WEB_PORT. WEB_BOARD: public (anyone with the board's link
    # sees each member's open posts) or private (counts only; lists on personal links).
    web_public_url: str = ""
    web_board: str = "public"
    # /healthz tells anyone ok or not; the details (database, scheduler role, helpers)
    # go to a request with this token (Bearer or ?token=) or from this machine.
    healthz_token: SecretStr = SecretStr("")
    # Seconds the board (its page and picture) is served from memory; a check of the week
    # drops it at once. 0: computed for every reader.
    web_board_cache_seconds: float = BOARD_CACHE_SECONDS

    kakao_bot_id: str = ""
    kakao_skill_secret: SecretStr = SecretStr("")
    kakao_rest_api_key: SecretStr = SecretStr("")
    kakao_event_name: str = ""
    # Kakao waits 5 s for an answer; past this budget the answer goes by callback.
    kakao_reply_budget_seconds: float = 3.5
    # Hosts a callbackUrl may point at (anything else is refused: no SSRF through us).
    kakao_callback_hosts: str = "bot-api.kakao.com"
    kakao_event_api_url: str = "https://bot-api.kakao.com"

    weekly_min_posts: int = RULES.weekly_min_posts
    weekly_max_posts: int = RULES.weekly_max_posts
    conversation_timeout_minutes: int = _minutes(RULES.conversation_timeout)
    # The last moment of the week to hand in (or withdraw) a link, and to comment.
    submission_deadline: str = RULES.submission_deadline
    comment_deadline: str = RULES.comment_deadline
    # A comment counts for its week when Instagram's own time for it is no later than
    # COMMENT_DEADLINE plus these minutes; a later one is "late".
    comment_grace_minutes: int = _minutes(RULES.comment_grace)
    # A post handed in in an earlier week is refused (its old comments would count again).
    allow_resubmitted_posts: bool = RULES.allow_resubmitted_posts
    # A post is "gone" only when "not found" answers at least this many hours apart (by
    # two helpers where there are two) all agree.
    gone_after_hours: float = RULES.gone_after / timedelta(hours=1)

    # Open-chat exports: weeks an upload imports, and a folder watched for new exports.
    kakao_import_weeks: int = RULES.kakao_import_weeks
    kakao_import_folder: str = ""
    kakao_import_interval_seconds: int = 60
    # ... and a mailbox the admins mail exports to (jobs/open_chat_mail.py).
    kakao_import_mailbox: str = ""
    kakao_import_mailbox_password: SecretStr = SecretStr("")
    kakao_import_senders: str = ""
    # The receiving server's name in its Authentication-Results header (mx.google.com):
    # only its verdict on the sender counts. A private CA for the mailbox's certificate.
    kakao_import_authserv_id: str = ""
    kakao_import_mailbox_cafile: str = ""
    kakao_import_mail_interval_seconds: int = 300

    # The weekly loop's schedule, in TIMEZONE: "DAY HH:MM" weekly, "HH:MM" daily (lists
    # comma-separated). The final verification runs VERIFICATION_DELAY_MINUTES after
    # COMMENT_DEADLINE, then the results go out.
    week_open_at: str = "MON 09:00"
    reminder_times: str = "08:00,10:00,22:00"
    nudge_at: str = "20:00"
    nudge_after_days: int = 3
    submission_warning_at: str = "SUN 09:00"
    refresh_times: str = ",".join(REFRESH_TIMES)
    verification_delay_minutes: int = 5
    # "Check now" in /status: once per member this often; commenter lists are reused
    # for this long instead of asking Instagram again.
    check_now_minutes: int = _minutes(CHECK_NOW_EVERY)
    # Requests one "check now" may send; open posts it could not read are left to the
    # next daily refresh (and the member is told when that is).
    check_now_allowance: int = CHECK_NOW_ALLOWANCE
    commenter_cache_minutes: int = _minutes(COMMENTER_CACHE)
    # A member who joins mid-week owes comments on the posts handed in before they joined.
    late_joiners_owe_earlier_posts: bool = RULES.late_joiners_owe_earlier_posts

    # The accountability ladder: what the 1st, 2nd, ... active strike brings, among
    # "warning", "suspend N" (weeks) and "removal" (proposed to the admins).
    ladder: str = ",".join(RULES.ladder)
    strike_for_missing: bool = RULES.strike_for_missing
    strike_for_below_minimum: bool = RULES.strike_for_below_minimum
    removal_after_empty_weeks: int = RULES.removal_after_empty_weeks
    grace_weeks: int = RULES.grace_weeks
    strikes_expire_after_clean_weeks: int = RULES.strikes_expire_after_clean_weeks
    appeal_hours: int = RULES.appeal_hours
    # Automatic comments: nightly from AUTO_COMMENT_AT for AUTO_COMMENT_WINDOW_MINUTES
    # (members are off Instagram then), COMMENTS_PER_POST producers a post, each producer
    # within its hourly and daily caps (Instagram tolerates about 60 an hour), a random
    # pause between writes.
    auto_comment_at: str = "03:00"
    auto_comment_window_minutes: int = _minutes(COMMENTS.window)
    comments_per_post: int = COMMENTS.comments_per_post
    producer_hourly_cap: int = COMMENTS.producer_hourly_cap
    producer_daily_cap: int = COMMENTS.producer_daily_cap
    comment_jitter_min_seconds: float = COMMENTS.jitter[0]
    comment_jitter_max_seconds: float = COMMENTS.jitter[1]
    # "builtin" (a polite Korean phrase bank) or "openai" (any OpenAI-compatible
    # chat-completions endpoint; the phrase bank stands in on any error or timeout).
    comment_writer: str = "builtin"
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: SecretStr = SecretStr("")
    openai_timeout_seconds: float = 15.0

    # Unfollow checks with login a person may run in a day (the export check is free).
    unfollow_daily_limit: int = RULES.unfollow_daily_limit

    # Instagram (instagrapi for logins, reads and writes; instaloader as a second reader).
    # Requests a helper account may send in a sliding hour, every page counted (Instagram
    # bears about 200: this stays well under it).
    helper_hourly_budget: int = HOURLY_BUDGET
    # Requests a helper may send at once before the steady pace (one every
    # 3600/HELPER_HOURLY_BUDGET seconds) applies: its hour is spread, not spent in minutes.
    helper_burst: int = 8
    # A pause between two requests of one account, picked at random in this range.
    instagram_delay_min_seconds: float = DELAY_RANGE[0]
    instagram_delay_max_seconds: float = DELAY_RANGE[1]
    # One Instagram operation (all pages of a list) gives up after this long.
    instagram_call_timeout_seconds: float = CALL_TIMEOUT
    # An HTTP(S) proxy for every Instagram request (a residential one keeps helpers healthy).
    instagram_proxy: SecretStr = SecretStr("")

    @field_validator("submission_deadline", "comment_deadline", "week_open_at",
                     "submission_warning_at")
    @classmethod
    def _deadline(cls, value: str) -> str:
        parse_deadline(value)
        return value.strip().upper()

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, value: str) -> str:
        steps = [" ".join(part.split()).lower() for part in value.split(",") if part.strip()]
        for step in steps:
            if step not in ("warning", "removal") and not re.fullmatch(r"suspend [1-9]\d?",
                                                                       step):
                raise ValueError(f"{step!r} is not a step: use warning, suspend N (weeks) "
                                 "or removal, comma-separated")
        if not steps:
            raise ValueError("give at least one step, e.g. warning,removal")
        return ",".join(steps)

    @field_validator("reminder_times", "refresh_times", "nudge_at", "auto_comment_at")
    @classmethod
    def _times(cls, value: str) -> str:
        times = [part.strip() for part in value.split(",") if part.strip()]
        for part in times:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", part):
                raise ValueError(f"{part!r} is not a time like 08:00 (HH:MM, 24-hour)")
        return ",".join(times)

    @property
    def schedule_times(self) -> dict[str, tuple[str, ...]]:
        return {name: tuple(p for p in getattr(self, name).split(",") if p)
                for name in ("reminder_times", "refresh_times")}

    @field_validator("encryption_keys")
    @classmethod
    def _keys_are_fernet(cls, value: SecretStr) -> SecretStr:
        keys = value.get_secret_value()
        for index, key in enumerate(k for k in keys.split(",") if k.strip()):
            try:
                Fernet(key.strip().encode())
            except ValueError:
                raise ValueError(
                    f"key number {index + 1} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes); make one with `autogram keygen`"
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Seoul"
            ) from None
        return value

    @field_validator("web_board")
    @classmethod
    def _board_mode(cls, value: str) -> str:
        if value.strip().lower() not in ("public", "private"):
            raise ValueError("use public or private")
        return value.strip().lower()

    @field_validator("telegram_api_url", "telegram_webhook_url", "web_public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in {"text", "json"}:
            raise ValueError("use text or json")
        return value.lower()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not 1 <= self.weekly_min_posts <= self.weekly_max_posts:
            raise ValueError("WEEKLY_MIN_POSTS must be at least 1 and at most WEEKLY_MAX_POSTS")
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is empty: "
                "set a random secret (letters, digits, _ and -) so forged updates are refused"
            )
        if not 0 <= self.instagram_delay_min_seconds <= self.instagram_delay_max_seconds:
            raise ValueError("INSTAGRAM_DELAY_MIN_SECONDS must be between 0 and "
                             "INSTAGRAM_DELAY_MAX_SECONDS")
        if self.comment_writer not in ("builtin", "openai"):
            raise ValueError("COMMENT_WRITER must be builtin or openai")
        if self.comment_writer == "openai" and not (self.openai_base_url and self.openai_model):
            raise ValueError("COMMENT_WRITER=openai needs OPENAI_BASE_URL and OPENAI_MODEL")
        if not 0 <= self.comment_jitter_min_seconds <= self.comment_jitter_max_seconds:
            raise ValueError("COMMENT_JITTER_MIN_SECONDS must be between 0 and "
                             "COMMENT_JITTER_MAX_SECONDS")
        if self.helper_hourly_budget < 1:
            raise ValueError("HELPER_HOURLY_BUDGET must be at least 1")
        if self.helper_burst < 1:
            raise ValueError("HELPER_BURST must be at least 1")
        if self.check_now_allowance < 1:
            raise ValueError("CHECK_NOW_ALLOWANCE must be at least 1")
        if self.telegram_webhook_url and not self.telegram_token:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_TOKEN")
        if self.kakao_import_mailbox:
            try:
                Mailbox.from_url(self.kakao_import_mailbox)
            except MailboxError as exc:
                raise ValueError(f"KAKAO_IMPORT_MAILBOX: {exc}") from None
            if not self.kakao_import_senders.strip():
                raise ValueError("KAKAO_IMPORT_MAILBOX needs KAKAO_IMPORT_SENDERS (the "
                                 "addresses allowed to send exports)")
            if not self.kakao_import_mailbox_password.get_secret_value():
                raise ValueError("KAKAO_IMPORT_MAILBOX needs KAKAO_IMPORT_MAILBOX_PASSWORD")
            if not self.kakao_import_authserv_id.strip():
                raise ValueError("KAKAO_IMPORT_MAILBOX needs KAKAO_IMPORT_AUTHSERV_ID (the "
                                 "receiving server's name in its Authentication-Results "
                                 "header, e.g. mx.google.com)")
        return self

    @property
    def keys(self) -> list[str]:
        """Fernet keys, newest first."""
        keys = self.encryption_keys.get_secret_value()
        return [k.strip() for k in keys.split(",") if k.strip()]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.telegram_webhook_url)

    @property
    def public_url(self) -> str:
        """Where people reach the web app from outside."""
        return self.web_public_url or f"http://{self.web_host}:{self.web_port}"


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigError naming each wrong setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(p) for p in error["loc"]).upper() or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"  {name}: {message}")
        raise ConfigError(
            "Some settings are wrong (environment or .env):\n" + "\n".join(lines)
        ) from None
