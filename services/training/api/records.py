"""Attendance, practical results and cohort closure (completion); service-wide counts."""

from __future__ import annotations

from fastapi import APIRouter

from services.training.handlers import completion, reports
from services.training.handlers.completion import Mark
from services.training.schemas import (
    AttendanceIn,
    ClosureOut,
    OutcomeOut,
    PracticalsIn,
    RecordedOut,
)
from shared.auth import Db, WriteKey, read_out

router = APIRouter(tags=["attendance and completion"])


@router.post("/cohorts/{code}/attendance", response_model=RecordedOut)
async def attendance(code: str, body: AttendanceIn, _: WriteKey, db: Db) -> RecordedOut:
    marks = [Mark(r.person_id, r.date, r.present) for r in body.records]
    async with db.transaction() as session:
        return RecordedOut(recorded=await completion.record_attendance(session, code, marks))


@router.post("/cohorts/{code}/practicals", response_model=RecordedOut)
async def practicals(code: str, body: PracticalsIn, _: WriteKey, db: Db) -> RecordedOut:
    results = [(r.person_id, r.passed) for r in body.results]
    async with db.transaction() as session:
        return RecordedOut(recorded=await completion.record_practicals(session, code, results))


@router.post("/cohorts/{code}/closure", response_model=ClosureOut)
async def close(code: str, _: WriteKey, db: Db) -> ClosureOut:
    async with db.transaction() as session:
        outcomes = await completion.close(session, code)
    return ClosureOut(
        cohort_code=code,
        completed=sum(o.completed for o in outcomes),
        not_completed=sum(not o.completed for o in outcomes),
        outcomes=[
            OutcomeOut(
                person_id=o.application.person_id,
                application_id=o.application.application_id,
                completed=o.completed,
                days_attended=o.application.days_attended,
                reason=o.application.outcome_reason,
            )
            for o in outcomes
        ],
    )


_REPLICA = "Rows in the registry replica, to watch it catch up with the registry."
read_out(router, "/counts", reports.counts)
read_out(router, "/replica", reports.replica_sizes, _REPLICA)
