"""Reads the operator routes need: one row by its code (404 when absent) and filtered lists."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.handlers import reports
from services.training.handlers.reports import Ranked
from services.training.tables import Cohort, Course, Programme
from shared.db import get_or_404, where_equal


async def programme(session: AsyncSession, code: str) -> Programme:
    return await get_or_404(session, Programme, code, what="programme", field="code")


async def programmes(
    session: AsyncSession, year: int | None, owner_code: str | None
) -> Sequence[Programme]:
    query = select(Programme).order_by(col(Programme.year), col(Programme.code))
    filters = {Programme.year: year, Programme.owner_code: owner_code}
    return (await session.exec(where_equal(query, filters))).all()


async def course(session: AsyncSession, code: str) -> Course:
    return await get_or_404(session, Course, code, what="course", field="code")


async def cohort(session: AsyncSession, code: str) -> Cohort:
    return await get_or_404(session, Cohort, code, what="cohort", field="code")


async def cohorts(
    session: AsyncSession, programme_code: str | None, status: str | None
) -> Sequence[Cohort]:
    query = select(Cohort).order_by(col(Cohort.created_at), col(Cohort.code))
    filters = {Cohort.programme_code: programme_code, Cohort.status: status}
    return (await session.exec(where_equal(query, filters))).all()


async def ranked(session: AsyncSession, cohort_code: str, wanted: list[str]) -> dict[str, Ranked]:
    """These applications of the cohort as ranked now, by application id."""
    row = await session.get(Cohort, cohort_code)
    assert row is not None
    return {
        r.application.application_id: r
        for r in await reports.ranking(session, row, only=set(wanted))
    }
