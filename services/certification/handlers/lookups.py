"""Reads the operator routes need: one row by its key (404 when absent), filtered lists and
an assessment session's counts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.tables import (
    Assessment,
    AssessmentSession,
    Candidate,
    Certificate,
    Holder,
)
from shared.db import count, get_or_404, where_equal


async def session_counts(session: AsyncSession, row: AssessmentSession) -> dict[str, int]:
    """Candidates registered, and assessments by status."""
    candidates = await count(session, Candidate, Candidate.session_code == row.code)
    by_status = (
        await session.exec(
            select(Assessment.status, func.count())
            .where(Assessment.session_code == row.code)
            .group_by(col(Assessment.status))
        )
    ).all()
    return {"candidates": int(candidates), **{str(s): int(n) for s, n in by_status}}


async def assessments(
    session: AsyncSession, person_id: str | None, session_code: str | None, limit: int
) -> Sequence[Assessment]:
    query = select(Assessment).order_by(col(Assessment.assessed_at)).limit(limit)
    filters = {Assessment.person_id: person_id, Assessment.session_code: session_code}
    return (await session.exec(where_equal(query, filters))).all()


async def certificates(
    session: AsyncSession, person_id: str | None, occupation: str | None, limit: int
) -> Sequence[Certificate]:
    query = select(Certificate).order_by(col(Certificate.issued_at)).limit(limit)
    filters = {Certificate.person_id: person_id, Certificate.occupation: occupation}
    return (await session.exec(where_equal(query, filters))).all()


async def certificate(session: AsyncSession, number: str) -> Certificate:
    return await get_or_404(
        session, Certificate, number, what="certificate", field="certificate_number"
    )


async def holder_name(session: AsyncSession, person_id: str) -> str | None:
    holder = await session.get(Holder, person_id)
    return holder.full_name if holder else None
