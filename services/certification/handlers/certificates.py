"""Certificates: issued on an award, revoked with a reason, renewed, expired on schedule.

Each change stages its event in the outbox in the same transaction, under the holder's
lock, so each happens once: a second revocation is a 409, expiry marks the certificate
(`expired_at`) with the event, and renewal is only possible when due.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.credentials import CertificateFacts, Issuer
from services.certification.handlers.common import lock_person, stage, standard_for, units_of
from services.certification.tables import Assessment, AuditEntry, Certificate, Holder, Standard
from shared import audit
from shared.audit import Actor
from shared.batch import Delivered
from shared.db import get_or_404
from shared.errors import Conflict, DomainError
from shared.events import (
    CertificateEvent,
    QualificationAwarded,
    QualificationExpired,
    QualificationRenewed,
    QualificationRevoked,
)

# Tries (one query each) before the list counts as full (at 75% full, 64 misses in a row
# for one index: ~1e-8).
_TRIES = 64


@dataclass(frozen=True)
class Issuing:
    """What issuing needs besides the database: public links and the status list's size."""

    issuer: Issuer
    status_list_size: int
    renewal_window_days: int = 180


def today() -> date:
    return datetime.now(UTC).date()


async def valid_certificate(
    session: AsyncSession, person_id: str, occupation: str, level: int
) -> Certificate | None:
    return (
        await session.exec(
            select(Certificate).where(
                Certificate.person_id == person_id,
                Certificate.occupation == occupation,
                Certificate.level == level,
                col(Certificate.revoked_at).is_(None),
                col(Certificate.valid_until) >= today(),
            )
        )
    ).first()


async def issue(
    session: AsyncSession, assessment: Assessment, standard: Standard, issuing: Issuing
) -> Certificate:
    """One valid certificate per person, occupation and level: a repeat pass reuses it.
    The caller holds the person's lock."""
    return (await issue_many(session, [(assessment, standard)], issuing))[0]


async def issue_many(
    session: AsyncSession,
    awards: Sequence[tuple[Assessment, Standard]],
    issuing: Issuing,
    spans: Mapping[str, Delivered[Any]] | None = None,
) -> list[Certificate]:
    """`issue` for many assessments in a fixed number of queries (the holders' valid
    certificates in one, free status-list indices in one per try); the caller holds the
    holders' locks. What is staged for a person continues the trace of their event in
    `spans`."""
    valid = await _valid_certificates(session, {a.person_id for a, _ in awards})
    wanted = [(a, std) for a, std in awards if (a.person_id, a.occupation, a.level) not in valid]
    indices = iter(await _free_indices(session, len(wanted), issuing.status_list_size))
    out = []
    for assessment, standard in awards:
        key = (assessment.person_id, assessment.occupation, assessment.level)
        if key not in valid:
            delivered = (spans or {}).get(assessment.person_id)
            with delivered.traced() if delivered else nullcontext():
                valid[key] = _new_certificate(session, assessment, standard, issuing, next(indices))
        assessment.certificate_number = valid[key].certificate_number
        if assessment not in session:  # callers' assessments are in it already
            session.add(assessment)
        out.append(valid[key])
    return out


def _new_certificate(
    session: AsyncSession,
    assessment: Assessment,
    standard: Standard,
    issuing: Issuing,
    status_index: int,
) -> Certificate:
    now = datetime.now(UTC)
    certificate = Certificate(
        certificate_number=domain.certificate_number(now.date()),
        person_id=assessment.person_id,
        occupation=assessment.occupation,
        level=assessment.level,
        standard_code=standard.code,
        issued_at=now,
        credential_issued_at=now,
        valid_until=domain.valid_until(now.date(), standard.valid_years),
        status_index=status_index,
    )
    session.add(certificate)
    stage(
        session,
        QualificationAwarded(
            **CertificateEvent.fields_from(certificate),
            valid_until=certificate.valid_until,
            awarded_at=now,
            standard_code=standard.code,
            verification_url=issuing.issuer.verify_url(certificate.certificate_number),
        ),
    )
    return certificate


async def _valid_certificates(
    session: AsyncSession, person_ids: set[str]
) -> dict[tuple[str, str, int], Certificate]:
    """(person, occupation, level) -> a valid certificate, for these people."""
    rows = await session.exec(
        select(Certificate).where(
            col(Certificate.person_id).in_(sorted(person_ids)),
            col(Certificate.revoked_at).is_(None),
            col(Certificate.valid_until) >= today(),
        )
    )
    found: dict[tuple[str, str, int], Certificate] = {}
    for row in rows.all():
        found.setdefault((row.person_id, row.occupation, row.level), row)
    return found


async def _free_indices(session: AsyncSession, n: int, size: int) -> list[int]:
    """n distinct random unused status-list indices: neighbours in the list say nothing
    about each other (the spec's advice). The clashes of each try are drawn again; the
    unique constraint is the backstop against a race."""
    chosen: set[int] = set()
    for _ in range(_TRIES):
        if len(chosen) == n:
            break
        picks: set[int] = set()
        while len(picks) < min(n - len(chosen), size) and len(picks) < size - len(chosen):
            index = secrets.randbelow(size)
            if index not in chosen:
                picks.add(index)
        if not picks:
            break
        taken = set(
            (
                await session.exec(
                    select(Certificate.status_index).where(
                        col(Certificate.status_index).in_(sorted(picks))
                    )
                )
            ).all()
        )
        chosen |= picks - taken
    if len(chosen) < n:
        raise DomainError(
            f"the status list of {size} entries is nearly full: raise "
            "CERTIFICATION_STATUS_LIST_SIZE"
        )
    return sorted(chosen, key=lambda _: secrets.randbelow(1 << 30))


