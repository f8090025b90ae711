"""The read model's rebuild: started with an admin key, followed with a read key."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.dashboard.api.deps import RebuildDep
from services.dashboard.rebuild import RebuildStatus
from shared.auth import AdminKey, ReadKey

router = APIRouter(prefix="/admin/rebuild", tags=["operations"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_rebuild(_: AdminKey, rebuild: RebuildDep) -> RebuildStatus:
    """Drop the read model and replay every consumed topic from the beginning; live events
    wait meanwhile. 409 while one runs."""
    return rebuild.start()


@router.get("")
async def rebuild_status(_: ReadKey, rebuild: RebuildDep) -> RebuildStatus:
    """How far the rebuild is (`read` of `total` events)."""
    return rebuild.status
