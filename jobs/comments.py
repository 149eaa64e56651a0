"""The nightly automatic comments (services/auto_comments.py), once a night, with a
report to the admins; a producer whose login expired is told privately."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from handlers.i18n import t
from jobs.runs import JobRuns
from services.auto_comments import AutoCommenter, CommentReport, CommentRules
from services.comment_text import CommentWriter
from services.container import Services
from services.notifier import Delivery
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
        await self.delivery.to_members({member_id: lambda lang: t(lang, f"producer.{what}")})

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
        await self.delivery.to_admins(lambda lang: "\n".join(
            [t(lang, "report.header", job=t(lang, "job.comments"), period=period),
             t(lang, "report.comments", **{k: v for k, v in vars(report).items()
                                           if k != "unverified"})]
            + ([t(lang, "report.unverified",
                  names=", ".join(f"@{n}" for n in report.unverified))]
               if report.unverified else [])))
        return report