async def locked(session: AsyncSession, number: str) -> Certificate:
    """The certificate, its holder's lock held and its row read afresh under it."""
    found = await get_or_404(
        session, Certificate, number, what="certificate", field="certificate_number"
    )
    await lock_person(session, found.person_id)
    certificate = await session.get(
        Certificate, number, with_for_update=True, populate_existing=True
    )
    assert certificate is not None  # certificates are never deleted
    return certificate


async def revoke(session: AsyncSession, number: str, reason: str, by: Actor) -> Certificate:
    """Revoke it and record `by` in the audit log (the reason is free text: not kept there)."""
    certificate = await locked(session, number)
    if certificate.revoked_at is not None:
        raise Conflict(
            f"certificate {number} was revoked already",
            field="certificate_number",
            revoked_at=certificate.revoked_at,
        )
    now = datetime.now(UTC)
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    session.add(certificate)
    stage(
        session,
        QualificationRevoked(
            **CertificateEvent.fields_from(certificate), reason=reason, revoked_at=now
        ),
    )
    audit.record(
        session,
        AuditEntry,
        by,
        "certificate.revoked",
        ("certificate", number),
        fields=["revoked_at", "revocation_reason"],
    )
    return certificate


async def standard_of(session: AsyncSession, certificate: Certificate) -> Standard:
    return await standard_for(
        session, certificate.standard_code, certificate.occupation, certificate.level
    )


async def renew(session: AsyncSession, number: str, issuing: Issuing, by: Actor) -> Certificate:
    """A new valid-until and a re-issued credential, `by` recorded in the audit log. Only
    when due (within the renewal window or expired), so a retried renewal cannot extend twice."""
    certificate = await locked(session, number)
    if certificate.revoked_at is not None:
        raise Conflict(f"certificate {number} is revoked", field="certificate_number")
    now = datetime.now(UTC)
    due_from = certificate.valid_until - timedelta(days=issuing.renewal_window_days)
    if now.date() < due_from:
        raise Conflict(
            f"certificate {number} is valid until {certificate.valid_until}; renewal opens "
            f"on {due_from}",
            field="certificate_number",
            renewal_opens=due_from,
        )
    standard = await standard_of(session, certificate)
    previous = certificate.valid_until
    certificate.valid_until = domain.renewed_until(previous, now.date(), standard.valid_years)
    certificate.renewed_at = now
    certificate.credential_issued_at = now
    certificate.expired_at = None  # a later expiry of the new period is told again
    session.add(certificate)
    stage(
        session,
        QualificationRenewed(
            **CertificateEvent.fields_from(certificate),
            previous_valid_until=previous,
            valid_until=certificate.valid_until,
            renewed_at=now,
        ),
    )
    audit.record(
        session,
        AuditEntry,
        by,
        "certificate.renewed",
        ("certificate", number),
        fields=["valid_until", "renewed_at"],
        detail=f"valid until {certificate.valid_until} (was {previous})",
    )
    return certificate


async def expire_due(session: AsyncSession, *, limit: int = 500) -> int:
    """Mark certificates past their valid-until and stage QualificationExpired, once each
    (the mark and the event commit together; a second sweep, on this replica or another,
    finds nothing). Returns how many expired."""
    due = (
        await session.exec(
            select(Certificate.certificate_number, Certificate.person_id)
            .where(
                col(Certificate.valid_until) < today(),
                col(Certificate.revoked_at).is_(None),
                col(Certificate.expired_at).is_(None),
            )
            .order_by(col(Certificate.valid_until))
            .limit(limit)
        )
    ).all()
    expired = 0
    now = datetime.now(UTC)
    for number, person_id in sorted(due, key=lambda row: row[1]):  # locks in one order
        await lock_person(session, person_id)
        certificate = await session.get(
            Certificate, number, with_for_update=True, populate_existing=True
        )
        if (
            certificate is None
            or certificate.revoked_at is not None
            or certificate.expired_at is not None
            or certificate.valid_until >= now.date()
        ):
            continue  # another sweep or a renewal got there first
        certificate.expired_at = now
        session.add(certificate)
        stage(
            session,
            QualificationExpired(
                **CertificateEvent.fields_from(certificate),
                valid_until=certificate.valid_until,
                expired_at=now,
            ),
        )
        expired += 1
    return expired


async def facts(session: AsyncSession, number: str) -> tuple[Certificate, CertificateFacts]:
    """What the certificate's credential says (the holder's name unless erased)."""
    certificate = await get_or_404(
        session, Certificate, number, what="certificate", field="certificate_number"
    )
    standard = await standard_of(session, certificate)
    holder = await session.get(Holder, certificate.person_id)
    return certificate, CertificateFacts(
        number=number,
        standard_code=standard.code,
        standard_title=standard.title,
        occupation=standard.occupation,
        occupation_title=standard.occupation_title,
        level=standard.level,
        units=units_of(standard),
        holder_name=holder.full_name if holder else None,
        awarded_at=certificate.issued_at,
        credential_issued_at=certificate.credential_issued_at or certificate.issued_at,
        valid_until=certificate.valid_until,
        status_index=certificate.status_index,
    )


async def revoked_indices(session: AsyncSession) -> list[int]:
    rows = await session.exec(
        select(Certificate.status_index).where(
            col(Certificate.revoked_at).is_not(None), col(Certificate.status_index).is_not(None)
        )
    )
    return [int(index) for index in rows.all() if index is not None]
