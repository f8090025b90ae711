"""The registry's audit log (shared.audit): who changed what and when, written in the same
transaction as the change. Its handlers name the actor by key name; `GET /audit` is
shared.audit_api's, as in every service."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.tables import AuditEntry
from shared import audit
from shared.audit import Actor, entry

__all__ = ["entries", "entry", "record"]


def record(
    session: AsyncSession,
    *,
    actor: str | Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    fields: Iterable[str] = (),
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add one entry (see `shared.audit.entry`) in the caller's transaction."""
    values = entry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        fields=fields,
        detail=detail,
        at=at,
    )
    session.add(AuditEntry(**values))


async def entries(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[AuditEntry]:
    """Oldest first, paged by id (`after_id` = the last id of the previous page)."""
    rows = await audit.entries(
        session,
        AuditEntry,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        after_id=after_id,
        limit=limit,
    )
    return [r for r in rows if isinstance(r, AuditEntry)]
