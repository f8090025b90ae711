"""Organisations over HTTP: programme owners, training partners, assessors, lenders, funds."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from services.registry import domain
from services.registry.handlers import organisations
from services.registry.schemas import OrganisationIn, OrganisationOut
from shared.auth import Db, ReadKey, WriteKey

router = APIRouter(tags=["organisations"])
_KINDS = "^(" + "|".join(sorted(domain.ORGANISATION_KINDS)) + ")$"


@router.get("/organisations", response_model=list[OrganisationOut])
async def list_organisations(
    *, kind: str | None = Query(None, pattern=_KINDS), _: ReadKey, db: Db
) -> list[OrganisationOut]:
    async with db.transaction() as session:
        found = await organisations.list_organisations(session, kind=kind)
    return [OrganisationOut.of(o) for o in found]


@router.get("/organisations/{code}", response_model=OrganisationOut)
async def read(code: str, _: ReadKey, db: Db) -> OrganisationOut:
    async with db.transaction() as session:
        return OrganisationOut.of(await organisations.get(session, code))


@router.post(
    "/organisations",
    status_code=201,
    response_model=OrganisationOut,
    responses={200: {"description": "already registered with the same data"}},
)
async def register(
    body: OrganisationIn, response: Response, who: WriteKey, db: Db
) -> OrganisationOut:
    async with db.transaction() as session:
        done = await organisations.register(session, who.name, body)
    response.status_code = 201 if done.created else 200
    return OrganisationOut.of(done.organisation)
