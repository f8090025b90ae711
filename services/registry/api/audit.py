"""The audit log, read-only: who changed what and when."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from services.registry import audit
from services.registry.api.deps import Deps
from services.registry.tables import AuditEntry
from shared.auth import Operator
from shared.types import After


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["audit"])

    @api.get("/audit", response_model=list[AuditEntry])
    async def entries(
        entity_type: str | None = Query(None, pattern="^[a-z-]{1,20}$"),
        entity_id: str | None = Query(None, max_length=36),
        actor: str | None = Query(None, max_length=100),
        after_id: After = 0,
        limit: int = Query(100, ge=1, le=1000),
        _: Operator = Depends(deps.reader),
    ) -> list[AuditEntry]:
        async with deps.db.transaction() as session:
            return await audit.entries(
                session,
                entity_type=entity_type,
                entity_id=entity_id,
                actor=actor,
                after_id=after_id,
                limit=limit,
            )

    return api
