"""PDPA subject access in funding: what it holds about a person, and the record of which
lender received which of their data categories and when (written as it is disclosed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.schemas import (
    ConsentRecordOut,
    DisclosureOut,
    FundingHeld,
    KnownPersonOut,
    QualificationOut,
    ReferralOut,
    SharedDataOut,
)
from services.funding.tables import (
    ConsentRecord,
    Disclosure,
    KnownMembership,
    KnownPerson,
    Qualification,
    Referral,
    SharedData,
)
from shared.events import SharedPersonalData
from shared.replica import ERASED, MERGED
from shared.subject_access import Erased, Merged

Row = TypeVar("Row")


def record_disclosure(
    session: AsyncSession,
    referral: Referral,
    applicant: SharedPersonalData | None,
    at: datetime,
    *,
    via: str,
    event_id: str | None = None,
) -> None:
    """Note that the referral's lender received the applicant's data categories (nothing
    to note when no personal data went with it)."""
    if applicant is None or not applicant.categories:
        return
    session.add(
        Disclosure(
            disclosure_id=str(uuid.uuid4()),
            person_id=referral.person_id,
            lender_code=referral.lender_code,
            referral_id=referral.referral_id,
            via=via,
            event_id=event_id,
            categories=sorted(applicant.categories),
            shared_at=at,
        )
    )


async def _rows(
    session: AsyncSession, table: type[Row], person_id: str, order: str
) -> Sequence[Row]:
    """The person's rows of `table`, oldest (or lowest) `order` first."""
    by: Any = table
    query = select(table).where(by.person_id == person_id).order_by(col(getattr(by, order)))
    return (await session.exec(query)).all()


async def held(session: AsyncSession, person_id: str) -> FundingHeld | Erased | Merged:
    person = await session.get(KnownPerson, person_id)
    if person is not None and person.status == ERASED:
        return Erased(erased_at=person.erased_at)
    if person is not None and person.status == MERGED:
        return Merged(survivor_id=person.survivor_id)
    membership = await session.get(KnownMembership, person_id)
    return FundingHeld(
        person_id=person_id,
        person=KnownPersonOut.of(person) if person is not None else None,
        household_id=membership.household_id if membership is not None else None,
        consents=[
            ConsentRecordOut.of(c)
            for c in await _rows(session, ConsentRecord, person_id, "consent_id")
        ],
        shared_data=[
            SharedDataOut.of(s) for s in await _rows(session, SharedData, person_id, "shared_at")
        ],
        qualifications=[
            QualificationOut.of(q)
            for q in await _rows(session, Qualification, person_id, "certificate_number")
        ],
        referrals=[
            ReferralOut.of(r) for r in await _rows(session, Referral, person_id, "created_at")
        ],
        disclosures=[
            DisclosureOut.of(d) for d in await _rows(session, Disclosure, person_id, "shared_at")
        ],
    )
