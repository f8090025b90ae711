"""Places over HTTP: provinces and estates (shipped), villages and learning centres."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from services.registry.api.deps import Deps
from services.registry.handlers import places
from services.registry.handlers.places import LearningCentreIn, Registration, VillageIn
from services.registry.tables import Place
from shared.auth import Operator


class PlaceOut(BaseModel):
    code: str
    kind: str
    name_en: str
    name_th: str | None
    province_code: str | None
    district: str | None
    tourism_class: str | None
    centre_type: str | None
    registered_at: datetime

    @classmethod
    def of(cls, place: Place) -> PlaceOut:
        return cls.model_validate(place.model_dump())


def _answer(done: Registration, response: Response) -> PlaceOut:
    # 201 when this request created the place, 200 when it was already there as given.
    response.status_code = 201 if done.created else 200
    return PlaceOut.of(done.place)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["places"])
    db = deps.db

    @api.get("/places", response_model=list[PlaceOut])
    async def list_places(
        kind: str | None = Query(None, pattern="^(" + "|".join(places.PLACE_KINDS) + ")$"),
        province_code: str | None = Query(None, pattern=r"^\d{2}$"),
        tourism_class: str | None = Query(None, pattern="^[ABCD]$"),
        centre_type: str | None = Query(None, max_length=50),
        after: str | None = Query(None, max_length=32, description="last code of the last page"),
        limit: int = Query(1000, ge=1, le=5000),
        _: Operator = Depends(deps.reader),
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

    @api.get("/places/{code}", response_model=PlaceOut)
    async def read(code: str, _: Operator = Depends(deps.reader)) -> PlaceOut:
        async with db.transaction() as session:
            return PlaceOut.of(await places.get_place(session, code))

    @api.post(
        "/places/villages",
        status_code=201,
        response_model=PlaceOut,
        responses={200: {"description": "already registered with the same data"}},
    )
    async def register_village(
        body: VillageIn, response: Response, who: Operator = Depends(deps.writer)
    ) -> PlaceOut:
        async with db.transaction() as session:
            done = await places.register_village(session, who.name, body)
        return _answer(done, response)

    @api.post(
        "/places/learning-centres",
        status_code=201,
        response_model=PlaceOut,
        responses={200: {"description": "already registered with the same data"}},
    )
    async def register_learning_centre(
        body: LearningCentreIn, response: Response, who: Operator = Depends(deps.writer)
    ) -> PlaceOut:
        async with db.transaction() as session:
            done = await places.register_learning_centre(session, who.name, body)
        return _answer(done, response)

    return api
