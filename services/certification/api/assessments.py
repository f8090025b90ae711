"""Assessment sessions, candidate registration and results; service-wide counts."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.api.deps import IssuingDep
from services.certification.domain import Route
from services.certification.handlers import assessments, lookups, reports
from services.certification.handlers.assessments import NewCandidate, NewSession, Results
from services.certification.schemas import (
    AssessmentOut,
    CandidateOut,
    CandidatesIn,
    RecordedOut,
    ResultsIn,
    SessionIn,
    SessionOut,
)
from services.certification.tables import AssessmentSession
from shared.auth import Db, ReadKey, WriteKey, read_out
from shared.http import ERASED


async def session_out(session: AsyncSession, row: AssessmentSession) -> SessionOut:
    return SessionOut(**row.model_dump(), counts=await lookups.session_counts(session, row))


router = APIRouter(tags=["assessments"], responses=ERASED)


@router.post("/sessions", status_code=201, response_model=SessionOut)
async def create_session(body: SessionIn, response: Response, _: WriteKey, db: Db) -> SessionOut:
    async with db.transaction() as session:
        row, created = await assessments.create_session(session, NewSession(**body.model_dump()))
        response.status_code = 201 if created else 200  # the same request again: 200
        return await session_out(session, row)


@router.get("/sessions/{code}", response_model=SessionOut)
async def read_session(code: str, _: ReadKey, db: Db) -> SessionOut:
    async with db.transaction() as session:
        return await session_out(session, await assessments.session_of(session, code))


@router.post("/sessions/{code}/candidates", response_model=list[CandidateOut])
async def register(code: str, body: CandidatesIn, _: WriteKey, db: Db) -> list[CandidateOut]:
    commands = [
        NewCandidate(
            person_id=c.person_id,
            full_name=c.full_name,
            route=Route(c.route),
            evidence_description=c.evidence.description if c.evidence else None,
            evidence_years=c.evidence.years if c.evidence else None,
        )
        for c in body.candidates
    ]
    async with db.transaction() as session:
        registered = await assessments.register_candidates(session, code, commands)
    return [
        CandidateOut(
            person_id=row.person_id,
            route=row.route,
            registered_at=row.registered_at,
            created=created,
        )
        for row, created in registered
    ]


@router.post("/sessions/{code}/results", response_model=list[RecordedOut])
async def record(
    code: str, body: ResultsIn, _: WriteKey, db: Db, issuing: IssuingDep
) -> list[RecordedOut]:
    batch = [Results(person_id=r.person_id, units=dict(r.units)) for r in body.results]
    async with db.transaction() as session:
        recorded = await assessments.record_results(session, code, batch, issuing)
    return [
        RecordedOut(
            **AssessmentOut.of(r.assessment).model_dump(),
            created=r.created,
        )
        for r in recorded
    ]


@router.get("/assessments", response_model=list[AssessmentOut])
async def list_assessments(
    _: ReadKey,
    db: Db,
    person_id: str | None = Query(None, max_length=36),
    session_code: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AssessmentOut]:
    async with db.transaction() as session:
        rows = await lookups.assessments(session, person_id, session_code, limit)
    return [AssessmentOut.of(r) for r in rows]


read_out(router, "/counts", reports.counts)
