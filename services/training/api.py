"""Training HTTP routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from services.training import handlers
from services.training.tables import Enrolment
from shared.db import Database

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class EnrolmentIn(BaseModel):
    person_id: str = Field(min_length=1, max_length=36)
    programme_code: Code
    cohort_code: Code
    occupation: Code


class CompletionIn(BaseModel):
    hours: int = Field(ge=1, le=2000)


class NonCompletionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class EnrolmentOut(BaseModel):
    enrolment_id: str
    person_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    status: str
    hours: int | None
    reason: str | None
    enrolled_at: datetime
    finished_at: datetime | None


def _out(enrolment: Enrolment) -> EnrolmentOut:
    return EnrolmentOut.model_validate(enrolment, from_attributes=True)


def router(db: Database) -> APIRouter:
    api = APIRouter(tags=["training"])

    @api.post("/enrolments", status_code=201, response_model=EnrolmentOut)
    async def enrol(body: EnrolmentIn) -> EnrolmentOut:
        async with db.transaction() as session:
            return _out(await handlers.enrol(session, handlers.Enrol(**body.model_dump())))

    @api.post("/enrolments/{enrolment_id}/completion", response_model=EnrolmentOut)
    async def complete(enrolment_id: str, body: CompletionIn) -> EnrolmentOut:
        async with db.transaction() as session:
            return _out(await handlers.complete(session, enrolment_id, body.hours))

    @api.post("/enrolments/{enrolment_id}/non-completion", response_model=EnrolmentOut)
    async def not_complete(enrolment_id: str, body: NonCompletionIn) -> EnrolmentOut:
        async with db.transaction() as session:
            return _out(await handlers.not_complete(session, enrolment_id, body.reason))

    @api.get("/counts")
    async def counts() -> dict[str, int]:
        async with db.transaction() as session:
            return await handlers.counts(session)

    return api


def install(app: FastAPI, db: Database) -> None:
    app.include_router(router(db))
