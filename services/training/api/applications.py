"""Applications, selection, the ranking with its explanations, and withdrawal."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from services.training.handlers import lookups, reports, seats
from services.training.handlers.reports import Ranked
from services.training.schemas import (
    ApplicationIn,
    ApplicationOut,
    BatchIn,
    BatchItem,
    BatchOut,
    ItemError,
    SelectionOut,
    WithdrawalIn,
    WithdrawalOut,
)
from shared.auth import Db, ReadKey, WriteKey
from shared.db import Database
from shared.errors import Conflict
from shared.http import ERASED

StatusFilter = Literal[
    "applied", "enrolled", "waitlisted", "withdrawn", "completed", "not_completed"
]


def _out(ranked: Ranked) -> ApplicationOut:
    app = ranked.application
    return ApplicationOut(
        **app.model_dump(exclude={"rank", "why"}),
        rank=ranked.rank,
        waitlist_position=ranked.waitlist_position,
        why=ranked.why,
    )


router = APIRouter(tags=["applications"], responses=ERASED)


async def view(db: Database, application_id: str) -> ApplicationOut:
    async with db.transaction() as session:
        return _out(await reports.application(session, application_id))


@router.post("/cohorts/{code}/applications", status_code=201, response_model=ApplicationOut)
async def apply(code: str, body: ApplicationIn, _: WriteKey, db: Db) -> ApplicationOut:
    async with db.transaction() as session:
        applied = await seats.apply(session, code, body.person_id)
    if not applied.created:
        raise Conflict(
            "this person has applied to this cohort already",
            field="person_id",
            existing_application_id=applied.application.application_id,
            status=applied.application.status,
        )
    return await view(db, applied.application.application_id)


@router.post("/cohorts/{code}/applications/batch", response_model=BatchOut)
async def apply_batch(code: str, body: BatchIn, _: WriteKey, db: Db) -> BatchOut:
    async with db.transaction() as session:
        results = await seats.apply_many(session, code, body.person_ids)
    items = [
        BatchItem(
            person_id=r.person_id,
            application_id=r.applied.application.application_id if r.applied else None,
            status=r.applied.application.status if r.applied else None,
            error=ItemError(status=r.error.status, detail=r.error.message) if r.error else None,
        )
        for r in results
    ]
    return BatchOut(
        created=sum(bool(r.applied and r.applied.created) for r in results),
        existing=sum(bool(r.applied and not r.applied.created) for r in results),
        failed=sum(r.error is not None for r in results),
        results=items,
    )


@router.post("/cohorts/{code}/selection", response_model=SelectionOut)
async def select(code: str, _: WriteKey, db: Db) -> SelectionOut:
    async with db.transaction() as session:
        result = await seats.run_selection(session, code)
    return SelectionOut(cohort_code=code, enrolled=result.enrolled, waitlisted=result.waitlisted)


@router.get("/cohorts/{code}/applications", response_model=list[ApplicationOut])
async def ranking(
    code: str, _: ReadKey, db: Db, status: StatusFilter | None = Query(None)
) -> list[ApplicationOut]:
    async with db.transaction() as session:
        ranked = (await reports.cohort_ranking(session, code))[1]
    return [_out(r) for r in ranked if status is None or r.application.status == status]


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def read(application_id: str, _: ReadKey, db: Db) -> ApplicationOut:
    return await view(db, application_id)


@router.post("/applications/{application_id}/withdrawal", response_model=WithdrawalOut)
async def withdraw(application_id: str, body: WithdrawalIn, _: WriteKey, db: Db) -> WithdrawalOut:
    async with db.transaction() as session:
        result = await seats.withdraw(session, application_id, body.reason)
    wanted = [application_id, *(a.application_id for a in result.promoted)]
    async with db.transaction() as session:
        views = await lookups.ranked(session, result.application.cohort_code, wanted)
    return WithdrawalOut(
        application=_out(views[application_id]), promoted=[_out(views[i]) for i in wanted[1:]]
    )
