"""What certification does with other services' facts about holders: a training completion
releases the awards that waited for it, an erasure blanks the name and evidence, a merge
moves certificates, training and waiting passes to the survivor. Each handler tolerates
replays (the inbox drops duplicates anyway). Assessor organisations are plain replica
(shared.replica)."""

from __future__ import annotations

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.domain import AssessmentStatus
from services.certification.handlers import assessments
from services.certification.handlers.certificates import Issuing
from services.certification.handlers.common import lock_person
from services.certification.tables import (
    Assessment,
    Candidate,
    Certificate,
    Holder,
    TrainingRecord,
)
from shared.events import PersonErased, PersonMerged, TrainingCompleted


async def on_training_completed(
    session: AsyncSession, event: TrainingCompleted, *, issuing: Issuing
) -> None:
    await lock_person(session, event.person_id)
    if await session.get(TrainingRecord, (event.person_id, event.occupation)) is None:
        session.add(
            TrainingRecord(
                person_id=event.person_id,
                occupation=event.occupation,
                completed_at=event.completed_at,
            )
        )
    await assessments.award_waiting(session, event.person_id, event.occupation, issuing)


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    """Certificates stay verifiable by number; the name and the evidence text go."""
    await lock_person(session, event.person_id)
    holder = await session.get(Holder, event.person_id)
    if holder is None:
        holder = Holder(person_id=event.person_id, recorded_at=event.erased_at)
    holder.full_name = None
    holder.erased_at = event.erased_at
    session.add(holder)
    await session.exec(
        update(Candidate)
        .where(col(Candidate.person_id) == event.person_id)
        .values(evidence_description=None)
    )


async def on_person_merged(session: AsyncSession, event: PersonMerged, *, issuing: Issuing) -> None:
    """The retired id's certificates, training and waiting passes move to the survivor;
    the retired record keeps no name. History (candidates, decided assessments) stays."""
    retired, survivor = event.person_id, event.survivor_id
    for person_id in sorted((retired, survivor)):
        await lock_person(session, person_id)
    old = await session.get(Holder, retired)
    if old is not None:
        if old.full_name and await session.get(Holder, survivor) is None:
            session.add(
                Holder(person_id=survivor, full_name=old.full_name, recorded_at=old.recorded_at)
            )
        old.full_name = None
        session.add(old)
    await session.exec(
        update(Certificate).where(col(Certificate.person_id) == retired).values(person_id=survivor)
    )
    trained = (
        await session.exec(select(TrainingRecord).where(TrainingRecord.person_id == retired))
    ).all()
    occupations = set()
    for record in trained:
        occupations.add(record.occupation)
        if await session.get(TrainingRecord, (survivor, record.occupation)) is None:
            session.add(
                TrainingRecord(
                    person_id=survivor,
                    occupation=record.occupation,
                    completed_at=record.completed_at,
                )
            )
        await session.delete(record)
    waiting = (
        await session.exec(
            select(Assessment).where(
                Assessment.person_id == retired,
                Assessment.status == AssessmentStatus.AWAITING_TRAINING,
            )
        )
    ).all()
    for assessment in waiting:
        clash = (
            await session.exec(
                select(Assessment.assessment_id).where(
                    Assessment.session_code == assessment.session_code,
                    Assessment.person_id == survivor,
                )
            )
        ).first()
        if clash is not None:
            continue  # the survivor was assessed in that session too: theirs decides
        assessment.person_id = survivor
        session.add(assessment)
        occupations.add(assessment.occupation)
    await session.flush()
    for occupation in sorted(occupations):
        if await session.get(TrainingRecord, (survivor, occupation)) is not None:
            await assessments.award_waiting(session, survivor, occupation, issuing)
