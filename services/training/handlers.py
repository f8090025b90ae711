"""Training use cases, each inside the caller's unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.domain import EnrolmentStatus, finish
from services.training.tables import Enrolment, KnownPerson, Outbox
from shared.envelope import source_of
from shared.errors import Conflict, NotFound
from shared.events import LearnerEnrolled, PersonRegistered, TrainingCompleted, TrainingNotCompleted
from shared.outbox import stage

SOURCE = source_of("training")


async def on_person_registered(session: AsyncSession, event: PersonRegistered) -> None:
    if await session.get(KnownPerson, event.person_id) is None:
        session.add(
            KnownPerson(
                person_id=event.person_id,
                province_code=event.province_code,
                registered_at=event.registered_at,
            )
        )


@dataclass(frozen=True)
class Enrol:
    person_id: str
    programme_code: str
    cohort_code: str
    occupation: str


async def enrol(session: AsyncSession, cmd: Enrol) -> Enrolment:
    if await session.get(KnownPerson, cmd.person_id) is None:
        raise NotFound(
            f"person {cmd.person_id} is not known to training (not registered, or not "
            "replicated from the registry yet)",
            field="person_id",
        )
    existing = (
        await session.exec(
            select(Enrolment.enrolment_id).where(
                Enrolment.person_id == cmd.person_id, Enrolment.cohort_code == cmd.cohort_code
            )
        )
    ).first()
    if existing:
        raise Conflict(
            "already enrolled in this cohort", field="cohort_code", existing_enrolment_id=existing
        )
    now = datetime.now(UTC)
    enrolment = Enrolment(
        enrolment_id=str(uuid.uuid4()),
        person_id=cmd.person_id,
        programme_code=cmd.programme_code,
        cohort_code=cmd.cohort_code,
        occupation=cmd.occupation,
        status=EnrolmentStatus.ENROLLED,
        enrolled_at=now,
    )
    session.add(enrolment)
    stage(
        session,
        Outbox,
        LearnerEnrolled(
            person_id=cmd.person_id,
            enrolment_id=enrolment.enrolment_id,
            programme_code=cmd.programme_code,
            cohort_code=cmd.cohort_code,
            occupation=cmd.occupation,
            enrolled_at=now,
        ),
        source=SOURCE,
    )
    return enrolment


async def _enrolment(session: AsyncSession, enrolment_id: str) -> Enrolment:
    enrolment = await session.get(Enrolment, enrolment_id, with_for_update=True)
    if enrolment is None:
        raise NotFound(f"no enrolment {enrolment_id}", field="enrolment_id")
    return enrolment


async def complete(session: AsyncSession, enrolment_id: str, hours: int) -> Enrolment:
    enrolment = await _enrolment(session, enrolment_id)
    enrolment.status = finish(enrolment.status, EnrolmentStatus.COMPLETED)
    enrolment.hours = hours
    enrolment.finished_at = datetime.now(UTC)
    session.add(enrolment)
    stage(
        session,
        Outbox,
        TrainingCompleted(
            person_id=enrolment.person_id,
            enrolment_id=enrolment.enrolment_id,
            programme_code=enrolment.programme_code,
            cohort_code=enrolment.cohort_code,
            occupation=enrolment.occupation,
            hours=hours,
            completed_at=enrolment.finished_at,
        ),
        source=SOURCE,
    )
    return enrolment


async def not_complete(session: AsyncSession, enrolment_id: str, reason: str) -> Enrolment:
    enrolment = await _enrolment(session, enrolment_id)
    enrolment.status = finish(enrolment.status, EnrolmentStatus.NOT_COMPLETED)
    enrolment.reason = reason
    enrolment.finished_at = datetime.now(UTC)
    session.add(enrolment)
    stage(
        session,
        Outbox,
        TrainingNotCompleted(
            person_id=enrolment.person_id,
            enrolment_id=enrolment.enrolment_id,
            programme_code=enrolment.programme_code,
            cohort_code=enrolment.cohort_code,
            occupation=enrolment.occupation,
            reason=reason,
            recorded_at=enrolment.finished_at,
        ),
        source=SOURCE,
    )
    return enrolment


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.exec(select(Enrolment.status, func.count()).group_by(col(Enrolment.status)))
    ).all()
    by_status = {str(status): int(n) for status, n in rows}
    known = (await session.exec(select(func.count()).select_from(KnownPerson))).one()
    return {
        "known_people": int(known),
        "enrolled": sum(by_status.values()),
        "completed": by_status.get(EnrolmentStatus.COMPLETED, 0),
        "not_completed": by_status.get(EnrolmentStatus.NOT_COMPLETED, 0),
    }
