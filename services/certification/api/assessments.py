"""Assessment sessions, candidate registration and results; service-wide counts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.api.deps import Deps
from services.certification.domain import Route
from services.certification.handlers import assessments, reports
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
from services.certification.tables import Assessment, AssessmentSession, Candidate
from shared.auth import Operator
from shared.http import ERASED


async def session_out(session: AsyncSession, row: AssessmentSession) -> SessionOut:
    candidates = (
        await session.exec(
            select(func.count()).select_from(Candidate).where(Candidate.session_code == row.code)
        )
    ).one()
    by_status = (
        await session.exec(
            select(Assessment.status, func.count())
            .where(Assessment.session_code == row.code)
            .group_by(col(Assessment.status))
        )
    ).all()
    counts = {"candidates": int(candidates), **{str(s): int(n) for s, n in by_status}}
    return SessionOut(**row.model_dump(), counts=counts)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["assessments"], responses=ERASED)
    db = deps.db

    @api.post("/sessions", status_code=201, response_model=SessionOut)
    async def create_session(
        body: SessionIn, response: Response, _: Operator = Depends(deps.writer)
    ) -> SessionOut:
        async with db.transaction() as session:
            row, created = await assessments.create_session(
                session, NewSession(**body.model_dump())
            )
            response.status_code = 201 if created else 200  # the same request again: 200
            return await session_out(session, row)

    @api.get("/sessions/{code}", response_model=SessionOut)
    async def read_session(code: str, _: Operator = Depends(deps.reader)) -> SessionOut:
        async with db.transaction() as session:
            return await session_out(session, await assessments.session_of(session, code))

    @api.post("/sessions/{code}/candidates", response_model=list[CandidateOut])
    async def register(
        code: str, body: CandidatesIn, _: Operator = Depends(deps.writer)
    ) -> list[CandidateOut]:
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

    @api.post("/sessions/{code}/results", response_model=list[RecordedOut])
    async def record(
        code: str, body: ResultsIn, _: Operator = Depends(deps.writer)
    ) -> list[RecordedOut]:
        batch = [Results(person_id=r.person_id, units=dict(r.units)) for r in body.results]
        async with db.transaction() as session:
            recorded = await assessments.record_results(session, code, batch, deps.issuing)
        return [
            RecordedOut(
                **AssessmentOut.model_validate(r.assessment, from_attributes=True).model_dump(),
                created=r.created,
            )
            for r in recorded
        ]

    @api.get("/assessments", response_model=list[AssessmentOut])
    async def list_assessments(
        person_id: str | None = Query(None, max_length=36),
        session_code: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        _: Operator = Depends(deps.reader),
    ) -> list[AssessmentOut]:
        query = select(Assessment).order_by(col(Assessment.assessed_at)).limit(limit)
        if person_id is not None:
            query = query.where(Assessment.person_id == person_id)
        if session_code is not None:
            query = query.where(Assessment.session_code == session_code)
        async with db.transaction() as session:
            rows = (await session.exec(query)).all()
        return [AssessmentOut.model_validate(r, from_attributes=True) for r in rows]

    @api.get("/counts")
    async def counts(_: Operator = Depends(deps.reader)) -> dict[str, int]:
        async with db.transaction() as session:
            return await reports.counts(session)

    return api
