"""Community trainers over HTTP. Name and phone are personal data: every read needs a key."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.registry.handlers import trainers
from services.registry.schemas import TrainerIn, TrainerOut
from shared.auth import Db, ReadKey, WriteKey

router = APIRouter(tags=["trainers"])


@router.post("/trainers", status_code=201, response_model=TrainerOut)
async def register(body: TrainerIn, who: WriteKey, db: Db) -> TrainerOut:
    async with db.transaction() as session:
        return TrainerOut.of(await trainers.register(session, who.name, body))


@router.get("/trainers", response_model=list[TrainerOut])
async def list_trainers(
    *,
    village_code: str | None = Query(None, max_length=32),
    occupation: str | None = Query(None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64),
    role: str | None = Query(None, pattern="^(lead|member)$"),
    limit: int = Query(1000, ge=1, le=5000),
    _: ReadKey,
    db: Db,
) -> list[TrainerOut]:
    async with db.transaction() as session:
        found = await trainers.list_trainers(
            session, village_code=village_code, occupation=occupation, role=role, limit=limit
        )
    return [TrainerOut.of(t) for t in found]


@router.get("/trainers/{trainer_id}", response_model=TrainerOut)
async def read(trainer_id: str, _: ReadKey, db: Db) -> TrainerOut:
    async with db.transaction() as session:
        return TrainerOut.of(await trainers.get(session, trainer_id))
