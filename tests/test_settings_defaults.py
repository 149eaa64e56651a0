"""Each default is written once in code: bot/config.py reads the rules', the pacing's and
the caches' own defaults, and `.env.example` states every setting with that default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from bot.wiring import comment_rules_from, rules_from
from services.automation.auto_comments import CommentRules
from services.rules import CommunityRules

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
SETTING = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the file (or nothing) is read: the machine's own settings stay out."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


def test_env_example_names_every_setting_and_no_other() -> None:
    named = {m.group(1).lower() for line in EXAMPLE.read_text("utf-8").splitlines()
             if (m := SETTING.match(line.strip()))}
    assert named == set(Settings.model_fields)


@pytest.mark.usefixtures("no_environment")
def test_env_example_states_the_defaults() -> None:
    stated = Settings(_env_file=EXAMPLE).model_dump()  # type: ignore[call-arg]
    defaults = Settings(_env_file=None).model_dump()  # type: ignore[call-arg]
    assert {k: v for k, v in stated.items() if v != defaults[k]} == {}


@pytest.mark.usefixtures("no_environment")
def test_a_bot_without_settings_runs_by_the_services_own_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert rules_from(settings) == CommunityRules()
    assert comment_rules_from(settings) == CommentRules()
