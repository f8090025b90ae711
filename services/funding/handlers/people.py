"""What registry facts about people and households change in funding: the replica the
rules read (shared.replica, bound to funding's tables), then the person's referrals are
decided again. Every handler is idempotent (the inbox drops duplicate CloudEvents; these
also tolerate the same fact under a new id) and takes the person's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.handlers import catalogue, referrals
from services.funding.handlers.common import drop_rows, lock_person, locked_rounds
from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
    Qualification,
    SharedData,
)
from shared import replica
from shared.batch import Delivered, batched
from shared.events import (
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
)

LENDER_KINDS = ("lender", "fund")


@batched
async def on_person_registered(
    session: AsyncSession, batch: Sequence[Delivered[PersonRegistered]]
) -> None:
    async for events, spans in locked_rounds(session, batch):
        added = await replica.people_registered(
            session, events, table=KnownPerson, copy=("birth_year",)
        )
        if added:
            await session.flush()
        await referrals.refer_many(session, list(spans), spans=spans)


async def on_person_relocated(session: AsyncSession, event: PersonRelocated) -> None:
    await lock_person(session, event.person_id)
    if await replica.on_person_relocated(session, event, table=KnownPerson):
        await session.flush()
        await referrals.refer(session, event.person_id)


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    """Cancel what is open and drop what we hold about the person; the opaque id stays on
    the referrals (counts), nothing else that could identify them."""
    await lock_person(session, event.person_id)
    await replica.retire_person(
        session,
        KnownPerson,
        event.person_id,
        replica.ERASED,
        clear=("province_code", "village_code", "birth_year"),
        create=True,
        erased_at=event.erased_at,
    )
    await referrals.cancel_open(session, event.person_id, "person-erased", datetime.now(UTC))
    await drop_rows(session, SharedData, SharedData.person_id == event.person_id)
    await replica.forget_membership(session, KnownMembership, event.person_id)


async def on_person_merged(session: AsyncSession, event: PersonMerged) -> None:
    """The retired id's qualifications, consents and referrals move to the survivor; where
    both had one open for the same product, the survivor's stays open and the other is
    cancelled (reason person-merged)."""
    retired, survivor = event.person_id, event.survivor_id
    for person_id in sorted((retired, survivor)):  # one order for every replica: no deadlock
        await lock_person(session, person_id)
    await replica.retire_person(
        session, KnownPerson, retired, replica.MERGED, survivor_id=survivor, create=True
    )
    now = datetime.now(UTC)
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


async def on_household_member_joined(session: AsyncSession, event: HouseholdMemberJoined) -> None:
    await lock_person(session, event.person_id)
    if await replica.on_household_member_joined(session, event, table=KnownMembership):
        await session.flush()
        await referrals.refer(session, event.person_id)


async def on_household_member_left(session: AsyncSession, event: HouseholdMemberLeft) -> None:
    await lock_person(session, event.person_id)
    await replica.on_household_member_left(session, event, table=KnownMembership)


async def on_household_income_recorded(
    session: AsyncSession, event: HouseholdIncomeRecorded
) -> None:
    if not await replica.on_household_income_recorded(session, event, table=KnownHousehold):
        return
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
