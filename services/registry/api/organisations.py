"""Organisations over HTTP: programme owners, training partners, assessors, lenders, funds."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from services.registry import domain
from services.registry.api.deps import Deps
from services.registry.handlers import organisations
from services.registry.handlers.organisations import OrganisationIn
from services.registry.tables import Organisation
from shared.auth import Operator


class OrganisationOut(BaseModel):
    code: str
    kind: str
    name_en: str
    name_th: str | None
    registered_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationOut:
        return cls.model_validate(organisation.model_dump())


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["organisations"])
    db = deps.db
    kinds = "^(" + "|".join(sorted(domain.ORGANISATION_KINDS)) + ")$"

    @api.get("/organisations", response_model=list[OrganisationOut])
    async def list_organisations(
        kind: str | None = Query(None, pattern=kinds), _: Operator = Depends(deps.reader)
    ) -> list[OrganisationOut]:
        async with db.transaction() as session:
            found = await organisations.list_organisations(session, kind=kind)
        return [OrganisationOut.of(o) for o in found]

    @api.get("/organisations/{code}", response_model=OrganisationOut)
    async def read(code: str, _: Operator = Depends(deps.reader)) -> OrganisationOut:
        async with db.transaction() as session:
            return OrganisationOut.of(await organisations.get(session, code))

    @api.post(
        "/organisations",
        status_code=201,
        response_model=OrganisationOut,
        responses={200: {"description": "already registered with the same data"}},
    )
    async def register(
        body: OrganisationIn, response: Response, who: Operator = Depends(deps.writer)
    ) -> OrganisationOut:
        async with db.transaction() as session:
            done = await organisations.register(session, who.name, body)
        response.status_code = 201 if done.created else 200
        return OrganisationOut.of(done.organisation)

    return api
