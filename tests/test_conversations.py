"""The conversation core through the real dispatcher and database, as a person sees it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text, update

from handlers.dispatcher import Dispatcher
from handlers.messages import en, ko
from services.container import Services
from storage.models import AuditEntry, ConversationState
from tests.conftest import TEST_NOW
from tests.support.chat_driver import Person
from tests.support.members import make_admin, make_member


def test_catalogs_hold_the_same_keys() -> None:
    assert set(ko.MESSAGES) == set(en.MESSAGES)


async def test_a_stranger_is_told_how_to_join_and_nothing_else(dispatcher: Dispatcher) -> None:
    stranger = Person(dispatcher, "s1")
    await stranger.say("안녕하세요")
    assert "초대 코드" in stranger.text
    await stranger.say("/help")
    assert "/start" in stranger.text and "/addhelper" not in stranger.text


async def test_help_differs_for_strangers_members_and_admins(
    dispatcher: Dispatcher, services: Services
) -> None:
    member, admin, stranger = (Person(dispatcher, u) for u in ("m1", "a1", "s1"))
    await make_member(services, member)
    await make_admin(services, admin)
    await stranger.say("/help")
    await member.say("도움말")  # a plain word works like the command
    member_help = member.text
    await admin.say("/help")
    assert "/helpers" in admin.text and "/addhelper" in admin.text
    assert "/helpers" not in member_help and "/helpers" not in stranger.text


async def test_language_is_chosen_with_buttons_and_kept(dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "u1")
    replies = await person.say("/lang")
    assert [b.label for b in replies[0].buttons] == ["한국어", "English"]
    await person.press("English")
    assert person.text == "I will speak English from now on."
    await person.say("/lang klingon")
    assert "Unsupported language: klingon" in person.text
    await person.say("/help")
    assert person.text.startswith("What you can do:")


async def test_first_contact_uses_the_app_language(dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "u2", language_hint="en-US")
    await person.say("/start")
    assert "To join, get an invite code" in person.text


async def test_invite_links_once(dispatcher: Dispatcher, services: Services) -> None:
    first, second = Person(dispatcher, "m1"), Person(dispatcher, "m2")
    async with services.transaction() as tx:
        from services.members.queries import MemberRepo

        member = await MemberRepo(tx.session).add("minji")
        code = await tx.invites.create(member.id)
    await first.say(f"/start {code.lower()}")  # typed in lower case: still fine
    assert "@minji 계정과 연결됐어요" in first.text
    await second.say(f"/start {code}")
    assert "이미 사용된 초대 코드" in second.text
    await second.say("/start NOPE1234")
    assert "초대 코드를 찾을 수 없어요" in second.text


async def test_claim_codes_are_single_use_and_throttled(
    dispatcher: Dispatcher, services: Services, engine
) -> None:
    async with services.transaction() as tx:
        code = await tx.admins.create_claim("boss")
    guesser = Person(dispatcher, "g1")
    for _ in range(5):
        await guesser.say("/claim WRONGCODE1")
        assert "코드가 맞지 않거나" in guesser.text
    await guesser.say(f"/claim {code}")  # even the right code: too many tries this hour
    assert "한 시간 뒤에" in guesser.text
    admin = Person(dispatcher, "a1")
    await admin.say(f"/claim {code}")
    assert "관리자로 등록됐어요" in admin.text and admin.last.menu_changed
    await Person(dispatcher, "a2").say(f"/claim {code}")
    async with engine.connect() as conn:
        actions = (await conn.execute(text("SELECT action FROM audit_log"))).scalars().all()
    assert actions.count("claim_failed") == 6 and "admin_claimed" in actions


async def test_admin_commands_are_refused_and_audited(
    dispatcher: Dispatcher, services: Services
) -> None:
    member = Person(dispatcher, "m1")
    await make_member(services, member)
    for command in ("/addhelper", "/helpers"):
        await member.say(command)
        assert member.text == "관리자만 쓸 수 있는 명령이에요."
    async with services.transaction() as tx:
        query = select(AuditEntry.target).where(AuditEntry.action == "refused")
        refused = (await tx.session.scalars(query)).all()
    assert sorted(refused) == ["/addhelper", "/helpers"]


async def test_add_helper_flow_with_hints_secret_and_encryption(
    dispatcher: Dispatcher, services: Services, engine, simulated
) -> None:
    simulated.add_account("helper.one", password="s3cret-pass")
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    replies = await admin.say("/addhelper")
    assert "인스타그램 아이디를 보내" in replies[0].text
    assert [b.label for b in replies[0].buttons] == ["취소"]
    await admin.say("not a username!")
    assert "인스타그램 아이디 형식이 아니에요: not a username!" in admin.text
    await admin.say("https://www.instagram.com/Helper.One/")
    assert "@helper.one의 비밀번호" in admin.text
    assert not admin.last.replies[0].delete_incoming
    replies = await admin.say("s3cret-pass")
    assert replies[0].delete_incoming  # the password message is deleted from the chat
    assert "@helper.one 로그인 완료" in admin.text and "s3cret-pass" not in admin.text
    await admin.say("/helpers")
    assert "@helper.one — 사용 중" in admin.text
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT password FROM helper"))).scalar_one()
        states = (await conn.execute(text("SELECT count(*) FROM conversation_state"))).scalar()
    assert raw != "s3cret-pass" and states == 0


async def test_cancel_button_and_word_leave_a_flow(
    dispatcher: Dispatcher, services: Services
) -> None:
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    await admin.say("/addhelper")
    await admin.press("취소")
    assert admin.text.startswith("취소했어요")
    await admin.say("helper.two")  # no flow now: not taken as a username
    assert "무엇을 도와드릴까요" in admin.text
    await admin.say("/addhelper")
    await admin.say("취소")
    assert admin.text.startswith("취소했어요")
    await admin.say("/cancel")
    assert admin.text == "진행 중인 작업이 없어요."


async def test_an_expired_flow_says_so_and_starts_clean(
    dispatcher: Dispatcher, services: Services, engine
) -> None:
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    await admin.say("/addhelper")
    async with engine.begin() as conn:
        await conn.execute(
            update(ConversationState).values(expires_at=TEST_NOW - timedelta(minutes=1))
        )
    await admin.say("helper.three")
    assert admin.text == "이전 대화가 시간이 지나 종료됐어요. 처음부터 다시 해 주세요."
    await admin.say("helper.three")
    assert "무엇을 도와드릴까요" in admin.text


async def test_a_flow_continues_in_another_instance(
    dispatcher: Dispatcher, services: Services
) -> None:
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    await admin.say("/addhelper")
    admin.dispatcher = Dispatcher(services)  # a restarted bot, same database
    await admin.say("helper.four")
    assert "@helper.four의 비밀번호" in admin.text


async def test_password_flows_refuse_in_groups(dispatcher: Dispatcher, services: Services) -> None:
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    in_group = Person(dispatcher, "a1", chat_kind="group", chat_id="g-1")
    await in_group.say("/addhelper")
    assert "개인 채팅에서만" in in_group.text
    await in_group.say("just chatting in the group")
    assert in_group.last.replies == []


async def test_unknown_commands_get_a_hint(dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "u1")
    await person.say("/frobnicate now")
    assert "모르는 명령이에요: /frobnicate" in person.text


async def test_two_bot_instances_share_one_database(database_url: str) -> None:
    """Two processes' worth of engines on the same database: no event is lost to a lock."""
    import asyncio

    from services.rules import CommunityRules
    from storage.db import create_engine, session_factory

    engines = [create_engine(database_url) for _ in range(2)]
    try:
        bots = [
            Dispatcher(Services(session_factory(e), CommunityRules(),
                                serialize=e.dialect.name == "sqlite"))
            for e in engines
        ]
        people = [Person(bots[n % 2], f"crowd-{n}") for n in range(60)]

        async def chat(person: Person) -> list[str]:
            texts = []
            for command in ("/lang en", "/lang ko", "/lang en"):
                await person.say(command)
                texts.append(person.text)
            return texts

        answers = await asyncio.gather(*(chat(p) for p in people))
        assert all(a[-1] == "I will speak English from now on." for a in answers)
    finally:
        for e in engines:
            await e.dispose()


