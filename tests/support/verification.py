"""A week on the simulated Instagram, its verifier and its verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.sample_community import SampleCommunity, build
from services.verification.verifier import CommenterCache, Verifier
from services.week.calendar import Week
from storage.models import Member, Submission, Verification

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # a Wednesday, noon in Seoul


async def world(services: Services, sim: SimulatedInstagram, members: int, **extra: object
                ) -> tuple[SampleCommunity, Week]:
    week = Week.containing(NOW, services.rules.timezone)
    async with services.transaction() as tx:
        community = await build(tx.session, sim, week, members=members, **extra)  # type: ignore[arg-type]
        await tx.helpers.load_pool()
    return community, week


async def verdicts(services: Services) -> dict[tuple[str, str], str]:
    async with services.transaction() as tx:
        rows = await tx.session.execute(
            select(Member.instagram_username, Submission.shortcode, Verification.status)
            .join(Verification, Verification.member_id == Member.id)
            .join(Submission, Submission.id == Verification.submission_id))
        return {(m, s): status for m, s, status in rows.all()}


def verifier(services: Services, instagram: Instagram) -> Verifier:
    return Verifier(services.sessions, instagram, CommenterCache())

