"""`autogram chat`: talk to the same handlers in a terminal, one message per line.

It reads standard input (so it can be scripted with a pipe) and prints each reply with
its buttons numbered; typing a button's number or its label presses it. `/file PATH`
sends a file, as a chat app's attachment would (an open-chat export for `/import`,
Instagram's export for the unfollow check).

The console cannot push: what the bot sends a console person on its own (an approval
request to the admins, an approval, a result) waits for them, as on KakaoTalk, and is
printed after their next exchange, its buttons pressable like the answer's (the admin of
`autogram chat --as boss` sees the request `autogram chat --as kim` made).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.channels import Capabilities, shown
from bot.config import Settings
from bot.delivery import Delivery
from bot.kakao_render import from_plain
from bot.outbox import Outbox
from bot.wiring import open_services
from handlers.dispatcher import Dispatcher
from handlers.events import Button, Incoming, Reply
from handlers.i18n import t
from services.container import Services
from services.messaging.notifier import BroadcastReport, Outgoing

PLATFORM = "console"
FILE_COMMAND = "/file "

# A terminal: buttons are numbered (typing the number presses one), a picture or a file
# is saved and its path printed, a link or a picture's address is printed, a progress
# update is a new line. It cannot delete what the person typed: it says so. Nothing
# reaches it unasked: what is sent on its own waits for the next exchange.
CONSOLE = Capabilities(buttons=True, images=True, files=True, reads_outbox=True,
                       receives_files=True)


def _saved(name: str, content: bytes) -> Path:
    """A picture or file of a reply, written where the person can open it (a terminal
    shows no pictures): the system's temporary folder, named by its content."""
    folder = Path(tempfile.gettempdir()) / "autogram-chat"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha256(content).hexdigest()[:10]}-{Path(name).name}"
    path.write_bytes(content)
    return path


def render(replies: list[Reply], language: str = "ko") -> tuple[str, list[Button]]:
    """The printed form of the replies, and the buttons the next line may press; a
    picture or a file is saved and its path printed."""
    lines: list[str] = []
    buttons: list[Button] = []
    for original in replies:
        reply = shown(original, CONSOLE, language)  # a link: printed, to open in a browser
        if reply.delete_incoming:
            lines.append("     " + t(language, "console.kept_secret"))
        lines.append(f"bot> {reply.text}".replace("\n", "\n     "))
        for button in reply.buttons:
            buttons.append(button)
            lines.append(f"     [{len(buttons)}] {button.label}")
        if reply.image is not None:
            path = _saved("picture.png", reply.image)
            lines.append("     " + t(language, "console.picture", path=path))
        if reply.document is not None:
            path = _saved(*reply.document)
            lines.append("     " + t(language, "console.file", path=path))
    return "\n".join(lines), buttons


class ConsoleInbox:
    """The console as jobs and services reach it (a `Channel`): it cannot push, so
    what the bot sends a console person on its own (an approval request to the admins)
    waits in the outbox for their next exchange, as on KakaoTalk."""

    platform = PLATFORM
    capabilities = CONSOLE
    start_link: str | None = None

    def __init__(self, services: Services) -> None:
        self.outbox = Outbox(services, PLATFORM, CONSOLE)

    async def post(self, chat_id: str, reply: Reply) -> bool:
        return False  # no push: the delivery leaves it in the outbox

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        return BroadcastReport(unreachable=[m.chat_id for m in messages], failed=[])


def connect_console(services: Services) -> None:
    """The console's delivery: admins, members and accounts on the console find what
    was sent them when they next speak."""
    services.delivery.connect(Delivery(services, [ConsoleInbox(services)]))


async def waiting(services: Services, name: str) -> list[Reply]:
    """What waits for this console person, taken out of the outbox."""
    async with services.transaction() as tx:
        return from_plain(await tx.outbox.take_results(PLATFORM, name, tx.now()))


def pressed(line: str, buttons: list[Button]) -> Button | None:
    if line.isdigit() and 1 <= int(line) <= len(buttons):
        return buttons[int(line) - 1]
    return next((b for b in buttons if b.label.lower() == line.lower()), None)


async def converse(dispatcher: Dispatcher, name: str, lines: TextIO, out: TextIO) -> None:
    buttons: list[Button] = []
    loop = asyncio.get_running_loop()
    counter = 0
    while True:
        line = await loop.run_in_executor(None, lines.readline)
        if not line:
            return
        line = line.rstrip("\n").strip()
        if not line:
            continue
        counter += 1
        button = pressed(line, buttons)
        attachment = None
        if button is None and line.startswith(FILE_COMMAND):
            attachment = await asyncio.to_thread(_read_file, line.removeprefix(FILE_COMMAND))
            if isinstance(attachment, str):
                print(attachment, file=out, flush=True)
                continue
        event = Incoming(
            platform=PLATFORM,
            chat_id=name,
            chat_kind="private",
            user_id=name,
            user_name=name,
            text="" if attachment else line if button is None else button.label,
            payload=None if button is None else button.payload,
            message_id=str(counter),
            attachment=attachment[1] if attachment else None,
            attachment_name=attachment[0] if attachment else None,
        )
        outcome = await dispatcher.handle(event, defer=True)
        text, buttons = render(outcome.replies, outcome.language or "ko")
        print(text, file=out, flush=True)
        if outcome.deferred:
            more = await dispatcher.finish(outcome, lambda update: _print_progress(update, out))
            if more:
                text, buttons = render(more, outcome.language or "ko")
                print(text, file=out, flush=True)
        if sent := await waiting(dispatcher.services, name):
            language = outcome.language or "ko"
            text, also = render(sent, language)
            print(t(language, "console.waiting"), file=out, flush=True)
            print(_numbered_after(text, len(buttons)), file=out, flush=True)
            buttons = [*buttons, *also]


def _numbered_after(text: str, first: int) -> str:
    """Printed buttons renumbered to follow the `first` already on screen."""
    if not first:
        return text
    return re.sub(r"^     \[(\d+)\] ", lambda m: f"     [{int(m.group(1)) + first}] ", text,
                  flags=re.MULTILINE)


def _read_file(name: str) -> tuple[str, bytes] | str:
    """The file `/file` names (name, bytes), or what is wrong with the name."""
    path = Path(name.strip()).expanduser()
    if not path.is_file():
        return f"(no such file: {path})"
    return path.name, path.read_bytes()


async def _print_progress(update: str, out: TextIO) -> None:
    print(f"  … {update}", file=out, flush=True)


async def chat(settings: Settings, name: str = "console") -> None:
    async with open_services(settings) as services:
        connect_console(services)
        if sys.stdin.isatty():
            print(
                f"Chatting as {name!r}. Type a message and press Enter; /help lists commands; "
                "type a button's number to press it; `/file PATH` sends a file; Ctrl-D quits.",
                flush=True,
            )
        await converse(Dispatcher(services), name, sys.stdin, sys.stdout)
