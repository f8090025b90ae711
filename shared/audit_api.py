"""`GET /audit` (read key): every service's audit log, paged by id, oldest first.

`shared.runtime.Service` mounts `router` and puts the service's table on
`app.state.audit_table`, so the one module-level router serves every service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from shared.audit import AuditColumns, entries
from shared.auth import Db, ReadKey
from shared.http import app_state
from shared.types import After


class AuditEntry(BaseModel):
    """An entry as the API answers it (the same in every service)."""

    id: int
    at: datetime
    actor: str
    actor_key_id: str | None
    action: str
    entity_type: str
    entity_id: str
    fields: str
    detail: str | None


def audit_table_of(request: Request) -> type[AuditColumns]:
    table = app_state(request, "audit_table", type)
    if not issubclass(table, AuditColumns):
        raise TypeError("app.state.audit_table is not an audit table")
    return table


AuditTable = Annotated[type[AuditColumns], Depends(audit_table_of)]
router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry])
async def list_entries(
    *,
    entity_type: str | None = Query(None, pattern="^[a-z-]{1,20}$"),
    entity_id: str | None = Query(None, max_length=64),
    actor: str | None = Query(None, max_length=100),
    action: str | None = Query(None, pattern=r"^[a-z.-]{1,50}$"),
    after_id: After = 0,
    limit: int = Query(100, ge=1, le=1000),
    _: ReadKey,
    db: Db,
    table: AuditTable,
) -> list[AuditEntry]:
    """Who did what and when, oldest first; page on with `after_id` = the last id seen."""
    async with db.transaction() as session:
        rows = await entries(
            session,
            table,
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            after_id=after_id,
            limit=limit,
        )
    return [AuditEntry.model_validate(r, from_attributes=True) for r in rows]
