"""Service-wide counts for operators (and tests watching the replica catch up)."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.domain import AssessmentStatus
from services.certification.tables import (
    Assessment,
    AssessmentSession,
    Certificate,
    KnownOrganisation,
    Standard,
    TrainingRecord,
)
from shared.db import count


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = (
        await session.exec(select(Assessment.status, func.count()).group_by(col(Assessment.status)))
    ).all()
    by_status = {str(status): int(n) for status, n in rows}
    return {
        "standards": await count(session, Standard),
        "assessors": await count(session, KnownOrganisation, KnownOrganisation.kind == "assessor"),
        "training_records": await count(session, TrainingRecord),
        "sessions": await count(session, AssessmentSession),
        "assessments": sum(by_status.values()),
        "awaiting_training": by_status.get(AssessmentStatus.AWAITING_TRAINING, 0),
        "failed": by_status.get(AssessmentStatus.FAILED, 0),
        "certificates": await count(session, Certificate),
        "revoked": await count(session, Certificate, col(Certificate.revoked_at).is_not(None)),
        "expired": await count(session, Certificate, col(Certificate.expired_at).is_not(None)),
    }
