"""Consent and the personal data it lets lenders see (replicas of the registry's
ConsentGranted / ConsentWithdrawn / PersonalDataShared), and what each changes in the
person's open referrals. Idempotent, under the person's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import domain
from services.funding.handlers import referrals
from services.funding.handlers.common import drop_rows, lock_person, locked_rounds
from services.funding.tables import ConsentRecord, KnownPerson, SharedData
from shared.batch import Delivered, batched
from shared.events import ConsentGranted, ConsentWithdrawn, PersonalDataShared, copied

# What both consent events say of the consent, kept as the registry told it.
_TOLD = ("consent_id", "person_id", "purpose", "lender_code")


@batched
async def on_consent_granted(
    session: AsyncSession, batch: Sequence[Delivered[ConsentGranted]]
) -> None:
    async for events, spans in locked_rounds(session, batch):
        kept = set(
            (
                await session.exec(
                    select(ConsentRecord.consent_id).where(
                        col(ConsentRecord.consent_id).in_([e.consent_id for e in events])
                    )
                )
            ).all()
        )
        fresh = [e for e in events if e.consent_id not in kept]
        for event in fresh:
            session.add(
                ConsentRecord(
                    **copied(event, *_TOLD, "expires_at"),
                    data_categories=list(event.data_categories),
                )
            )
        if fresh:
            await session.flush()
        await referrals.refer_many(session, list(spans), spans=spans)


async def on_consent_withdrawn(session: AsyncSession, event: ConsentWithdrawn) -> None:
    """Open referrals to the lenders this consent covered are cancelled (the lender is told
    on its topic and webhooks), unless another live consent still covers that lender."""
    await lock_person(session, event.person_id)
    now = datetime.now(UTC)
    consent = await session.get(ConsentRecord, event.consent_id)
    if consent is None:  # withdrawn before we saw the grant: remember it, so a late grant
        consent = ConsentRecord(**copied(event, *_TOLD))  # arriving after this cannot revive it
    consent.withdrawn_at = consent.withdrawn_at or event.withdrawn_at
    session.add(consent)
    await drop_rows(session, SharedData, SharedData.consent_id == event.consent_id)
    await session.flush()
    live = [
        referrals.consent_fact(c)
        for c in (
            await session.exec(
                select(ConsentRecord).where(
                    ConsentRecord.person_id == event.person_id,
                    col(ConsentRecord.withdrawn_at).is_(None),
                )
            )
        ).all()
    ]
    for referral in await referrals.open_referrals(session, event.person_id):
        if referral.status == domain.Status.HELD:
            continue  # it waits for a consent anyway
        if event.lender_code not in (None, referral.lender_code):
            continue
        if domain.consent_covers(live, referral.lender_code, now):
            continue
        await referrals.cancel(session, referral, "consent-withdrawn", now)


async def on_personal_data_shared(session: AsyncSession, event: PersonalDataShared) -> None:
    """Keep the newest data per consent; lenders with an open referral it covers are sent
    the referral again with it (new data for a referral already sent), and a referral that
    waited for it is released."""
    await lock_person(session, event.person_id)
    consent = await session.get(ConsentRecord, event.consent_id)
    if consent is not None and consent.withdrawn_at is not None:
        return  # withdrawn already: never store it again
    person = await session.get(KnownPerson, event.person_id)
    if person is not None and person.status == "erased":
        return  # a share that crossed the erasure on the other topic: drop it
    row = await session.get(SharedData, event.consent_id)
    if row is not None and row.shared_at >= event.shared_at:
        return
    row = row or SharedData(
        consent_id=event.consent_id,
        person_id=event.person_id,
        lender_code=event.lender_code,
        data={},
        shared_at=event.shared_at,
    )
    row.data = event.data.model_dump(mode="json")
    row.shared_at, row.lender_code = event.shared_at, event.lender_code
    session.add(row)
    await session.flush()
    now = datetime.now(UTC)
    for referral in await referrals.open_referrals(session, event.person_id):
        if referral.status == domain.Status.HELD:
            continue
        if event.lender_code in (None, referral.lender_code):
            await referrals.share(session, referral, now)
    # A referral held until this consent's data arrived is released now, data included
    # (referrals.data_arrived); after the loop above, so it is shared once.
    await referrals.refer(session, event.person_id, now)
