"""Certification HTTP routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from services.certification import handlers
from shared.db import Database

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class AssessmentIn(BaseModel):
    person_id: str = Field(min_length=1, max_length=36)
    occupation: Code
    level: int = Field(ge=1, le=8)
    passed: bool


class AssessmentOut(BaseModel):
    assessment_id: str
    person_id: str
    occupation: str
    level: int
    passed: bool
    status: str
    assessed_at: datetime
    certificate_number: str | None


def router(db: Database, valid_years: int) -> APIRouter:
    api = APIRouter(tags=["certification"])

    @api.post("/assessments", status_code=201, response_model=AssessmentOut)
    async def record(body: AssessmentIn) -> AssessmentOut:
        async with db.transaction() as session:
            assessment = await handlers.record_assessment(
                session, handlers.RecordAssessment(**body.model_dump()), valid_years=valid_years
            )
        return AssessmentOut.model_validate(assessment, from_attributes=True)

    @api.get("/counts")
    async def counts() -> dict[str, int]:
        async with db.transaction() as session:
            return await handlers.counts(session)

    return api


def install(app: FastAPI, db: Database, valid_years: int) -> None:
    app.include_router(router(db, valid_years))
