"""Community trainers over HTTP. Name and phone are personal data: every read needs a key."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.registry.api.deps import Deps
from services.registry.handlers import trainers
from services.registry.handlers.trainers import TrainerIn
from services.registry.tables import Trainer
from shared.auth import Operator


class TrainerOut(BaseModel):
    trainer_id: str
    person_id: str | None
    display_name: str | None
    phone: str | None
    occupations: list[str]
    village_code: str | None
    role: str
    registered_at: datetime

    @classmethod
    def of(cls, trainer: Trainer) -> TrainerOut:
        data = trainer.model_dump()
        data["occupations"] = trainers.occupations_of(trainer)
        return cls.model_validate(data)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["trainers"])
    db = deps.db

    @api.post("/trainers", status_code=201, response_model=TrainerOut)
    async def register(body: TrainerIn, who: Operator = Depends(deps.writer)) -> TrainerOut:
        async with db.transaction() as session:
            return TrainerOut.of(await trainers.register(session, who.name, body))

    @api.get("/trainers", response_model=list[TrainerOut])
    async def list_trainers(
        village_code: str | None = Query(None, max_length=32),
        occupation: str | None = Query(None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64),
        role: str | None = Query(None, pattern="^(lead|member)$"),
        limit: int = Query(1000, ge=1, le=5000),
        _: Operator = Depends(deps.reader),
    ) -> list[TrainerOut]:
        async with db.transaction() as session:
            found = await trainers.list_trainers(
                session, village_code=village_code, occupation=occupation, role=role, limit=limit
            )
        return [TrainerOut.of(t) for t in found]

    @api.get("/trainers/{trainer_id}", response_model=TrainerOut)
    async def read(trainer_id: str, _: Operator = Depends(deps.reader)) -> TrainerOut:
        async with db.transaction() as session:
            return TrainerOut.of(await trainers.get(session, trainer_id))

    return api
