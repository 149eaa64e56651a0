"""The nightly automatic comments (services/automation/auto_comments.py), once a night, with a
report to the admins; a producer whose login expired is told privately."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from jobs.runs import JobRuns
from services.automation.auto_comments import AutoCommenter, CommentReport, CommentRules
from services.automation.comment_text import CommentWriter
from services.container import Services
from services.messaging.notifier import Delivery, Words
from storage.models import utcnow


class CommentJob:
    def __init__(self, services: Services, delivery: Delivery, writer: CommentWriter,
                 rules: CommentRules, clock: Callable[[], datetime] = utcnow,
                 **commenter: object) -> None:
        self.services = services
        self.delivery = delivery
        self.runs = JobRuns(services, clock)
        self.clock = clock
        self.commenter = AutoCommenter(services, writer, rules, clock=clock, tell=self._tell,
                                       **commenter)  # type: ignore[arg-type]

    async def _tell(self, member_id: int, what: str) -> None:
        await self.delivery.to_members({member_id: Words("text", (f"producer.{what}",))})

    async def run(self) -> CommentReport | None:
        zone = self.services.rules.timezone
        period = self.clock().astimezone(zone).strftime("%Y-%m-%d")
        run = await self.runs.claim("comments", period)
        if run is None:
            return None
        try:
            report = await self.commenter.run()
        except Exception as exc:
            await self.runs.finish(run, error=f"{type(exc).__name__}: {exc}")
            raise
        await self.runs.finish(run, **vars(report))
        await self.delivery.to_admins(Words("comment_report", (period, report)))
        return report


