"""Consented personal data for lenders, handed to funding on its private topic (decision 0010).

A live loan-referral consent with data categories is shared when it is granted and again
whenever a field it covers changes; funding drops the data on ConsentWithdrawn/PersonErased.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import domain
from services.registry.handlers.common import stage
from services.registry.tables import Consent, Household, Person
from shared.events import PersonalDataShared, SharedPersonalData


def categories_of(consent: Consent) -> list[str]:
    return [c for c in consent.data_categories.split(",") if c]


async def share(session: AsyncSession, consent: Consent, *, now: datetime | None = None) -> bool:
    """Stage PersonalDataShared for one consent; False when it shares nothing."""
    categories = categories_of(consent)
    now = now or datetime.now(UTC)
    ended = consent.withdrawn_at is not None or (
        consent.expires_at is not None and consent.expires_at <= now
    )
    if consent.purpose != domain.LOAN_REFERRAL or not categories or ended:
        return False
    person = await session.get(Person, consent.person_id)
    if person is None or person.status != "active":
        return False
    values: dict[str, Any] = {
        name: getattr(person, name)
        for name in domain.shared_fields(categories) - {"monthly_income"}
    }
    if "household-income" in categories and person.household_id is not None:
        household = await session.get(Household, person.household_id)
        values["monthly_income"] = household.monthly_income if household else None
    stage(
        session,
        PersonalDataShared(
            person_id=person.person_id,
            consent_id=consent.consent_id,
            lender_code=consent.lender_code,
            data=SharedPersonalData(categories=categories, **values),
            shared_at=now,
        ),
    )
    return True


async def reshare(session: AsyncSession, person_ids: Iterable[str], changed: Iterable[str]) -> int:
    """Share again every live consent of these people that covers a changed field."""
    ids, changed_ = list(person_ids), set(changed)
    if not ids or not changed_:
        return 0
    now = datetime.now(UTC)
    live = await session.exec(
        select(Consent).where(
            col(Consent.person_id).in_(ids),
            Consent.purpose == domain.LOAN_REFERRAL,
            Consent.data_categories != "",
            col(Consent.withdrawn_at).is_(None),
            or_(col(Consent.expires_at).is_(None), col(Consent.expires_at) > now),
        )
    )
    shared = 0
    for consent in live.all():
        if domain.shared_fields(categories_of(consent)) & changed_:
            shared += await share(session, consent, now=now)
    return shared


async def household_members(session: AsyncSession, household_id: str) -> list[str]:
    rows = await session.exec(
        select(Person.person_id).where(
            Person.household_id == household_id, Person.status == "active"
        )
    )
    return list(rows.all())
