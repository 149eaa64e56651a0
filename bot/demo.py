"""`autogram chat --demo`: the whole weekly loop in a terminal, on the simulated Instagram.

A throw-away SQLite database (in the user's data folder, `$XDG_DATA_HOME/autogram/demo`,
else `~/.local/share/autogram/demo`: one per user, so two people on one machine never
share it) holds a small community: an
admin, six members, a helper account, last week's posts already checked and this week's
posts waiting. The simulated Instagram is rebuilt from that database in every process,
with comments drawn the same way each time (a hash of who and which post), so the
admin's and the members' sessions see the same Instagram. Plain `--demo` starts a fresh
community and lists who is there; `--demo --as admin` or `--demo --as <username>` chats.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from bot.console import connect_console, converse
from bot.web import build_web_app
from bot.web_pages import WebPages
from bot.wiring import open_services
from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.names import name_key
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.web.links import BoardMode, WebLinks
from services.week.calendar import Week
from services.week.submissions import SubmissionRepo
from storage import crypto
from storage.migrations import upgrade
from storage.models import Admin, ChatAccount, Helper, Member, Submission, utcnow


def demo_folder() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "autogram" / "demo"
ADMIN = "admin"
HELPER = "demo.helper"
# (username, posts this week): one below the minimum, one with none.
MEMBERS = (("minji", 2), ("jisoo", 2), ("hana", 2), ("yuna", 3), ("seojun", 1), ("doyun", 0))
COMMENT_SHARE = 6  # in 10: how often a member commented on another's post
# On the simulated Instagram beside the members' posts: a café's post (someone else's:
# refused when a member hands it in) and a new post of minji's behind a /share/ link
# (resolved to the post's own link when handed in).
OTHERS_POST = ("seoul.cafe.daily", "DCafePost1x")
MINJI_NEW = ("minji", "DMinjiNew1x")
SHARE_TOKEN = "BMinjiShare2"
OTHERS_LINK = f"https://www.instagram.com/p/{OTHERS_POST[1]}/"
SHARE_LINK = f"https://www.instagram.com/share/p/{SHARE_TOKEN}/"


def commented(member: str, shortcode: str) -> bool:
    """The same answer in every process: whether `member` commented on the post."""
    digest = hashlib.sha256(f"{member}:{shortcode}".encode()).digest()
    return digest[0] % 10 < COMMENT_SHARE


def _key_file() -> Path:
    return demo_folder() / "demo.key"


async def fill_simulation(services: Services, sim: SimulatedInstagram) -> None:
    """Accounts, every submitted post with its (hashed) commenters, and the helper's
    stored session, so the helper stays logged in across demo processes."""
    async with services.transaction() as tx:
        names = list(await tx.session.scalars(select(Member.instagram_username)))
        posts = (await tx.session.execute(
            select(Submission.shortcode, Member.instagram_username, Submission.submitted_at)
            .join(Member, Member.id == Submission.member_id))).all()
        helpers = list(await tx.session.scalars(select(Helper)))
        for helper in helpers:
            sim.add_account(helper.instagram_username, password="demo-password")
            if helper.session:
                sim.accept_session(helper.session)
    for name in names:
        sim.add_account(name)
    for shortcode, owner, when in posts:
        sim.add_post(owner, shortcode, [n for n in names if n != owner
                                        and commented(n, shortcode)], taken_at=when)
    for owner, shortcode in (OTHERS_POST, MINJI_NEW):
        if shortcode not in sim.posts:
            sim.add_account(owner)
            sim.add_post(owner, shortcode, [])
    sim.add_share(SHARE_TOKEN, MINJI_NEW[1])


async def seed(services: Services, sim: SimulatedInstagram) -> None:
    now = utcnow()
    this_week = Week.containing(now, services.rules.timezone)
    last_week = this_week.previous()
    async with services.transaction() as tx:
        admin_account = ChatAccount(platform="console", platform_user_id=ADMIN,
                                    display_name="Demo admin", language="ko")
        tx.session.add(admin_account)
        await tx.session.flush()
        tx.session.add(Admin(name="demo admin", chat_account_id=admin_account.id,
                             claimed_at=now))
        sim.add_account(HELPER, password="demo-password")
        tx.session.add(Helper(instagram_username=HELPER, password="demo-password",
                              session=sim.session_for(HELPER), status="ready"))
        repo = SubmissionRepo(tx.session)
        for number, (name, posts) in enumerate(MEMBERS):
            member = Member(instagram_username=name, display_name=name.title(),
                            joined_at=now - timedelta(days=30))
            tx.session.add(member)
            await tx.session.flush()
            tx.session.add(ChatAccount(platform="console", platform_user_id=name,
                                       member_id=member.id, language="ko"))
            for week, count in ((last_week, 2), (this_week, posts)):
                for n in range(count):
                    code = f"D{week.start:%y%m%d}{number}{n}x"
                    await repo.add(member.id, week.start,
                                   f"https://www.instagram.com/p/{code}/", code,
                                   submitted_at=min(now, week.at("MON 09:00")
                                                    + timedelta(hours=number)))
    await fill_simulation(services, sim)
    await services.checks.week(last_week)  # last week is already checked and counted
    async with services.transaction() as tx:  # recorded and counted, as the final job does
        await tx.records.record(last_week, now)
    async with services.transaction() as tx:
        await tx.accountability.apply_week(last_week, now)


def cast() -> str:
    members = ", ".join(f"{name} ({posts})" for name, posts in MEMBERS)
    return (
        f"A demo community is ready in {demo_folder()} (a throw-away database, outside\n"
        "this project, on a simulated Instagram):\n"
        f"  admin:   {ADMIN}\n"
        f"  members: {members}   (posts handed in this week)\n"
        f"  helper:  @{HELPER}\n\n"
        "Chat as one of them:\n"
        "  autogram chat --demo --as minji     then: 내 현황 (status), press 1 to check now,\n"
        "                                      결과 (last week's results), or send a link:\n"
        f"                                      {SHARE_LINK} (a share link of minji's\n"
        "                                      new post: taken as the post's own link) or\n"
        f"                                      {OTHERS_LINK} (a café's post: refused)\n"
        "  autogram chat --demo --as admin     then: /verify, /results, /helpers, /users\n"
        "`autogram chat --demo` again starts a fresh community (in the same folder)."
    )


def prepare(settings: Settings, as_name: str | None) -> tuple[Settings, bool]:
    """The demo's database and key (fresh for a plain --demo), migrated. Runs before the
    event loop: migrations start their own."""
    database = demo_folder() / "demo.sqlite3"
    fresh = as_name is None or not database.exists()
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if fresh:
        for path in database.parent.glob("demo.*"):
            path.unlink()
        _key_file().write_text(crypto.new_key())
        _key_file().chmod(0o600)
    settings = settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{database}",
        "encryption_keys": SecretStr(_key_file().read_text().strip()),  # not validated
        # A demo member's "check now" reads all their open posts (a dozen requests would
        # leave some to tonight's refresh): the simulated Instagram has no hour to spare.
        "check_now_allowance": 100,
    })
    crypto.configure_keys(settings.keys)
    upgrade(settings.database_url)
    return settings, fresh


async def demo(settings: Settings, as_name: str | None, fresh: bool) -> None:
    """Plain --demo: a fresh community and its cast. With --as: chat in it."""
    sim = SimulatedInstagram(open_signup=True)  # /addhelper works for a new name too
    # The chat's web pages are served on a port known before the services are built, so
    # the links the chat prints are built with them.
    listening = _listening(settings.web_port) if as_name is not None else None
    links = None if listening is None else WebLinks(
        _root(listening), BoardMode(settings.web_board), settings.keys, public=False)
    async with open_services(settings, Instagram(sim, max_wait=2.0), web=links) as services:
        connect_console(services)
        if fresh:
            await seed(services, sim)
        else:
            await fill_simulation(services, sim)
        if as_name is None or listening is None:  # (listening: bound for a chat)
            print(cast(), flush=True)
            return
        name = name_key(as_name)
        known = {ADMIN, *(n for n, _ in MEMBERS)}
        if name not in known:
            sys.exit(f"No {name!r} in the demo. Choose one of: {', '.join(sorted(known))}.")
        async with demo_pages(services, listening) as board:
            if sys.stdin.isatty():
                print(f"Demo: chatting as {name!r} (send /help; a number presses a button; "
                      f"Ctrl-D quits). The week board: {board}", flush=True)
            await converse(Dispatcher(services), name, sys.stdin, sys.stdout)


def _listening(port: int) -> socket.socket:
    """A local socket for the demo's web pages: on WEB_PORT, or any free port when that
    one is taken (the bot itself, `make run`, may be on it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    return sock


def _root(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def demo_pages(services: Services, sock: socket.socket) -> AsyncIterator[str]:
    """The web pages of the demo's community while the chat lasts, so the links it
    prints open."""
    app = build_web_app([])
    pages = WebPages(services, services.web)
    pages.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"{_root(sock)}/week"
    finally:
        await pages.close(app)
        await runner.cleanup()
