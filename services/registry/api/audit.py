"""The audit log, read-only: who changed what and when."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.registry import audit
from services.registry.tables import AuditEntry
from shared.auth import Db, ReadKey
from shared.types import After

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry])
async def entries(
    *,
    entity_type: str | None = Query(None, pattern="^[a-z-]{1,20}$"),
    entity_id: str | None = Query(None, max_length=36),
    actor: str | None = Query(None, max_length=100),
    after_id: After = 0,
    limit: int = Query(100, ge=1, le=1000),
    _: ReadKey,
    db: Db,
) -> list[AuditEntry]:
    async with db.transaction() as session:
        return await audit.entries(
            session,
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            after_id=after_id,
            limit=limit,
        )
