"""What anyone may learn about a certificate by its number: status, standard, dates and the
holder's initials; never the name, the person id or a national ID."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.handlers.certificates import standard_of, today
from services.certification.tables import Certificate, Holder
from shared.db import get_or_404


@dataclass(frozen=True)
class Verification:
    certificate_number: str
    status: domain.CertificateStatus
    standard_code: str
    standard_title: str
    occupation: str
    occupation_title: str
    level: int
    holder_initials: str | None
    issued_on: date
    valid_until: date
    renewed_on: date | None
    revoked_on: date | None


async def verify(session: AsyncSession, number: str) -> Verification:
    certificate = await get_or_404(
        session, Certificate, number, what="certificate", field="certificate_number"
    )
    standard = await standard_of(session, certificate)
    holder = await session.get(Holder, certificate.person_id)
    return Verification(
        certificate_number=number,
        status=domain.status(certificate.valid_until, certificate.revoked_at is not None, today()),
        standard_code=standard.code,
        standard_title=standard.title,
        occupation=standard.occupation,
        occupation_title=standard.occupation_title,
        level=standard.level,
        holder_initials=domain.initials(holder.full_name if holder else None),
        issued_on=certificate.issued_at.date(),
        valid_until=certificate.valid_until,
        renewed_on=certificate.renewed_at.date() if certificate.renewed_at else None,
        revoked_on=certificate.revoked_at.date() if certificate.revoked_at else None,
    )
