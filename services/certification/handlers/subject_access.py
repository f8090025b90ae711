"""PDPA subject access in certification: the holder's name, training records, candidacies,
assessments and certificates. After PersonErased the holder row says when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.schemas import (
    CertificationHeld,
    HeldAssessmentOut,
    HeldCandidateOut,
    HeldCertificateOut,
    HeldTrainingRecordOut,
    HolderOut,
)
from services.certification.tables import (
    Assessment,
    Candidate,
    Certificate,
    Holder,
    TrainingRecord,
)
from shared.subject_access import Erased

Row = TypeVar("Row")


async def _rows(
    session: AsyncSession, table: type[Row], person_id: str, order: str
) -> Sequence[Row]:
    by: Any = table
    query = select(table).where(by.person_id == person_id).order_by(col(getattr(by, order)))
    return (await session.exec(query)).all()


async def held(session: AsyncSession, person_id: str) -> CertificationHeld | Erased:
    holder = await session.get(Holder, person_id)
    if holder is not None and holder.erased_at is not None:
        return Erased(erased_at=holder.erased_at)
    return CertificationHeld(
        person_id=person_id,
        holder=HolderOut.of(holder) if holder is not None else None,
        training_records=[
            HeldTrainingRecordOut.of(r)
            for r in await _rows(session, TrainingRecord, person_id, "completed_at")
        ],
        candidacies=[
            HeldCandidateOut.of(c)
            for c in await _rows(session, Candidate, person_id, "registered_at")
        ],
        assessments=[
            HeldAssessmentOut.of(a)
            for a in await _rows(session, Assessment, person_id, "assessed_at")
        ],
        certificates=[
            HeldCertificateOut.of(c)
            for c in await _rows(session, Certificate, person_id, "issued_at")
        ],
    )
