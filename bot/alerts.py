"""Messages to the admins from services and jobs (a helper taken out, a job's report).

Rendered from the catalogs in each admin's language and sent on the admin's platform.
Where the platform cannot push (KakaoTalk without the Event API), the message waits in
the outbox and arrives with the admin's next message, so nothing is lost.
"""

from __future__ import annotations

import logging

from bot.kakao_render import to_plain
from handlers.events import Reply
from handlers.i18n import t
from services.container import Services
from services.notifier import Notifier

log = logging.getLogger(__name__)


def render(language: str, key: str, values: dict[str, object]) -> str:
    """`reason_key="ig.admin.challenge"` fills `{reason}` with that message."""
    filled = {
        (name.removesuffix("_key") if name.endswith("_key") else name):
            (t(language, str(value)) if name.endswith("_key") else value)
        for name, value in values.items()
    }
    return t(language, key, **filled)


class AdminAlerts:
    def __init__(self, services: Services, notifiers: list[Notifier]) -> None:
        self.services = services
        self.notifiers = {n.platform: n for n in notifiers}

    async def __call__(self, key: str, **values: object) -> None:
        async with self.services.transaction() as tx:
            admins = await tx.accounts.admin_accounts()
        log.info("admin alert %s to %d admin accounts", key, len(admins))
        waiting: list[tuple[str, str, str]] = []
        for platform, user_id, language in admins:
            text = render(language, key, values)
            notifier = self.notifiers.get(platform)
            if notifier is None or await notifier.send(user_id, text):
                continue
            if getattr(notifier, "reads_outbox", False):
                waiting.append((platform, user_id, text))
            else:
                log.warning("admin alert %s could not reach a %s admin", key, platform)
        if waiting:
            async with self.services.transaction() as tx:
                for platform, user_id, text in waiting:
                    await tx.outbox.put(platform, user_id, to_plain([Reply(text)]))
