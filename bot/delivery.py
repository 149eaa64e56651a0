"""How jobs and services reach people: members privately, the group chats, the admins.

Texts come rendered per language (a `Render`), so each person reads their own. A
member is messaged on one linked platform (Telegram first: it can always push). Where a
platform cannot push (KakaoTalk without the Event API), the message waits in the outbox
for the person's next message and the member counts as unreachable for this message,
so the group post can mention them.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.kakao_render import to_plain
from bot.web_pages import picture_of
from handlers import announcements
from handlers.events import Button, Reply
from handlers.i18n import t
from services.container import Services
from services.notifier import (
    Delivered,
    Notifier,
    Outgoing,
    Render,
    Say,
    SayButtons,
    Words,
)
from services.weeks import Week

log = logging.getLogger(__name__)
PREFERENCE = ("telegram", "kakao", "console")
GROUP_LANGUAGE = "ko"  # the community speaks Korean in its groups


def resolve(what: Say) -> Render:
    """Words named by a job, rendered by handlers/announcements.py; a Render as it is."""
    if isinstance(what, Words):
        return getattr(announcements, what.name)(*what.args, **what.kwargs)
    return what


class Delivery:
    def __init__(self, services: Services, notifiers: list[Notifier]) -> None:
        self.services = services
        self.notifiers = {n.platform: n for n in notifiers}

    def _pushes(self, platform: str) -> bool:
        notifier = self.notifiers.get(platform)
        return notifier is not None and getattr(notifier, "can_push", True)

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        web = self.services.web
        linked = [m for m, what in texts.items() if isinstance(what, Words) and what.browser_link]
        async with self.services.transaction() as tx:
            chats = await tx.accounts.private_chats(list(texts))
            urls = await web.personal_urls(tx.session, linked, tx.now()) \
                if web.public and linked else {}
        outgoing: dict[str, list[tuple[int, Outgoing]]] = {}
        waiting: list[tuple[str, str, str | Reply]] = []
        delivered = Delivered()
        for member_id, what in texts.items():
            render, url = resolve(what), urls.get(member_id)
            accounts = sorted(chats.get(member_id, []), key=lambda a: _rank(a[0]))
            pushable = [a for a in accounts if self._pushes(a[0])]
            if pushable:
                platform, user_id, language = pushable[0]
                link = (t(language, "button.open_in_browser"), url) if url else None
                outgoing.setdefault(platform, []).append(
                    (member_id, Outgoing(user_id, render(language), link)))
                continue
            delivered.unreachable.append(member_id)
            for platform, user_id, language in accounts:
                if getattr(self.notifiers.get(platform), "reads_outbox", False):
                    buttons = (Button(t(language, "button.open_in_browser"), "", url=url),) \
                        if url else ()
                    waiting.append((platform, user_id, Reply(render(language),
                                                             buttons=buttons)))
        for platform, batch in outgoing.items():
            report = await self.notifiers[platform].broadcast([o for _, o in batch])
            refused = set(report.unreachable or []) | set(report.failed or [])
            for member_id, message in batch:
                (delivered.unreachable if message.chat_id in refused
                 else delivered.reached).append(member_id)
        await self._to_outbox(waiting)
        return delivered

    async def to_groups(self, what: Say, start_for: list[str] | None = None,
                        picture: Week | None = None) -> int:
        render = resolve(what)
        async with self.services.transaction() as tx:
            groups = [(g.platform, g.chat_id) for g in await tx.community.groups.all()]
        posted = 0
        image = await self._picture(picture) if picture is not None and groups else None
        for platform, chat_id in groups:
            notifier: Any = self.notifiers.get(platform)
            if notifier is None or not hasattr(notifier, "post"):
                log.warning("cannot post to the %s group %s: the platform cannot push to "
                            "groups", platform, chat_id)
                continue
            text = render(GROUP_LANGUAGE)
            buttons: tuple[Button, ...] = ()
            # A link that opens a private chat with the bot (Telegram: t.me/<bot>?start).
            link = getattr(notifier, "start_link", None)
            if start_for and link:
                text += "\n\n" + t(GROUP_LANGUAGE, "results.start_please",
                                   names=", ".join(f"@{n}" for n in start_for))
                buttons = (Button(t(GROUP_LANGUAGE, "button.start_bot"), "", url=link),)
            if await notifier.post(chat_id, Reply(text, buttons=buttons, image=image)):
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
        waiting: list[tuple[str, str, Reply]] = []
        for platform, user_id, language in admins:
            reply = Reply(render(language), buttons=tuple(
                Button(label, payload) for label, payload in (labels(language) if labels
                                                              else [])))
            notifier: Any = self.notifiers.get(platform)
            if notifier is not None and self._pushes(platform):
                sent = await notifier.post(user_id, reply) if hasattr(notifier, "post") \
                    else await notifier.send(user_id, reply.text)
                if sent:
                    continue
            if getattr(notifier, "reads_outbox", False):
                waiting.append((platform, user_id, reply))
            else:
                log.warning("an admin message could not reach a %s admin", platform)
        await self._to_outbox([(p, u, r) for p, u, r in waiting])

    async def to_account(self, platform: str, user_id: str, text: str) -> bool:
        """One chat account, by its platform's push, else its outbox (KakaoTalk)."""
        notifier: Any = self.notifiers.get(platform)
        if notifier is not None and self._pushes(platform) and \
                await notifier.send(user_id, text):
            return True
        if getattr(notifier, "reads_outbox", False):
            await self._to_outbox([(platform, user_id, text)])
        return False

    async def alert(self, key: str, **values: object) -> None:
        """For services (the helper pool): a catalog message to every admin."""
        log.info("admin alert %s", key)
        await self.to_admins(Words("text", (key,), values))

    async def _to_outbox(self, waiting: list[tuple[str, str, str | Reply]]) -> None:
        if not waiting:
            return
        async with self.services.transaction() as tx:
            for platform, user_id, message in waiting:
                reply = message if isinstance(message, Reply) else Reply(message)
                await tx.outbox.put(platform, user_id, to_plain([reply]))


def _rank(platform: str) -> int:
    return PREFERENCE.index(platform) if platform in PREFERENCE else len(PREFERENCE)
