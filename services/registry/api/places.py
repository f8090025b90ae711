"""Places over HTTP: provinces and estates (shipped), villages and learning centres."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from services.registry import domain
from services.registry.handlers import places
from services.registry.handlers.places import Registration
from services.registry.schemas import LearningCentreIn, PlaceOut, VillageIn
from shared.auth import Db, ReadKey, WriteKey

router = APIRouter(tags=["places"])
_KINDS = "^(" + "|".join(domain.PLACE_KINDS) + ")$"
_ALREADY: dict[int | str, dict[str, Any]] = {
    200: {"description": "already registered with the same data"}
}


def _answer(done: Registration, response: Response) -> PlaceOut:
    # 201 when this request created the place, 200 when it was already there as given.
    response.status_code = 201 if done.created else 200
    return PlaceOut.of(done.place)


@router.get("/places", response_model=list[PlaceOut])
async def list_places(
    *,
    kind: str | None = Query(None, pattern=_KINDS),
    province_code: str | None = Query(None, pattern=r"^\d{2}$"),
    tourism_class: str | None = Query(None, pattern="^[ABCD]$"),
    centre_type: str | None = Query(None, max_length=50),
    after: str | None = Query(None, max_length=32, description="last code of the last page"),
    limit: int = Query(1000, ge=1, le=5000),
    _: ReadKey,
    db: Db,
) -> list[PlaceOut]:
    async with db.transaction() as session:
        found = await places.list_places(
            session,
            kind=kind,
            province_code=province_code,
            tourism_class=tourism_class,
            centre_type=centre_type,
            after=after,
            limit=limit,
        )
    return [PlaceOut.of(p) for p in found]


@router.get("/places/{code}", response_model=PlaceOut)
async def read(code: str, _: ReadKey, db: Db) -> PlaceOut:
    async with db.transaction() as session:
        return PlaceOut.of(await places.get_place(session, code))


@router.post("/places/villages", status_code=201, response_model=PlaceOut, responses=_ALREADY)
async def register_village(body: VillageIn, response: Response, who: WriteKey, db: Db) -> PlaceOut:
    async with db.transaction() as session:
        done = await places.register_village(session, who.name, body)
    return _answer(done, response)


@router.post(
    "/places/learning-centres", status_code=201, response_model=PlaceOut, responses=_ALREADY
)
async def register_learning_centre(
    body: LearningCentreIn, response: Response, who: WriteKey, db: Db
) -> PlaceOut:
    async with db.transaction() as session:
        done = await places.register_learning_centre(session, who.name, body)
    return _answer(done, response)
