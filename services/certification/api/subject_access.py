"""PDPA subject access: what certification holds about a person (admin key: personal data, guarded
as the registry guards its own export). `skillbridge people export` gathers the parts."""

from __future__ import annotations

from fastapi import APIRouter

from services.certification.handlers import subject_access
from services.certification.schemas import CertificationHeld
from shared.auth import AdminKey, Db
from shared.subject_access import Erased, Merged

router = APIRouter(tags=["subject access"])


@router.get("/people/{person_id}/held", response_model=CertificationHeld | Erased | Merged)
async def held(person_id: str, _: AdminKey, db: Db) -> CertificationHeld | Erased | Merged:
    async with db.transaction() as session:
        return await subject_access.held(session, person_id)
