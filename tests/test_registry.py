"""The one registry the dispatcher routes by: commands, words, flows with their cancel,
content triggers in order. A dispatcher given another registry routes by that one only
(nothing is read from a module-level list)."""

from __future__ import annotations

import pytest

from handlers import flow_control
from handlers import onboarding as core
from handlers.context import Ctx
from handlers.dispatcher import Dispatcher
from handlers.events import Reply
from handlers.features import build_registry
from handlers.i18n import t
from handlers.registry import Command, Flow, Registry, Trigger
from services.container import Services
from tests.support.chat_driver import Person

CORE = {c.name: c for c in core.COMMANDS}


async def survey(ctx: Ctx, _args: str) -> list[Reply]:
    ctx.goto("survey", "answer")
    return [ctx.ask("common.not_understood")]


async def survey_answer(ctx: Ctx, text: str) -> list[Reply]:
    ctx.end()
    return [Reply(f"noted: {text}")]


async def survey_left(_ctx: Ctx, state: object) -> list[Reply]:
    return [Reply(f"survey left at {getattr(state, 'step', '?')}")]


def said(text: str) -> Trigger:
    async def run(_ctx: Ctx, typed: str) -> list[Reply]:
        return [Reply(f"{text}: {typed}")]
    return Trigger(text, "text", lambda _ctx, typed: typed.startswith("x"), run)


def small(triggers: list[Trigger] = ()) -> Registry:  # type: ignore[assignment]
    return Registry.of(
        [CORE["help"], CORE["lang"], *flow_control.COMMANDS,
         Command("survey", survey, keywords=("설문",), in_menu=False)],
        [*flow_control.FLOWS, Flow("survey", {"answer": survey_answer},
                                   on_cancel=survey_left)],
        list(triggers), [])


def test_a_name_or_a_word_given_twice_is_refused() -> None:
    help_ = CORE["help"]
    with pytest.raises(ValueError, match="keywords registered twice"):
        Registry.of([help_, Command("other", help_.run, keywords=("HELP",))], [], [], [])
    with pytest.raises(ValueError, match="commands registered twice"):
        Registry.of([help_, help_], [], [], [])
    build_registry()  # the bot's own has neither


async def test_help_lists_the_registry_of_its_dispatcher(services: Services) -> None:
    person = Person(Dispatcher(services, small()), "u1")
    await person.say("/help")
    assert "/lang" in person.text and "/cancel" in person.text
    assert "/status" not in person.text  # the bot's other commands are not this registry's
    await person.say("/status")
    assert person.text == t("ko", "common.unknown_command", command="/status")


async def test_cancel_says_what_the_flow_declares(services: Services) -> None:
    person = Person(Dispatcher(services, small()), "u2")
    await person.say("설문")  # a word of the registry starts the flow
    await person.say("/cancel")
    assert person.text == "survey left at answer"
    await person.say("/cancel")
    assert person.text == t("ko", "common.nothing_to_cancel")
    await person.say("/survey")
    await person.say("fine")  # the flow's step, not a trigger
    assert person.text == "noted: fine"


async def test_the_first_trigger_that_matches_answers(services: Services) -> None:
    person = Person(Dispatcher(services, small([said("first"), said("second")])), "u3")
    await person.say("xyz")
    assert person.text == "first: xyz"
    await person.say("abc")  # no trigger: a stranger is told how to join
    assert person.text == t("ko", "stranger.how_to_join")


async def test_a_trigger_for_members_tells_a_stranger_how_to_join(services: Services) -> None:
    members_only = Trigger("members", "text", lambda _ctx, _text: True,
                           said("never").run, audience="member")
    person = Person(Dispatcher(services, small([members_only])), "u4")
    await person.say("xyz")
    assert person.text == t("ko", "stranger.how_to_join")


async def test_the_bot_registry_routes_files_and_text_in_order() -> None:
    registry = build_registry()
    assert [t.name for t in registry.file_triggers()] == ["chat_export", "instagram_export"]
    assert [t.name for t in registry.text_triggers()] == ["invite_code", "post_link"]
    assert registry.keyword(" 취소 ") is registry.by_name["cancel"]
    assert registry.flows["choice"].on_cancel is flow_control.say_kept
