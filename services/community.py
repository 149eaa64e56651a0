"""Group chats that receive reminders and results, and the community's notice."""

from __future__ import annotations

import io
import re

import segno
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.operations.audit import AuditRepo
from storage.models import GroupChat, Notice

OPEN_CHAT_LINK = re.compile(r"https://open\.kakao\.com/o/[A-Za-z0-9]+")


NOTICE_MAX = 2000  # characters: a notice is read on a phone, in one message
OPEN_CHAT_LINK_MAX = 200  # a real open-chat link is about 40 characters


class GroupChatRepo:
    """The group chats the bot posts the week's results to."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, platform: str, chat_id: str, title: str | None) -> GroupChat:
        group = GroupChat(platform=platform, chat_id=chat_id, title=title)
        self.session.add(group)
        await self.session.flush()
        return group

    async def get(self, platform: str, chat_id: str) -> GroupChat | None:
        return await self.session.scalar(
            select(GroupChat).where(GroupChat.platform == platform, GroupChat.chat_id == chat_id)
        )

    async def all(self) -> list[GroupChat]:
        return list(await self.session.scalars(select(GroupChat).order_by(GroupChat.id)))

class NoticeRepo:
    """Notices: the newest one is the current one."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, text: str, open_chat_url: str | None = None) -> Notice:
        notice = Notice(text=text, open_chat_url=open_chat_url)
        self.session.add(notice)
        await self.session.flush()
        return notice

    async def current(self) -> Notice | None:
        return await self.session.scalar(
            select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc()).limit(1)
        )


def qr_png(url: str) -> bytes | None:
    """A QR code of the open-chat link, so members can join from another phone's screen
    (None: the link is too long for a QR code anyone could scan)."""
    if len(url) > OPEN_CHAT_LINK_MAX:
        return None
    buffer = io.BytesIO()
    try:
        segno.make(url, error="m").save(buffer, kind="png", scale=8, border=2)
    except segno.DataOverflowError:
        return None
    return buffer.getvalue()


class CommunityService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.groups = GroupChatRepo(session)
        self.notices = NoticeRepo(session)
        self.audit = AuditRepo(session)

    async def set_group(self, actor_id: int, platform: str, chat_id: str, title: str | None
                        ) -> bool:
        """Register a group; False when it already was."""
        if await self.groups.get(platform, chat_id) is not None:
            return False
        group = await self.groups.add(platform, chat_id, title)
        group.registered_by_id = actor_id
        await self.audit.add(actor_id, "group_set", target=f"{platform}:{chat_id}")
        return True

    async def unset_group(self, actor_id: int, platform: str, chat_id: str) -> bool:
        result = await self.session.execute(
            delete(GroupChat).where(GroupChat.platform == platform, GroupChat.chat_id == chat_id)
        )
        if result.rowcount:
            await self.audit.add(actor_id, "group_unset", target=f"{platform}:{chat_id}")
        return bool(result.rowcount)

    async def set_notice(self, actor_id: int, text: str) -> Notice:
        """A new notice; an open-chat link in it gets its QR image (when it fits one).
        Callers keep the text within NOTICE_MAX."""
        link = OPEN_CHAT_LINK.search(text)
        notice = await self.notices.add(text.strip(), link.group(0) if link else None)
        notice.created_by_id = actor_id
        if notice.open_chat_url:
            notice.qr_image = qr_png(notice.open_chat_url)
        await self.audit.add(actor_id, "notice_set", detail=text.strip()[:200])
        return notice

    async def notice(self) -> Notice | None:
        return await self.notices.current()
