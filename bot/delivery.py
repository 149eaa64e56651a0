"""How jobs and services reach people: members privately, the group chats, the admins.

Texts come rendered per language (a `Render`), so each person reads their own. A
member is messaged on one linked platform (Telegram first: it can always push). Where a
platform cannot push (KakaoTalk without the Event API), the message waits in the
platform's outbox for the person's next message and the member counts as unreachable
for this message, so the group post can mention them.

Which channel can do what is read from its declared capabilities (bot/channels.py),
and each message is handed over as that channel shows it: what it cannot show comes
as its fallback in the text, never dropped.
"""

from __future__ import annotations

import logging

from bot.channels import Channel, shown, shown_outgoing
from bot.web_pages import picture_of
from handlers import announcements
from handlers.events import Button, Reply
from handlers.i18n import t
from services.container import Services
from services.messaging.notifier import (
    Delivered,
    Outgoing,
    Render,
    Say,
    SayButtons,
    Words,
)
from services.week.calendar import Week

log = logging.getLogger(__name__)
PREFERENCE = ("telegram", "kakao", "console")
GROUP_LANGUAGE = "ko"  # the community speaks Korean in its groups


def resolve(what: Say) -> Render:
    """Words named by a job, rendered by handlers/announcements.py; a Render as it is."""
    if isinstance(what, Words):
        return getattr(announcements, what.name)(*what.args, **what.kwargs)
    return what


class Delivery:
    def __init__(self, services: Services, channels: list[Channel]) -> None:
        self.services = services
        self.channels = {c.platform: c for c in channels}

    def _pushing(self, platform: str) -> Channel | None:
        channel = self.channels.get(platform)
        return channel if channel is not None and channel.capabilities.push else None

    def _waiting(self, platform: str) -> Channel | None:
        """The platform's outbox, where it declares one."""
        channel = self.channels.get(platform)
        if channel is None or not channel.capabilities.reads_outbox:
            return None
        return channel.outbox

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        web = self.services.web
        linked = [m for m, what in texts.items() if isinstance(what, Words) and what.browser_link]
        async with self.services.transaction() as tx:
            chats = await tx.accounts.private_chats(list(texts))
            urls = await web.personal_urls(tx.session, linked, tx.now()) \
                if web.public and linked else {}
        outgoing: dict[str, list[tuple[int, Outgoing]]] = {}
        waiting: dict[str, tuple[Channel, list[Outgoing]]] = {}
        delivered = Delivered()
        for member_id, what in texts.items():
            render, url = resolve(what), urls.get(member_id)
            accounts = sorted(chats.get(member_id, []), key=lambda a: _rank(a[0]))
            pushable = [a for a in accounts if self._pushing(a[0]) is not None]
            if pushable:
                platform, user_id, language = pushable[0]
                link = (t(language, "button.open_in_browser"), url) if url else None
                outgoing.setdefault(platform, []).append(
                    (member_id, Outgoing(user_id, render(language), link)))
                continue
            delivered.unreachable.append(member_id)
            for platform, user_id, language in accounts:
                if (outbox := self._waiting(platform)) is not None:
                    link = (t(language, "button.open_in_browser"), url) if url else None
                    waiting.setdefault(platform, (outbox, []))[1].append(
                        Outgoing(user_id, render(language), link))
        for platform, batch in outgoing.items():
            channel = self.channels[platform]
            report = await channel.broadcast(
                [shown_outgoing(o, channel.capabilities) for _, o in batch])
            refused = set(report.unreachable or []) | set(report.failed or [])
            for member_id, message in batch:
                (delivered.unreachable if message.chat_id in refused
                 else delivered.reached).append(member_id)
        for outbox, messages in waiting.values():
            await outbox.broadcast([shown_outgoing(m, outbox.capabilities) for m in messages])
        return delivered

    async def to_groups(self, what: Say, start_for: list[str] | None = None,
                        picture: Week | None = None) -> int:
        render = resolve(what)
        async with self.services.transaction() as tx:
            groups = [(g.platform, g.chat_id) for g in await tx.community.groups.all()]
        posted = 0
        image = await self._picture(picture) if picture is not None and groups else None
        for platform, chat_id in groups:
            channel = self.channels.get(platform)
            if channel is None or not channel.capabilities.groups:
                log.warning("cannot post to the %s group %s: the platform cannot push to "
                            "groups", platform, chat_id)
                continue
            text = render(GROUP_LANGUAGE)
            buttons: tuple[Button, ...] = ()
            # A link that opens a private chat with the bot (Telegram: t.me/<bot>?start).
            link = channel.start_link
            if start_for and link:
                text += "\n\n" + t(GROUP_LANGUAGE, "results.start_please",
                                   names=", ".join(f"@{n}" for n in start_for))
                buttons = (Button(t(GROUP_LANGUAGE, "button.start_bot"), "", url=link),)
            reply = Reply(text, buttons=buttons, image=image)
            if await channel.post(chat_id, shown(reply, channel.capabilities,
                                                 GROUP_LANGUAGE)):
                posted += 1
        return posted

    async def _picture(self, week: Week) -> bytes | None:
        """The week's results picture; the results go out without it if it fails."""
        try:
            return await picture_of(self.services, week, GROUP_LANGUAGE)
        except Exception:  # a picture is never worth holding back the results
            log.exception("the results picture of %s could not be made", week.label)
            return None

    async def to_admins(self, what: Say, buttons: SayButtons | None = None) -> None:
        render = resolve(what)
        labels = resolve(buttons) if buttons is not None else None  # type: ignore[arg-type]
        async with self.services.transaction() as tx:
            admins = await tx.accounts.admin_accounts()
        for platform, user_id, language in admins:
            reply = Reply(render(language), buttons=tuple(
                Button(label, payload) for label, payload in (labels(language) if labels
                                                              else [])))
            if not await self.reach(platform, user_id, reply, language):
                log.warning("an admin message could not reach a %s admin", platform)

    async def to_account(self, platform: str, user_id: str, text: str) -> bool:
        """One chat account, by its platform's push, else its outbox (KakaoTalk); True
        only when it was pushed."""
        return await self.reach(platform, user_id, Reply(text), "ko") == "pushed"

    async def reach(self, platform: str, user_id: str, reply: Reply, language: str
                     ) -> str | None:
        """One reply to one chat account, as its channel shows it: pushed ("pushed"),
        else left in the platform's outbox ("waiting"), else None (nowhere to go)."""
        channel = self._pushing(platform)
        if channel is not None and await channel.post(
                user_id, shown(reply, channel.capabilities, language)):
            return "pushed"
        outbox = self._waiting(platform)
        if outbox is None:
            return None
        await outbox.post(user_id, shown(reply, outbox.capabilities, language))
        return "waiting"

    async def alert(self, key: str, **values: object) -> None:
        """For services (the helper pool): a catalog message to every admin."""
        log.info("admin alert %s", key)
        await self.to_admins(Words("text", (key,), values))


def _rank(platform: str) -> int:
    return PREFERENCE.index(platform) if platform in PREFERENCE else len(PREFERENCE)
