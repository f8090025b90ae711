"""Occupational standards: public to read (credentials link to them), written by operators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from services.certification.api.deps import Deps
from services.certification.handlers import standards
from services.certification.schemas import StandardIn, StandardOut
from services.certification.tables import Standard
from shared.auth import Operator
from shared.errors import NotFound


def standard_out(row: Standard) -> StandardOut:
    return StandardOut.model_validate(row, from_attributes=True)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["standards"])
    db = deps.db
    public = [Depends(deps.rate_limit)]

    @api.get("/standards", response_model=list[StandardOut], dependencies=public)
    async def list_standards(
        occupation: str | None = Query(None, max_length=64),
        level: int | None = Query(None, ge=1, le=8),
    ) -> list[StandardOut]:
        async with db.transaction() as session:
            return [standard_out(s) for s in await standards.listing(session, occupation, level)]

    @api.get("/standards/{code}", response_model=StandardOut, dependencies=public)
    async def read_standard(code: str) -> StandardOut:
        async with db.transaction() as session:
            row = await session.get(Standard, code)
            if row is None:
                raise NotFound(f"no standard {code!r}", field="code")
            return standard_out(row)

    @api.post("/standards", status_code=201, response_model=StandardOut)
    async def create_standard(
        body: StandardIn, response: Response, _: Operator = Depends(deps.writer)
    ) -> StandardOut:
        cmd = standards.NewStandard(
            **body.model_dump(exclude={"units"}), units=[u.model_dump() for u in body.units]
        )
        async with db.transaction() as session:
            result = await standards.create(session, cmd)
            response.status_code = 201 if result.created else 200
            return standard_out(result.row)

    return api
