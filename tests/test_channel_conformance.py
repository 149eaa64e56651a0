"""One set of replies through every channel over its real path, each part arriving or
its declared fallback (bot/channels.py) arriving instead.

The channels: Telegram's answers (the local Bot API emulator over HTTP), Telegram as
jobs reach it (the delivery's push), KakaoTalk's answers (the skill endpoint over HTTP
with real skill payloads), KakaoTalk as jobs reach it (the Event API push, and the
outbox shown with the person's next message), and the console (`autogram chat`, and
what jobs leave in the outbox for its next exchange).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels import Capabilities, link_line, picture_line, press_line
from bot.config import load_settings
from bot.console import CONSOLE, ConsoleInbox, converse, render
from bot.delivery import Delivery
from bot.kakao import KakaoSkill
from bot.kakao_render import KAKAO_ANSWERS, MORE_PAYLOAD, from_plain
from bot.telegram import TelegramTransport
from bot.text import split_text
from bot.web import build_web_app
from handlers.context import Continue, Ctx, ProgressFn
from handlers.dispatcher import Dispatcher
from handlers.events import Button, Incoming, Reply
from handlers.i18n import t
from handlers.registry import Flow
from services.container import Services
from testkit.telegram_emulator import BotApiEmulator
from tests.support.kakao import BOT_ID, SECRET, KakaoClient, serve, skill_request
from tests.support.kakao import USER as KAKAO_USER
from tests.support.telegram import telegram_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the notice's QR code, as bytes
PAGE = "https://bot.example/m/personal-page"
LONG = "\n".join(f"{n:03d} " + "가나다라마바사" * 9 for n in range(160))  # ~11,000 characters
UPDATE, DONE = "1/3 확인했어요", "다 확인했어요"
USER = 4242


def script(picture_url: str) -> dict[str, Reply]:
    """Every part a reply can have, one reply each."""
    return {
        "text": Reply("짧은 답이에요"),
        "long": Reply(LONG),
        "buttons": Reply("언어를 골라 주세요", buttons=(Button("한국어", "/lang ko"),
                                                  Button("English", "/lang en"))),
        "link": Reply("개인 페이지", buttons=(Button("🌐 브라우저로 열기", "", url=PAGE),)),
        "picture": Reply("이번 주 그림", image_url=picture_url),
        "qr": Reply("공지 QR", image=PNG),
        "file": Reply("전체 목록", document=("followers.csv", b"name\nminji\n")),
        "secret": Reply("비밀번호를 받았어요", delete_incoming=True),
    }


CONTENT = ("text", "long", "buttons", "link", "picture", "qr", "file")
ANSWERS = (*CONTENT, "secret", "progress")


async def _slow(progress: ProgressFn) -> None:
    await progress(UPDATE)


async def _done(_ctx: Ctx, _result: object) -> list[Reply]:
    return [Reply(DONE)]


class Scripted(Dispatcher):
    """The real dispatcher (identity, state, the answer queued with its update), whose
    routing answers with the script; "progress" is slow work that reports progress."""

    def __init__(self, services: Services, replies: dict[str, Reply]) -> None:
        super().__init__(services)
        self.replies = replies
        self.events: dict[str, Incoming] = {}

    async def _route(self, ctx: Ctx, text: str, flow: Flow | None) -> list[Reply]:
        self.events[text] = ctx.event
        if text == "progress":
            ctx.defer(Continue(_slow, then=_done, progress=lambda _language, show: show))
            return [Reply("확인하고 있어요…", progress=True)]
        return [self.replies[text]] if text in self.replies else []


@dataclass
class Seen:
    """What a person saw of one reply, whatever the channel."""

    text: str = ""
    buttons: list[str] = field(default_factory=list)  # labels that can be pressed
    links: list[str] = field(default_factory=list)  # addresses of link buttons
    pictures: list[bytes | str] = field(default_factory=list)  # bytes, or an address
    files: list[str] = field(default_factory=list)
    edited: bool = False
    deleted: bool = False


@dataclass
class Run:
    """A channel's declared capabilities and what each reply of the script showed."""

    capabilities: Capabilities
    seen: dict[str, Seen]
    events: dict[str, Incoming] = field(default_factory=dict)


def flat(text: str) -> str:
    return "".join(text.split())


# --- Telegram ----------------------------------------------------------------------