async def test_a_failing_handler_answers_politely_and_keeps_the_flow(
    dispatcher: Dispatcher, services: Services, monkeypatch, caplog, simulated
) -> None:
    from dataclasses import replace

    from handlers.registry import Command, Flow

    simulated.add_account("helper.five", password="p@ssw0rd-typed")
    admin = Person(dispatcher, "a1")
    await make_admin(services, admin)
    await admin.say("/addhelper")
    await admin.say("helper.five")

    async def broken(_ctx, _text):  # type: ignore[no-untyped-def]
        raise RuntimeError("database exploded")

    registry = dispatcher.registry
    flow = registry.flows["add_helper"]
    broken_flow = Flow(flow.name, {**flow.steps, "password": broken}, flow.secret_steps)
    monkeypatch.setattr(dispatcher, "registry", replace(
        registry, flows={**registry.flows, "add_helper": broken_flow}))
    replies = await admin.say("p@ssw0rd-typed")
    assert admin.text == "죄송해요, 처리 중 문제가 생겼어요. 잠시 후 다시 해 주세요."
    assert replies[0].delete_incoming  # the password is still removed from the chat
    assert "p@ssw0rd-typed" not in caplog.text and "database exploded" in caplog.text
    patched = dispatcher.registry
    monkeypatch.setattr(dispatcher, "registry", replace(patched, commands=tuple(
        Command("help", broken) if c.name == "help" else c for c in patched.commands)))
    await admin.say("/help")  # a menu word at a password step: asked about first
    await admin.say("/help")  # again: the menu, whose handler fails
    assert admin.text.startswith("죄송해요")
    monkeypatch.undo()
    await admin.say("p@ssw0rd-typed")  # nothing was lost: the flow is where it was
    assert "@helper.five 로그인 완료" in admin.text
