"""Occupational standards: public to read (credentials link to them), written by operators."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from services.certification.api.deps import RateLimited
from services.certification.handlers import common, standards
from services.certification.schemas import StandardIn, StandardOut
from shared.auth import Db, WriteKey

router = APIRouter(tags=["standards"])
public = [RateLimited]


@router.get("/standards", response_model=list[StandardOut], dependencies=public)
async def list_standards(
    db: Db,
    occupation: str | None = Query(None, max_length=64),
    level: int | None = Query(None, ge=1, le=8),
) -> list[StandardOut]:
    async with db.transaction() as session:
        return [StandardOut.of(s) for s in await standards.listing(session, occupation, level)]


@router.get("/standards/{code}", response_model=StandardOut, dependencies=public)
async def read_standard(code: str, db: Db) -> StandardOut:
    async with db.transaction() as session:
        return StandardOut.of(await common.standard(session, code, field="code"))


@router.post("/standards", status_code=201, response_model=StandardOut)
async def create_standard(body: StandardIn, response: Response, _: WriteKey, db: Db) -> StandardOut:
    cmd = standards.NewStandard(
        **body.model_dump(exclude={"units"}), units=[u.model_dump() for u in body.units]
    )
    async with db.transaction() as session:
        result = await standards.create(session, cmd)
        response.status_code = 201 if result.created else 200
        return StandardOut.of(result.row)