def _telegram_messages(name: str) -> int:
    """How many messages Telegram shows for each answer: its texts (the long one split
    at 4096 characters), a picture or a file after them, a progress message's edit."""
    extra = {"long": len(split_text(LONG, 4096)) - 1, "picture": 1, "qr": 1, "file": 1,
             "progress": 2}
    return 1 + extra.get(name, 0)


def _telegram_seen(emulator: BotApiEmulator, messages: list[dict[str, Any]],
                   photos: int, documents: int) -> Seen:
    seen = Seen()
    seen.text = "\n".join(m.get("text", "") for m in messages
                          if m["method"] in ("sendMessage", "editMessageText"))
    for message in messages:
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button.get("url"):
                    seen.links.append(button["url"])
                else:
                    seen.buttons.append(button["text"])
    seen.pictures = [p["bytes"] for p in emulator.photos[photos:]]
    seen.files = [d["filename"] for d in emulator.documents[documents:]]
    seen.edited = any(m["method"] == "editMessageText" for m in messages)
    return seen


async def telegram_answers(services: Services, replies: dict[str, Reply],
                           picture: bytes) -> Run:
    async with BotApiEmulator() as emulator:
        dispatcher = Scripted(services, replies)
        transport = TelegramTransport(telegram_settings(emulator), dispatcher)
        await transport.start()
        try:
            seen: dict[str, Seen] = {}
            for name in ANSWERS:
                photos, documents = len(emulator.photos), len(emulator.documents)
                said = await emulator.send_text(USER, name)
                messages = await emulator.wait_for(USER, _telegram_messages(name))
                seen[name] = _telegram_seen(emulator, messages, photos, documents)
                seen[name].deleted = (USER, said["message_id"]) in emulator.deleted
            assert seen["picture"].pictures == [picture]  # fetched from the web app
        finally:
            await transport.stop()
    return Run(transport.capabilities, seen, dispatcher.events)


async def telegram_jobs(services: Services, replies: dict[str, Reply], picture: bytes) -> Run:
    async with BotApiEmulator() as emulator:
        transport = TelegramTransport(telegram_settings(emulator), Scripted(services, replies))
        await transport.start()
        try:
            delivery = Delivery(services, [transport])
            seen: dict[str, Seen] = {}
            for name in CONTENT:
                before = len(emulator.messages_to(USER))
                photos, documents = len(emulator.photos), len(emulator.documents)
                assert await delivery.reach("telegram", str(USER), replies[name],
                                            "ko") == "pushed"
                seen[name] = _telegram_seen(emulator, emulator.messages_to(USER)[before:],
                                            photos, documents)
        finally:
            await transport.stop()
    return Run(transport.capabilities, seen)


# --- KakaoTalk -----------------------------------------------------------------------


def _kakao_seen(bodies: list[dict[str, Any]]) -> Seen:
    seen = Seen()
    texts: list[str] = []
    for body in bodies:
        template = body["template"]
        for output in template["outputs"]:
            if "simpleText" in output:
                texts.append(output["simpleText"]["text"])
            if "simpleImage" in output:
                seen.pictures.append(output["simpleImage"]["imageUrl"])
            if "textCard" in output:
                seen.links += [b["webLinkUrl"] for b in output["textCard"]["buttons"]]
        seen.buttons += [q["label"] for q in template.get("quickReplies", [])
                         if q["extra"]["payload"] != MORE_PAYLOAD]
    seen.text = "\n".join(texts)
    return seen


async def _kakao_answer(kakao: KakaoClient, utterance: str) -> Seen:
    """One message's answer, and every "더 보기" after it."""
    status, body = await kakao.post(skill_request(utterance))
    assert status == 200, body
    bodies = [body]
    while any(q["extra"]["payload"] == MORE_PAYLOAD
              for q in bodies[-1]["template"].get("quickReplies", [])):
        more = next(q for q in bodies[-1]["template"]["quickReplies"]
                    if q["extra"]["payload"] == MORE_PAYLOAD)
        status, body = await kakao.post(skill_request(more["messageText"],
                                                      extra=more["extra"]))
        bodies.append(body)
    return _kakao_seen(bodies)


async def _kakao(services: Services, dispatcher: Dispatcher, **settings: Any
                 ) -> AsyncIterator[tuple[KakaoClient, KakaoSkill]]:
    skill = KakaoSkill(load_settings(kakao_bot_id=BOT_ID, kakao_skill_secret=SECRET,
                                     database_url="sqlite://", **settings),
                       dispatcher, services)
    app = build_web_app([])
    skill.add_routes(app)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            yield KakaoClient(session, f"{base}/kakao/skill"), skill
    finally:
        await runner.cleanup()


