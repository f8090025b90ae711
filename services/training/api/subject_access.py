"""PDPA subject access: what training holds about a person (admin key: personal data, guarded
as the registry guards its own export). `skillbridge people export` gathers the parts."""

from __future__ import annotations

from fastapi import APIRouter

from services.training.handlers import subject_access
from services.training.schemas import TrainingHeld
from shared.auth import AdminKey, Db
from shared.subject_access import Erased, Merged

router = APIRouter(tags=["subject access"])


@router.get("/people/{person_id}/held", response_model=TrainingHeld | Erased | Merged)
async def held(person_id: str, _: AdminKey, db: Db) -> TrainingHeld | Erased | Merged:
    async with db.transaction() as session:
        return await subject_access.held(session, person_id)
