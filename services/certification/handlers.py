"""Certification use cases, each inside the caller's unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.domain import AssessmentStatus
from services.certification.tables import Assessment, Certificate, Outbox, TrainingRecord
from shared.db import lock_aggregate
from shared.envelope import source_of
from shared.events import AssessmentFailed, QualificationAwarded, TrainingCompleted
from shared.outbox import stage

SOURCE = source_of("certification")


@dataclass(frozen=True)
class RecordAssessment:
    person_id: str
    occupation: str
    level: int
    passed: bool


async def record_assessment(
    session: AsyncSession, cmd: RecordAssessment, *, valid_years: int
) -> Assessment:
    # The award needs both the result and the training; they may be recorded concurrently.
    await lock_aggregate(session, f"certification:{cmd.person_id}")
    now = datetime.now(UTC)
    trained = await session.get(TrainingRecord, (cmd.person_id, cmd.occupation))
    assessment = Assessment(
        assessment_id=str(uuid.uuid4()),
        person_id=cmd.person_id,
        occupation=cmd.occupation,
        level=cmd.level,
        passed=cmd.passed,
        status=domain.outcome(cmd.passed, trained is not None),
        assessed_at=now,
    )
    session.add(assessment)
    if assessment.status == AssessmentStatus.FAILED:
        stage(
            session,
            Outbox,
            AssessmentFailed(
                person_id=cmd.person_id,
                assessment_id=assessment.assessment_id,
                occupation=cmd.occupation,
                level=cmd.level,
                assessed_at=now,
            ),
            source=SOURCE,
        )
    elif assessment.status == AssessmentStatus.AWARDED:
        await _award(session, assessment, valid_years)
    return assessment


async def on_training_completed(
    session: AsyncSession, event: TrainingCompleted, *, valid_years: int
) -> None:
    await lock_aggregate(session, f"certification:{event.person_id}")
    if await session.get(TrainingRecord, (event.person_id, event.occupation)) is None:
        session.add(
            TrainingRecord(
                person_id=event.person_id,
                occupation=event.occupation,
                completed_at=event.completed_at,
            )
        )
    waiting = await session.exec(
        select(Assessment).where(
            Assessment.person_id == event.person_id,
            Assessment.occupation == event.occupation,
            Assessment.status == AssessmentStatus.AWAITING_TRAINING,
        )
    )
    for assessment in waiting.all():
        assessment.status = AssessmentStatus.AWARDED
        await _award(session, assessment, valid_years)


async def _award(session: AsyncSession, assessment: Assessment, valid_years: int) -> None:
    """Issue the certificate once per person, occupation and level; a repeat pass reuses it."""
    existing = (
        await session.exec(
            select(Certificate).where(
                Certificate.person_id == assessment.person_id,
                Certificate.occupation == assessment.occupation,
                Certificate.level == assessment.level,
            )
        )
    ).first()
    if existing is not None:
        assessment.certificate_number = existing.certificate_number
        session.add(assessment)
        return
    now = datetime.now(UTC)
    certificate = Certificate(
        certificate_number=domain.certificate_number(now.date()),
        person_id=assessment.person_id,
        occupation=assessment.occupation,
        level=assessment.level,
        issued_at=now,
        valid_until=domain.valid_until(now.date(), valid_years),
    )
    session.add(certificate)
    assessment.certificate_number = certificate.certificate_number
    session.add(assessment)
    stage(
        session,
        Outbox,
        QualificationAwarded(
            person_id=certificate.person_id,
            certificate_number=certificate.certificate_number,
            occupation=certificate.occupation,
            level=certificate.level,
            valid_until=certificate.valid_until,
            awarded_at=now,
        ),
        source=SOURCE,
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.exec(select(Assessment.status, func.count()).group_by(col(Assessment.status)))
    ).all()
    by_status = {str(status): int(n) for status, n in rows}
    certificates = (await session.exec(select(func.count()).select_from(Certificate))).one()
    trained = (await session.exec(select(func.count()).select_from(TrainingRecord))).one()
    return {
        "training_records": int(trained),
        "assessments": sum(by_status.values()),
        "awaiting_training": by_status.get(AssessmentStatus.AWAITING_TRAINING, 0),
        "failed": by_status.get(AssessmentStatus.FAILED, 0),
        "certificates": int(certificates),
    }
