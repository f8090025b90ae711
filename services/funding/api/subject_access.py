"""PDPA subject access: what funding holds about a person (admin key: personal data, guarded
as the registry guards its own export). `skillbridge people export` gathers the parts."""

from __future__ import annotations

from fastapi import APIRouter

from services.funding.handlers import subject_access
from services.funding.schemas import FundingHeld
from shared.auth import AdminKey, Db
from shared.subject_access import Erased, Merged

router = APIRouter(tags=["subject access"])


@router.get("/people/{person_id}/held", response_model=FundingHeld | Erased | Merged)
async def held(person_id: str, _: AdminKey, db: Db) -> FundingHeld | Erased | Merged:
    async with db.transaction() as session:
        return await subject_access.held(session, person_id)