async def kakao_answers(services: Services, replies: dict[str, Reply], _picture: bytes) -> Run:
    dispatcher = Scripted(services, replies)
    async for kakao, _skill in _kakao(services, dispatcher):
        seen = {name: await _kakao_answer(kakao, name) for name in ANSWERS}
    return Run(KAKAO_ANSWERS, seen, dispatcher.events)


async def kakao_push(services: Services, replies: dict[str, Reply], _picture: bytes) -> Run:
    pushed: list[str] = []

    async def talk(request: web.Request) -> web.Response:
        pushed.append((await request.json())["event"]["data"]["text"])
        return web.json_response({"taskId": "t-1", "status": "SUCCESS"})

    app = web.Application()
    app.router.add_post("/v2/bots/{bot}/talk", talk)
    runner, base = await serve(app)
    try:
        async for _kakao_client, skill in _kakao(
                services, Scripted(services, replies), kakao_rest_api_key="rest-key",
                kakao_event_name="reminder", kakao_event_api_url=base):
            delivery = Delivery(services, [skill])
            seen: dict[str, Seen] = {}
            for name in CONTENT:
                assert await delivery.reach("kakao", "kakao-user", replies[name],
                                            "ko") == "pushed"
                seen[name] = Seen(text=pushed.pop())
            capabilities = skill.capabilities
    finally:
        await runner.cleanup()
    assert capabilities.push
    return Run(capabilities, seen)


async def kakao_outbox(services: Services, replies: dict[str, Reply], _picture: bytes) -> Run:
    async for kakao, skill in _kakao(services, Scripted(services, replies)):
        assert not skill.capabilities.push  # no Event API: things wait for the next message
        delivery = Delivery(services, [skill])
        seen: dict[str, Seen] = {}
        for name in CONTENT:
            assert await delivery.reach("kakao", KAKAO_USER, replies[name], "ko") == "waiting"
            seen[name] = await _kakao_answer(kakao, "아무 말")  # answered by what waited
        assert skill.outbox is not None
        capabilities = skill.outbox.capabilities
    return Run(capabilities, seen)


# --- the console ---------------------------------------------------------------------


def _console_seen(printed: str, language: str = "ko") -> Seen:
    seen = Seen(text=printed)
    seen.buttons = re.findall(r"^\s+\[\d+\] (.+)$", printed, flags=re.MULTILINE)
    for label, found in (("console.picture", seen.pictures), ("console.file", seen.files)):
        prefix = t(language, label, path="")
        for line in printed.splitlines():
            if line.strip().startswith(prefix.strip()):
                path = Path(line.strip().removeprefix(prefix.strip()).strip())
                found.append(path.read_bytes() if label == "console.picture"
                             else path.name.split("-", 1)[1])
    return seen


async def console(services: Services, replies: dict[str, Reply], _picture: bytes) -> Run:
    dispatcher = Scripted(services, replies)
    seen: dict[str, Seen] = {}
    for name in ANSWERS:
        out = io.StringIO()
        await converse(dispatcher, "console-person", io.StringIO(f"{name}\n"), out)
        seen[name] = _console_seen(out.getvalue())
    return Run(CONSOLE, seen, dispatcher.events)


async def console_outbox(services: Services, replies: dict[str, Reply], _picture: bytes
                         ) -> Run:
    """What jobs send a console person waits in the outbox and is printed with their
    next exchange."""
    inbox = ConsoleInbox(services)
    delivery = Delivery(services, [inbox])
    seen: dict[str, Seen] = {}
    for name in CONTENT:
        assert await delivery.reach("console", "console-person", replies[name],
                                    "ko") == "waiting"
        async with services.transaction() as tx:
            waiting = from_plain(await tx.outbox.take_results("console", "console-person",
                                                              tx.now()))
        seen[name] = _console_seen(render(waiting, "ko")[0])
    return Run(inbox.outbox.capabilities, seen)


# --- the conformance ---------------------------------------------------------------

Runner = Callable[[Services, dict[str, Reply], bytes], Awaitable[Run]]
CHANNELS: dict[str, Runner] = {
    "telegram": telegram_answers,
    "telegram jobs": telegram_jobs,
    "kakao": kakao_answers,
    "kakao push": kakao_push,
    "kakao outbox": kakao_outbox,
    "console": console,
    "console outbox": console_outbox,
}


