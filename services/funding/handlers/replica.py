"""Funding's replica of what the rules read, from registry and certification events, and the
referral changes each fact causes. Every handler is idempotent (the inbox drops duplicate
CloudEvents; these also tolerate the same fact under a new id) and takes the person's lock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import domain
from services.funding.handlers import catalogue, referrals
from services.funding.handlers.common import lock_person
from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
    Qualification,
    SharedData,
)
from shared.events import (
    CertificateEvent,
    ConsentGranted,
    ConsentWithdrawn,
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonalDataShared,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
    QualificationAwarded,
    QualificationExpired,
    QualificationRenewed,
    QualificationRevoked,
)

LENDER_KINDS = ("lender", "fund")


def _now() -> datetime:
    return datetime.now(UTC)


# --- people and households ----------------------------------------------------------------


async def on_person_registered(session: AsyncSession, event: PersonRegistered) -> None:
    await lock_person(session, event.person_id)
    person = await session.get(KnownPerson, event.person_id)
    if person is None:
        session.add(
            KnownPerson(
                person_id=event.person_id,
                province_code=event.province_code,
                village_code=event.village_code,
                birth_year=event.birth_year,
            )
        )
        await session.flush()
    await referrals.refer(session, event.person_id)


async def on_person_relocated(session: AsyncSession, event: PersonRelocated) -> None:
    await lock_person(session, event.person_id)
    person = await session.get(KnownPerson, event.person_id)
    if person is None or person.status != referrals.ACTIVE:
        return
    person.province_code, person.village_code = event.province_code, event.village_code
    session.add(person)
    await session.flush()
    await referrals.refer(session, event.person_id)


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    """Cancel what is open and drop what we hold about the person; the opaque id stays on
    the referrals (counts), nothing else that could identify them."""
    await lock_person(session, event.person_id)
    person = await session.get(KnownPerson, event.person_id) or KnownPerson(
        person_id=event.person_id
    )
    person.status, person.province_code, person.village_code, person.birth_year = (
        "erased",
        None,
        None,
        None,
    )
    session.add(person)
    await referrals.cancel_open(session, event.person_id, "person-erased", _now())
    await _drop(session, SharedData, SharedData.person_id == event.person_id)
    membership = await session.get(KnownMembership, event.person_id)
    if membership is not None:
        await session.delete(membership)


async def on_person_merged(session: AsyncSession, event: PersonMerged) -> None:
    """The retired id's qualifications, consents and referrals move to the survivor; where
    both had one open for the same product, the survivor's stays open and the other is
    cancelled (reason person-merged)."""
    retired, survivor = event.person_id, event.survivor_id
    for person_id in sorted((retired, survivor)):  # one order for every replica: no deadlock
        await lock_person(session, person_id)
    person = await session.get(KnownPerson, retired) or KnownPerson(person_id=retired)
    person.status, person.survivor_id = "merged", survivor
    session.add(person)
    now = _now()
    for table in (Qualification, ConsentRecord, SharedData):
        for row in (await session.exec(select(table).where(table.person_id == retired))).all():
            row.person_id = survivor
            session.add(row)
    survivors_open = {r.product_code for r in await referrals.open_referrals(session, survivor)}
    for referral in await referrals.open_referrals(session, retired):
        if referral.product_code in survivors_open:
            await referrals.cancel(session, referral, "person-merged", now)
    await session.flush()  # the duplicate is closed before its history joins the survivor's
    for referral in await referrals.search(session, person_id=retired):
        referral.person_id = survivor
        session.add(referral)
    await session.flush()
    await referrals.refer(session, survivor)


async def on_member_joined(session: AsyncSession, event: HouseholdMemberJoined) -> None:
    await lock_person(session, event.person_id)
    membership = await session.get(KnownMembership, event.person_id)
    if membership is None:
        session.add(
            KnownMembership(
                person_id=event.person_id,
                household_id=event.household_id,
                joined_at=event.joined_at,
            )
        )
    elif event.joined_at >= membership.joined_at:  # a later move wins, whatever the order
        membership.household_id, membership.joined_at = event.household_id, event.joined_at
        session.add(membership)
    else:
        return
    await session.flush()
    await referrals.refer(session, event.person_id)


async def on_member_left(session: AsyncSession, event: HouseholdMemberLeft) -> None:
    await lock_person(session, event.person_id)
    membership = await session.get(KnownMembership, event.person_id)
    if membership is not None and membership.household_id == event.household_id:
        await session.delete(membership)


async def on_income_recorded(session: AsyncSession, event: HouseholdIncomeRecorded) -> None:
    household = await session.get(KnownHousehold, event.household_id)
    if household is None:
        household = KnownHousehold(
            household_id=event.household_id,
            income_band=event.income_band,
            band_floor=event.band_floor,
            band_ceiling=event.band_ceiling,
            recorded_at=event.recorded_at,
        )
    elif event.recorded_at >= household.recorded_at:
        household.income_band = event.income_band
        household.band_floor, household.band_ceiling = event.band_floor, event.band_ceiling
        household.recorded_at = event.recorded_at
    else:
        return
    session.add(household)
    await session.flush()
    members = await session.exec(
        select(KnownMembership.person_id).where(KnownMembership.household_id == event.household_id)
    )
    for person_id in sorted(members.all()):
        await lock_person(session, person_id)
        await referrals.refer(session, person_id)


async def on_organisation_registered(session: AsyncSession, event: OrganisationRegistered) -> None:
    """Lenders and funds the registry knows become funding's lenders (products come from the
    catalogue or operators)."""
    if event.kind in LENDER_KINDS:
        await catalogue.ensure_lender(session, event.code, event.name, event.kind)


# --- consent and the personal data it lets lenders see ------------------------------------


async def on_consent_granted(session: AsyncSession, event: ConsentGranted) -> None:
    await lock_person(session, event.person_id)
    if await session.get(ConsentRecord, event.consent_id) is None:
        session.add(
            ConsentRecord(
                consent_id=event.consent_id,
                person_id=event.person_id,
                purpose=event.purpose,
                lender_code=event.lender_code,
                data_categories=list(event.data_categories),
                expires_at=event.expires_at,
            )
        )
        await session.flush()
    await referrals.refer(session, event.person_id)


async def on_consent_withdrawn(session: AsyncSession, event: ConsentWithdrawn) -> None:
    """Open referrals to the lenders this consent covered are cancelled (the lender is told
    on its topic and webhooks), unless another live consent still covers that lender."""
    await lock_person(session, event.person_id)
    now = _now()
    consent = await session.get(ConsentRecord, event.consent_id)
    if consent is None:  # withdrawn before we saw the grant: remember it, so a late grant
        consent = ConsentRecord(  # arriving after this cannot revive it
            consent_id=event.consent_id,
            person_id=event.person_id,
            purpose=event.purpose,
            lender_code=event.lender_code,
        )
    consent.withdrawn_at = consent.withdrawn_at or event.withdrawn_at
    session.add(consent)
    await _drop(session, SharedData, SharedData.consent_id == event.consent_id)
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
    now = _now()
    for referral in await referrals.open_referrals(session, event.person_id):
        if referral.status == domain.Status.HELD:
            continue
        if event.lender_code in (None, referral.lender_code):
            await referrals.share(session, referral, now)
    # A referral held until this consent's data arrived is released now, data included
    # (referrals.data_arrived); after the loop above, so it is shared once.
    await referrals.refer(session, event.person_id, now)


# --- qualifications -------------------------------------------------------------------------


async def on_qualification_awarded(session: AsyncSession, event: QualificationAwarded) -> None:
    await lock_person(session, event.person_id)
    if await session.get(Qualification, event.certificate_number) is None:
        session.add(
            Qualification(
                certificate_number=event.certificate_number,
                person_id=event.person_id,
                occupation=event.occupation,
                level=event.level,
                valid_until=event.valid_until,
            )
        )
        await session.flush()
    await referrals.refer(session, event.person_id)


async def _certificate(session: AsyncSession, event: CertificateEvent) -> Qualification:
    await lock_person(session, event.person_id)
    found = await session.get(Qualification, event.certificate_number)
    if found is None:  # the award has not reached us yet: keep what this event says
        found = Qualification(
            certificate_number=event.certificate_number,
            person_id=event.person_id,
            occupation=event.occupation,
            level=event.level,
            valid_until=getattr(event, "valid_until", _now().date()),
        )
    return found


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
        _now(),
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


async def _drop(session: AsyncSession, table: type[SharedData], *where: object) -> None:
    for row in (await session.exec(select(table).where(*where))).all():  # type: ignore[arg-type]
        await session.delete(row)
