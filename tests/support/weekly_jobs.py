"""The weekly jobs on a phone that keeps what they sent, and a community to run them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.delivery import Delivery
from bot.telegram.render import TELEGRAM
from handlers.events import Reply
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.messaging.notifier import BroadcastReport, Outgoing
from services.sample_community import SampleCommunity, build
from services.week.calendar import Week
from storage.models import Admin, ChatAccount, GroupChat, Member
from tests.conftest import Clock

WEDNESDAY = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # noon in Seoul


AFTER_DEADLINE = datetime(2026, 11, 29, 15, 10, tzinfo=UTC)  # Monday 00:10 in Seoul


GROUP = "-1001"


class Phone:
    """Stands in for a Telegram-like channel (bot/channels.py), recording what it sends."""

    platform = "telegram"
    start_link = "https://t.me/autogram_bot"
    capabilities = TELEGRAM
    outbox = None

    def __init__(self, blocked: set[str] | None = None) -> None:
        self.blocked = blocked or set()
        self.sent: list[tuple[str, str]] = []
        self.posts: list[tuple[str, Reply]] = []
        self.buttons: dict[str, list[Any]] = {}

    async def send(self, chat_id: str, text: str) -> bool:
        if chat_id in self.blocked:
            return False
        self.sent.append((chat_id, text))
        return True

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        report = BroadcastReport(unreachable=[], failed=[])
        for message in messages:
            if await self.send(message.chat_id, message.text):
                report.sent += 1
            else:
                report.unreachable.append(message.chat_id)  # type: ignore[union-attr]
        return report

    async def post(self, chat_id: str, reply: Reply) -> bool:
        if not chat_id.startswith("-"):  # a private chat (an admin's message with buttons)
            self.buttons[chat_id] = list(reply.buttons)
            return await self.send(chat_id, reply.text)
        self.posts.append((chat_id, reply))
        return True

    def to(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


async def community(services: Services, sim: SimulatedInstagram, members: int = 5,
                    linked: int | None = None, **extra: Any) -> SampleCommunity:
    """A sample week, its members linked on Telegram (all but the last `members - linked`),
    a group chat, and an admin."""
    week = Week.containing(WEDNESDAY, services.rules.timezone)
    async with services.transaction() as tx:
        found = await build(tx.session, sim, week, members=members, **extra)
        ids = dict((await tx.session.execute(
            select(Member.instagram_username, Member.id))).tuples().all())
        for name in found.members[: members if linked is None else linked]:
            tx.session.add(ChatAccount(platform="telegram", platform_user_id=f"tg-{name}",
                                       member_id=ids[name], language="ko"))
        admin = ChatAccount(platform="telegram", platform_user_id="tg-admin", language="en")
        tx.session.add(admin)
        await tx.session.flush()
        tx.session.add(Admin(name="boss", chat_account_id=admin.id, claimed_at=WEDNESDAY))
        tx.session.add(GroupChat(platform="telegram", chat_id=GROUP, title="품앗이방"))
    return found


def jobs_for(services: Services, phone: Phone, clock: Clock) -> WeeklyJobs:
    """The weekly jobs as `autogram run` wires them: an admin's /verify finishes a week."""
    jobs = WeeklyJobs(services, Delivery(services, [phone]), clock=clock)  # type: ignore[list-item]
    services.finish_week.connect(jobs.finish_week)
    return jobs

