"""The audit log: who changed what and when, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.tables import AuditEntry
from shared.db import where_equal


def entry(
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    fields: Iterable[str] = (),
    detail: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One entry's values. `fields` names what changed; values are never kept (PDPA)."""
    return {
        "at": at or datetime.now(UTC),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "fields": ",".join(sorted(fields)),
        "detail": detail,
    }


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    fields: Iterable[str] = (),
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add one entry (see `entry`) in the caller's transaction."""
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
    query = where_equal(
        select(AuditEntry).where(col(AuditEntry.id) > after_id),
        {
            AuditEntry.entity_type: entity_type,
            AuditEntry.entity_id: entity_id,
            AuditEntry.actor: actor,
        },
        blank_is_unset=True,
    )
    query = query.order_by(col(AuditEntry.id)).limit(limit)
    return list((await session.exec(query)).all())
