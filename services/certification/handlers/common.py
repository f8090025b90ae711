"""What several certification use cases share: staging an event, the person lock, lookups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.tables import Assessment, Outbox, Standard
from shared import outbox
from shared.db import get_or_404, lock_aggregate, lock_aggregates
from shared.envelope import source_of
from shared.errors import NotFound
from shared.events import Event

SOURCE = source_of("certification")


def stage(session: AsyncSession, event: Event) -> str:
    """Add the event to certification's outbox in the caller's transaction."""
    return outbox.stage(session, Outbox, event, source=SOURCE)


async def lock_person(session: AsyncSession, person_id: str) -> None:
    """Serialise what decides a person's awards (results, training, revocation, expiry):
    without it a result and a TrainingCompleted committed together could each miss the
    other (write skew; docs/decisions/0011: "either order, per-person lock")."""
    await lock_aggregate(session, f"certification:{person_id}")


async def lock_people(session: AsyncSession, person_ids: Iterable[str]) -> None:
    """`lock_person` for a batch's people, in one statement and one order."""
    await lock_aggregates(session, (f"certification:{p}" for p in person_ids))


async def standard(session: AsyncSession, code: str, field: str = "standard_code") -> Standard:
    return await get_or_404(session, Standard, code, what="standard", field=field)


def units_of(row: Standard) -> list[domain.Unit]:
    return [domain.Unit(u["code"], u["title"], bool(u["required"])) for u in row.units]


async def standard_for(
    session: AsyncSession, code: str | None, occupation: str, level: int
) -> Standard:
    """By code; rows from before standards existed (revision 0001) have none: by
    occupation and level."""
    row = await session.get(Standard, code) if code is not None else None
    if row is None:
        row = (
            await session.exec(
                select(Standard).where(Standard.occupation == occupation, Standard.level == level)
            )
        ).first()
    if row is None:
        raise NotFound(f"no standard for {occupation} level {level}", field="standard_code")
    return row


async def standards_for(
    session: AsyncSession, assessments: Sequence[Assessment]
) -> dict[str, Standard]:
    """Assessment id -> its standard (`standard_for`), the coded ones read in one query."""
    codes = sorted({a.standard_code for a in assessments if a.standard_code is not None})
    by_code = {
        row.code: row
        for row in (await session.exec(select(Standard).where(col(Standard.code).in_(codes)))).all()
    }
    found = {}
    for a in assessments:
        row = by_code.get(a.standard_code) if a.standard_code is not None else None
        found[a.assessment_id] = row or await standard_for(
            session, a.standard_code, a.occupation, a.level
        )
    return found
