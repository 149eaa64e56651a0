"""A week typed with a command is read in one place (handlers/arguments.py), and a
week written right that does not exist gets the same answer from every command."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.arguments import iso_week, missing_week
from handlers.dispatcher import Dispatcher
from services.container import Services
from tests.support.chat_driver import Person

SEOUL = ZoneInfo("Asia/Seoul")


def test_a_week_is_read_in_both_spellings_and_only_in_the_years_with_data() -> None:
    assert iso_week("2026-W47", SEOUL) == iso_week(" 2026w47 ", SEOUL)
    assert iso_week("2026-W47", SEOUL).label == "2026-W47"  # type: ignore[union-attr]
    assert iso_week("2026-W54", SEOUL) is None and iso_week("1999-W10", SEOUL) is None
    assert missing_week("2026-W54") == (2026, 53) and missing_week("2027-W53") == (2027, 52)
    assert missing_week("2026-W47") is None and missing_week("1999-W99") is None
    assert missing_week("2026-47") is None  # not a week at all: the usage is shown


async def test_results_and_weeklink_say_the_same_about_a_week_that_does_not_exist(
    dispatcher: Dispatcher, services: Services
) -> None:
    admin = Person(dispatcher, "boss")
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    await admin.say(f"/claim {code}")
    await admin.say("/addme boss.kim")
    answers = []
    for command in ("/results", "/weeklink"):
        await admin.say(f"{command} 2027-w53")
        answers.append(admin.text)
    assert answers == ["2027-W53 같은 주는 없어요: 2027년은 1주부터 52주까지 있어요."] * 2


