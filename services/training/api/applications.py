"""Applications, selection, the ranking with its explanations, and withdrawal."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from services.training.api.deps import Deps
from services.training.handlers import reports, seats
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
from services.training.tables import Cohort
from shared.auth import Operator
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


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["applications"], responses=ERASED)
    db = deps.db

    async def view(application_id: str) -> ApplicationOut:
        async with db.transaction() as session:
            return _out(await reports.application(session, application_id))

    @api.post("/cohorts/{code}/applications", status_code=201, response_model=ApplicationOut)
    async def apply(
        code: str, body: ApplicationIn, _: Operator = Depends(deps.writer)
    ) -> ApplicationOut:
        async with db.transaction() as session:
            applied = await seats.apply(session, code, body.person_id)
        if not applied.created:
            raise Conflict(
                "this person has applied to this cohort already",
                field="person_id",
                existing_application_id=applied.application.application_id,
                status=applied.application.status,
            )
        return await view(applied.application.application_id)

    @api.post("/cohorts/{code}/applications/batch", response_model=BatchOut)
    async def apply_batch(code: str, body: BatchIn, _: Operator = Depends(deps.writer)) -> BatchOut:
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

    @api.post("/cohorts/{code}/selection", response_model=SelectionOut)
    async def select(code: str, _: Operator = Depends(deps.writer)) -> SelectionOut:
        async with db.transaction() as session:
            result = await seats.run_selection(session, code)
        return SelectionOut(
            cohort_code=code, enrolled=result.enrolled, waitlisted=result.waitlisted
        )

    @api.get("/cohorts/{code}/applications", response_model=list[ApplicationOut])
    async def ranking(
        code: str,
        status: StatusFilter | None = Query(None),
        _: Operator = Depends(deps.reader),
    ) -> list[ApplicationOut]:
        async with db.transaction() as session:
            ranked = (await reports.cohort_ranking(session, code))[1]
        return [_out(r) for r in ranked if status is None or r.application.status == status]

    @api.get("/applications/{application_id}", response_model=ApplicationOut)
    async def read(application_id: str, _: Operator = Depends(deps.reader)) -> ApplicationOut:
        return await view(application_id)

    @api.post("/applications/{application_id}/withdrawal", response_model=WithdrawalOut)
    async def withdraw(
        application_id: str,
        body: WithdrawalIn,
        _: Operator = Depends(deps.writer),
    ) -> WithdrawalOut:
        async with db.transaction() as session:
            result = await seats.withdraw(session, application_id, body.reason)
        wanted = [application_id, *(a.application_id for a in result.promoted)]
        async with db.transaction() as session:
            cohort = await session.get(Cohort, result.application.cohort_code)
            assert cohort is not None
            views = {
                r.application.application_id: _out(r)
                for r in await reports.ranking(session, cohort, only=set(wanted))
            }
        return WithdrawalOut(
            application=views[application_id], promoted=[views[i] for i in wanted[1:]]
        )

    return api
