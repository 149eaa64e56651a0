"""Settings are validated at start with messages that name the setting and the fix."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


def test_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.database_url.startswith("sqlite")
    assert settings.timezone == "Asia/Seoul" and not settings.webhook_mode
    assert (settings.weekly_min_posts, settings.weekly_max_posts) == (2, 3)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE: unknown time zone"),
        ({"ENCRYPTION_KEYS": "not-a-key"}, "ENCRYPTION_KEYS: key number 1 is not a Fernet key"),
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"WEEKLY_MIN_POSTS": "4"}, "WEEKLY_MIN_POSTS must be at least 1 and at most"),
        ({"TELEGRAM_TOKEN": "1:x", "TELEGRAM_WEBHOOK_URL": "https://bot.example"},
         "TELEGRAM_WEBHOOK_SECRET is empty"),
        ({"TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL: must start with http"),
        ({"LADDER": "warning,ban"}, "LADDER: 'ban' is not a step"),
        ({"REMINDER_TIMES": "08:00,25:00"}, "REMINDER_TIMES: '25:00' is not a time"),
        ({"WEEK_OPEN_AT": "MONDAY 9"}, "WEEK_OPEN_AT"),
        ({"INSTAGRAM_DELAY_MIN_SECONDS": "5"}, "INSTAGRAM_DELAY_MIN_SECONDS must be between"),
        ({"KAKAO_IMPORT_MAILBOX": "https://mail.example.org"}, "imaps://USER@HOST"),
        ({"KAKAO_IMPORT_MAILBOX": "imaps://bot:secret@mail.example.org"},
         "KAKAO_IMPORT_MAILBOX_PASSWORD, not in the URL"),
        ({"KAKAO_IMPORT_MAILBOX": "imaps://bot@mail.example.org",
          "KAKAO_IMPORT_MAILBOX_PASSWORD": "pw"}, "needs KAKAO_IMPORT_SENDERS"),
        ({"KAKAO_IMPORT_MAILBOX": "imaps://bot@mail.example.org",
          "KAKAO_IMPORT_SENDERS": "owner@example.org"}, "needs KAKAO_IMPORT_MAILBOX_PASSWORD"),
        ({"KAKAO_IMPORT_MAILBOX": "imaps://bot@mail.example.org", "KAKAO_IMPORT_SENDERS":
          "owner@example.org", "KAKAO_IMPORT_MAILBOX_PASSWORD": "pw"},
         "needs KAKAO_IMPORT_AUTHSERV_ID"),
    ],
)
def test_wrong_settings_say_what_and_how(
    monkeypatch: pytest.MonkeyPatch, tmp_path, env: dict[str, str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TIMEZONE=Europe/Berlin\nWEEKLY_MAX_POSTS=5\n")
    settings = load_settings()
    assert settings.timezone == "Europe/Berlin" and settings.weekly_max_posts == 5


SECRETS = {"ENCRYPTION_KEYS": "", "TELEGRAM_TOKEN": "123456:telegram-token-value",
           "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value", "HEALTHZ_TOKEN": "healthz-value",
           "KAKAO_SKILL_SECRET": "skill-secret-value", "KAKAO_REST_API_KEY": "rest-key-value",
           "OPENAI_API_KEY": "openai-key-value", "INSTAGRAM_PROXY": "http://u:proxy-pw@p:1",
           "KAKAO_IMPORT_MAILBOX_PASSWORD": "mail-password-value"}


def test_secrets_never_show_in_repr_or_logs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A settings object printed or logged (an error report, a debug line) shows no secret;
    each is read with get_secret_value() where it is used."""
    from cryptography.fernet import Fernet

    monkeypatch.chdir(tmp_path)
    secrets = dict(SECRETS, ENCRYPTION_KEYS=Fernet.generate_key().decode())
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for name, value in secrets.items():
        assert value not in shown, name
        assert getattr(settings, name.lower()).get_secret_value() == value
    assert settings.keys == [secrets["ENCRYPTION_KEYS"]]


def test_settings_import_no_job() -> None:
    """Settings sit below the jobs: bot/config.py imports nothing from jobs/."""
    import ast
    from pathlib import Path

    import bot.config

    tree = ast.parse(Path(bot.config.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [name for name in imported if name.split(".")[0] == "jobs"]


def test_log_format_is_text_or_json_lines_and_a_secret_field_is_hidden(
        capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from bot.config import Settings
    from bot.logs import HIDDEN, configure

    assert Settings(_env_file=None).log_format == "text"
    assert Settings(_env_file=None, log_format="JSON").log_format == "json"
    with pytest.raises(ValueError, match="text or json"):
        Settings(_env_file=None, log_format="xml")
    root = logging.getLogger()
    kept, level = root.handlers[:], root.level
    try:
        configure(logging.INFO, "json")
        log = logging.getLogger("autogram.test")
        log.info("로그인 %s", "helper1", extra={"helper": "helper1", "password": "hunter2",
                                                "session_cookie": "abc", "code": "123456"})
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert lines[0]["message"] == "로그인 helper1" and lines[0]["level"] == "INFO"
        assert lines[0]["logger"] == "autogram.test" and lines[0]["helper"] == "helper1"
        assert lines[0]["time"].endswith("+00:00")
        assert {lines[0][name] for name in ("password", "session_cookie", "code")} == {HIDDEN}
        assert "hunter2" not in str(lines) and "123456" not in str(lines)
        assert lines[1]["message"] == "failed" and "ValueError: bad" in lines[1]["exception"]
        configure(logging.INFO, "text")
        log.info("plain")
        assert capsys.readouterr().err.rstrip().endswith("INFO autogram.test: plain")
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in kept:
            root.addHandler(handler)
        root.setLevel(level)
