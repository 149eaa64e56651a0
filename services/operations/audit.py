"""The audit log's rows: who did what, written in the transaction of the change."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


class AuditRepo:
    """Writes an audit entry in the caller's transaction: the entry commits with the
    change it tells of, or not at all."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        actor_id: int | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(actor_id=actor_id, action=action, target=target, detail=detail)
        self.session.add(entry)
        await self.session.flush()
        return entry
