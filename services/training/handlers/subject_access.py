"""PDPA subject access in training: the person's replica, applications (with the ranking
inputs), attendance and trainer records."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.schemas import (
    HeldApplicationOut,
    HeldAttendanceOut,
    HeldTrainerOut,
    KnownPersonOut,
    TrainingHeld,
)
from services.training.tables import (
    Application,
    Attendance,
    KnownMembership,
    KnownPerson,
    KnownTrainer,
)
from shared.replica import ERASED, MERGED
from shared.subject_access import Erased, Merged


async def held(session: AsyncSession, person_id: str) -> TrainingHeld | Erased | Merged:
    person = await session.get(KnownPerson, person_id)
    if person is not None and person.status == ERASED:
        return Erased(erased_at=person.erased_at)
    if person is not None and person.status == MERGED:
        return Merged(survivor_id=person.survivor_id)
    membership = await session.get(KnownMembership, person_id)
    applications = (
        await session.exec(
            select(Application)
            .where(Application.person_id == person_id)
            .order_by(col(Application.applied_at))
        )
    ).all()
    ids = [a.application_id for a in applications]
    attendance = (
        await session.exec(
            select(Attendance)
            .where(col(Attendance.application_id).in_(ids))
            .order_by(col(Attendance.application_id), col(Attendance.day))
        )
    ).all()
    trainers = (
        await session.exec(select(KnownTrainer).where(KnownTrainer.person_id == person_id))
    ).all()
    return TrainingHeld(
        person_id=person_id,
        person=KnownPersonOut.of(person) if person is not None else None,
        household_id=membership.household_id if membership is not None else None,
        applications=[HeldApplicationOut.of(a) for a in applications],
        attendance=[HeldAttendanceOut.of(a) for a in attendance],
        trainer_records=[HeldTrainerOut.of(t) for t in trainers],
    )
