"""Certification's qualification lifecycle (awarded, revoked, expired, renewed) as funding
keeps it, and what each changes in the holder's referrals. Idempotent, under the person's
lock; a lifecycle event that overtakes its award keeps what it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.handlers import referrals
from services.funding.handlers.common import lock_person, locked_rounds
from services.funding.tables import Qualification
from shared.batch import Delivered, batched
from shared.events import (
    CertificateEvent,
    QualificationAwarded,
    QualificationExpired,
    QualificationRenewed,
    QualificationRevoked,
)


@batched
async def on_qualification_awarded(
    session: AsyncSession, batch: Sequence[Delivered[QualificationAwarded]]
) -> None:
    """Awards of many people in a fixed number of queries; one person's in offset order."""
    async for events, spans in locked_rounds(session, batch):
        numbers = [e.certificate_number for e in events]
        kept = set(
            (
                await session.exec(
                    select(Qualification.certificate_number).where(
                        col(Qualification.certificate_number).in_(numbers)
                    )
                )
            ).all()
        )
        for event in events:
            if event.certificate_number in kept:
                continue
            kept.add(event.certificate_number)
            session.add(_replica(event, event.valid_until))
        await session.flush()
        await referrals.refer_many(session, list(spans), spans=spans)


async def _certificate(session: AsyncSession, event: CertificateEvent) -> Qualification:
    await lock_person(session, event.person_id)
    found = await session.get(Qualification, event.certificate_number)
    if found is None:  # the award has not reached us yet: keep what this event says
        found = _replica(event, getattr(event, "valid_until", datetime.now(UTC).date()))
    return found


def _replica(event: CertificateEvent, valid_until: date) -> Qualification:
    """A certificate funding has not seen, as the event tells it."""
    return Qualification(**CertificateEvent.fields_from(event), valid_until=valid_until)


async def _withdraw_certificate(
    session: AsyncSession, event: QualificationRevoked | QualificationExpired, status: str
) -> None:
    qualification = await _certificate(session, event)
    qualification.status = status
    session.add(qualification)
    await session.flush()
    await referrals.cancel_open(
        session,
        event.person_id,
        f"qualification-{status}",
        datetime.now(UTC),
        certificate_number=event.certificate_number,
    )
    # Another certificate of the person may still meet a product's rules.
    await referrals.refer(session, event.person_id)


async def on_qualification_revoked(session: AsyncSession, event: QualificationRevoked) -> None:
    await _withdraw_certificate(session, event, "revoked")


async def on_qualification_expired(session: AsyncSession, event: QualificationExpired) -> None:
    await _withdraw_certificate(session, event, "expired")


async def on_qualification_renewed(session: AsyncSession, event: QualificationRenewed) -> None:
    qualification = await _certificate(session, event)
    if qualification.status != "revoked":
        qualification.status = "valid"
        qualification.valid_until = event.valid_until
        session.add(qualification)
        await session.flush()
        for referral in await referrals.open_referrals(session, event.person_id):
            if referral.certificate_number == event.certificate_number:
                referral.valid_until = event.valid_until
                session.add(referral)
    await referrals.refer(session, event.person_id)
