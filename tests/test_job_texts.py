"""Every text a scheduled job sends, rendered in both languages.

Jobs hold no texts: they name a message of handlers/announcements.py (`Words("reminder",
...)`), which the delivery finds by `getattr` when it sends. A misspelt name, or a
catalog key a job builds, would fail only then, at night, in a job. Here every `Words`
the code names is found in the source, must have a sample below, and renders in Korean
and in English with every value filled."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers import announcements
from handlers.messages import en, ko
from services.accountability.ladder import LadderNews, Strike
from services.automation.auto_comments import CommentReport
from services.rules import CommunityRules
from services.verification.verifier import RunReport
from services.week.calendar import Week
from services.week.progress import MemberResult, TodoItem, WeekCorrection, WeekResults

ROOT = Path(__file__).resolve().parent.parent
RULES = CommunityRules()
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WEEK = Week.containing(NOW, RULES.timezone)
ITEMS = [TodoItem(1, "minji", "https://www.instagram.com/p/MINJI001/", "missing"),
         TodoItem(2, "jun", "https://www.instagram.com/p/JUN00001/", "late")]
REPORT = RunReport(week=WEEK.label, posts=12, fetched=10, from_cache=2, requests=40,
                   incomplete=["ABC"], failed={"DEF": "rate_limited"},
                   gone=[("https://www.instagram.com/p/G/", "minji", "not_found")],
                   foreign=[("https://www.instagram.com/p/F/", "jun", "other")],
                   comments_off=[("https://www.instagram.com/p/C/", "hana")],
                   private=[("https://www.instagram.com/p/P/", "hana")],
                   renamed=[(1, "old", "new")], paused=True, helpers_out=["helper1"])
MINJI = MemberResult(1, "minji", owed=4, done=2, missing=ITEMS, unknown=1, submitted=2)
DONE = MemberResult(2, "jun", owed=3, done=3, missing=[], unknown=0, submitted=0)
CORRECTIONS = [
    WeekCorrection(week_start=WEEK.start, username="minji", kind="verdict", before="missing",
                   after="done", actor="recheck", reason="appeal", post_owner="jun",
                   post_url="https://www.instagram.com/p/JUN00001/"),
    WeekCorrection(week_start=WEEK.start, username="minji", kind="pardon", before="missing",
                   after="pardoned", actor="admin", reason="hidden")]
STRIKES = [Strike(week_start=WEEK.start, reason="missing",
                  detail={"posts": [["jun", "https://www.instagram.com/p/JUN00001/"]]}),
           Strike(week_start=WEEK.start, reason="below_minimum",
                  detail={"submitted": 1, "minimum": 2, "handed_in": 3,
                          "dropped": [["https://www.instagram.com/p/G/", state] for state in
                                      ("gone", "foreign", "private")]})]


def _ladder(step: str | None, **more: object) -> LadderNews:
    return LadderNews(1, "minji", strikes=STRIKES, step=step, active_count=2,
                      suspended_until=NOW + timedelta(days=7), **more)  # type: ignore[arg-type]


# Each name a job uses, with the arguments jobs give it (several where the text
# branches), as (args, kwargs).
SAMPLES: dict[str, list[tuple[tuple[object, ...], dict[str, object]]]] = {
    "week_opened": [((WEEK, RULES), {})],
    "reminder": [((ITEMS, NOW, RULES.timezone), {})],
    "nudge": [((ITEMS, 3), {})],
    "submission_warning": [((1, 2, NOW, RULES.timezone), {})],
    "run_report": [
        (("job.refresh", WEEK.label, REPORT), {"cooling": ["helper2"]}),
        (("job.final", WEEK.label, REPORT), {"reached": 5, "unreachable": ["hana"],
                                             "groups": 1, "cooling": [],
                                             "unregistered": ["stranger"]})],
    "final_stuck": [((WEEK.label, 3, "TimeoutError"), {})],
    "private_result": [((member, WEEK), {}) for member in (
        MINJI, DONE, MemberResult(3, "hana", 0, 0, [], 0, 0),
        MemberResult(4, "seo", 3, 1, [], 2, 1))],
    "ladder_news": [((_ladder(step), WEEK, RULES), {})
                    for step in ("warning", "suspend 1", "removal", None)]
    + [((_ladder(None, expired=1, removal_proposed=True, empty_weeks=2), WEEK, RULES), {})],
    "removal_proposal": [((_ladder("removal"),), {}),
                         ((_ladder(None, removal_proposed=True, empty_weeks=3),), {})],
    "group_results": [
        ((WeekResults(WEEK, 7, [MINJI, DONE], True, CORRECTIONS),
          {"https://www.instagram.com/p/G/": ("hana", "not_found")}, [("jun", 4)]), {}),
        ((WeekResults(WEEK, 0, [], False), {}), {})],
    "renamed_member": [(("old", "new"), {})],
    "renamed_admins": [(("old", "new"), {})],
    "same_account_admins": [(("added", "older"), {})],
    "gone_owner": [(("https://www.instagram.com/p/G/",), {})],
    "gone_admins": [(("minji", "https://www.instagram.com/p/G/", "not_found"), {})],
    "foreign_member": [(("https://www.instagram.com/p/F/", "jun"), {})],
    "foreign_admins": [(("minji", "https://www.instagram.com/p/F/", "jun"), {})],
    "comments_off_owner": [(("https://www.instagram.com/p/C/",), {})],
    "comments_off_admins": [(("hana", "https://www.instagram.com/p/C/"), {})],
    "private_owner": [(("https://www.instagram.com/p/P/",), {})],
    "private_admins": [(("hana", "https://www.instagram.com/p/P/"), {})],
    "paused": [((), {})],
    "comment_report": [(("2026-11-25", CommentReport(consumers=2, posts=5, written=4,
                                                       failed=1, skipped=2, capped=1,
                                                       unverified=["bob"])), {})],
}
# Catalog keys sent as they are (`Words("text", (key,))`); an f-string's fields are
# filled with every value it takes in the code.
KEY_VALUES = {"was": ("paused", "suspended"),  # jobs/weekly_loop.py: who was lifted
              "what": ("expired",)}  # services/automation/auto_comments.py: tell(..., "expired")


def _words() -> tuple[set[str], set[str], set[str]]:
    """Every `Words(...)` in the code: the announcement names, the catalog keys sent as
    text, and the button label keys."""
    names: set[str] = set()
    keys: set[str] = set()
    labels: set[str] = set()
    for folder in ("jobs", "services", "bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "Words" and node.args
                        and isinstance(node.args[0], ast.Constant)):
                    continue
                name = node.args[0].value
                names.add(name)
                given = node.args[1] if len(node.args) > 1 else None
                if name == "text" and isinstance(given, ast.Tuple):
                    keys.update(_keys(given.elts[0]))
                if name == "buttons" and isinstance(given, ast.Tuple):
                    labels.update(pair.elts[0].value for pair in given.elts
                                  if isinstance(pair, ast.Tuple)
                                  and isinstance(pair.elts[0], ast.Constant))
    return names, keys, labels


def _keys(node: ast.expr) -> set[str]:
    """The keys a constant or an f-string stands for (a variable: none known here)."""
    if isinstance(node, ast.Constant):
        return {node.value}
    if not isinstance(node, ast.JoinedStr):
        return set()
    keys = {""}
    for part in node.values:
        if isinstance(part, ast.Constant):
            keys = {key + part.value for key in keys}
        else:
            field = ast.unparse(part.value)  # type: ignore[attr-defined]
            assert field in KEY_VALUES, f"a job builds a key from {field}: add its values"
            keys = {key + value for key in keys for value in KEY_VALUES[field]}
    return keys


NAMES, KEYS, LABELS = _words()


def test_every_job_text_has_a_sample() -> None:
    used = NAMES - {"text", "buttons"}
    assert used - set(SAMPLES) == set(), "a job names a text this test does not render"
    assert {name for name, given in SAMPLES.items() if given} - used == set()
    assert KEYS and LABELS


@pytest.mark.parametrize("name", sorted(NAMES - {"text", "buttons"}))
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_job_text_renders_in_both_languages(name: str, lang: str) -> None:
    render = getattr(announcements, name)  # as bot/delivery.py finds it
    for args, kwargs in SAMPLES[name]:
        text = render(*args, **kwargs)(lang)
        assert text.strip(), f"{name}{args!r} says nothing"
        assert "{" not in text and "}" not in text, f"{name}: a value left unfilled: {text}"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_catalog_key_a_job_sends_exists_and_renders(lang: str) -> None:
    catalog = ko.MESSAGES if lang == "ko" else en.MESSAGES
    assert KEYS | LABELS <= set(catalog), "a job sends a catalog key that is not there"
    for key in KEYS:
        assert "{" not in announcements.text(key)(lang), key
    assert all(label for label, _ in announcements.buttons(
        *((key, "/x") for key in LABELS))(lang))

