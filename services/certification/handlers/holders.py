"""What certification does with other services' facts about holders: a training completion
releases the awards that waited for it, an erasure blanks the name and evidence, a merge
moves certificates, training and waiting passes to the survivor. Each handler tolerates
replays (the inbox drops duplicates anyway). Assessor organisations are plain replica
(shared.replica)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.domain import AssessmentStatus
from services.certification.handlers import assessments
from services.certification.handlers.certificates import Issuing
from services.certification.handlers.common import lock_people, lock_person
from services.certification.tables import (
    Assessment,
    Candidate,
    Certificate,
    Holder,
    TrainingRecord,
)
from shared.batch import Delivered, batched, rounds
from shared.events import PersonErased, PersonMerged, TrainingCompleted


@batched
async def on_training_completed(
    session: AsyncSession, batch: Sequence[Delivered[TrainingCompleted]], *, issuing: Issuing
) -> None:
    """Completions of many people in a fixed number of queries; one person's in offset
    order (a round each)."""
    for round_ in rounds(batch, lambda d: d.event.person_id):
        events = [d.event for d in round_]
        people = sorted({e.person_id for e in events})
        await lock_people(session, people)
        known = set(
            (
                await session.exec(
                    select(TrainingRecord.person_id, TrainingRecord.occupation).where(
                        col(TrainingRecord.person_id).in_(people)
                    )
                )
            ).all()
        )
        for event in events:
            if (event.person_id, event.occupation) not in known:
                known.add((event.person_id, event.occupation))
                session.add(
                    TrainingRecord(
                        person_id=event.person_id,
                        occupation=event.occupation,
                        completed_at=event.completed_at,
                    )
                )
        spans = {d.event.person_id: d for d in round_}
        await assessments.award_waiting_many(
            session, [(e.person_id, e.occupation) for e in events], issuing, spans
        )


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