@pytest.fixture
async def picture_site() -> AsyncIterator[tuple[str, bytes]]:
    """The web app's week picture, at an address Telegram can fetch."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    picture = buffer.getvalue()

    async def week_png(_request: web.Request) -> web.Response:
        return web.Response(body=picture, content_type="image/png")

    app = web.Application()
    app.router.add_get("/week/2026-W48.png", week_png)
    runner, base = await serve(app)
    yield f"{base}/week/2026-W48.png", picture
    await runner.cleanup()


@pytest.mark.parametrize("channel", list(CHANNELS))
async def test_every_part_arrives_or_its_declared_fallback_does(
        channel: str, services: Services, picture_site: tuple[str, bytes]) -> None:
    url, picture = picture_site
    replies = script(url)
    run = await CHANNELS[channel](services, replies, picture)
    caps, seen, ko = run.capabilities, run.seen, "ko"

    assert "짧은 답이에요" in seen["text"].text
    assert flat(LONG) in flat(seen["long"].text)  # whole, in order, however it is split

    for button in replies["buttons"].buttons:
        if caps.buttons:
            assert button.label in seen["buttons"].buttons
        else:
            assert press_line(button, ko) in seen["buttons"].text
    (link,) = replies["link"].buttons
    if caps.url_buttons:
        assert seen["link"].links == [PAGE]
    else:
        assert link_line(link) in seen["link"].text and seen["link"].links == []

    if caps.image_urls:  # the week's picture, by its address (Telegram fetches it)
        assert seen["picture"].pictures in ([url], [picture])
    else:
        assert picture_line(url) in seen["picture"].text
    if caps.images:
        assert seen["qr"].pictures == [PNG]
    else:
        assert seen["qr"].pictures == []
        assert t(ko, caps.picture_fallback) in seen["qr"].text
    if caps.files:
        assert seen["file"].files == ["followers.csv"]
    else:
        assert t(ko, caps.file_fallback, name="followers.csv") in seen["file"].text

    if "secret" in seen:  # an answer to a message that carried a password
        assert "비밀번호를 받았어요" in seen["secret"].text
        event = run.events["secret"]
        if caps.deletion:
            assert seen["secret"].deleted and event.deletes_messages
        elif not event.deletes_messages:  # the handlers' questions warn instead
            assert not seen["secret"].deleted
        else:  # the console says that a terminal keeps it
            assert t(ko, "console.kept_secret") in seen["secret"].text
    if "progress" in seen:  # slow work reports progress, then its result
        shown = seen["progress"]
        assert "확인하고 있어요…" in shown.text or UPDATE in shown.text
        assert DONE in shown.text
        if caps.edits:
            assert shown.edited
        elif channel != "kakao":  # a one-answer channel shows the result in place of it
            assert UPDATE in shown.text and not shown.edited


async def test_an_admin_on_kakao_push_gets_the_decision_buttons_as_what_to_type(
        services: Services) -> None:
    """The Event API carries text only: an approval request's buttons used to vanish
    there; they come as lines saying what to type."""
    from storage.models import Admin, ChatAccount, utcnow

    async with services.transaction() as tx:
        account = ChatAccount(platform="kakao", platform_user_id="kakao-admin", language="en")
        tx.session.add(account)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=account.id, claimed_at=utcnow()))
    pushed: list[str] = []

    async def talk(request: web.Request) -> web.Response:
        pushed.append((await request.json())["event"]["data"]["text"])
        return web.json_response({"taskId": "t-1", "status": "SUCCESS"})

    app = web.Application()
    app.router.add_post("/v2/bots/{bot}/talk", talk)
    runner, base = await serve(app)
    try:
        async for _client, skill in _kakao(services, Dispatcher(services),
                                           kakao_rest_api_key="rest-key",
                                           kakao_event_name="reminder",
                                           kakao_event_api_url=base):
            await Delivery(services, [skill]).to_admins(
                lambda language: f"Let minji in? ({language})",
                lambda _language: [("Approve", "/approve 7"), ("Refuse", "/refuse 7")])
    finally:
        await runner.cleanup()
    (text,) = pushed
    assert text.startswith("Let minji in? (en)")
    assert "Approve: type /approve 7" in text and "Refuse: type /refuse 7" in text
