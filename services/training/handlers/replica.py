"""The registry replica: people, households, trainers and organisations from registry events.

Each handler is idempotent (the inbox drops duplicates; these also tolerate replays) and
order-tolerant across keys: household events may arrive before the person they name.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.training.handlers import seats
from services.training.tables import (
    KnownHousehold,
    KnownMembership,
    KnownOrganisation,
    KnownPerson,
    KnownTrainer,
)
from shared.events import (
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
    TrainerRegistered,
)


async def on_person_registered(session: AsyncSession, event: PersonRegistered) -> None:
    if await session.get(KnownPerson, event.person_id) is None:
        session.add(
            KnownPerson(
                person_id=event.person_id,
                province_code=event.province_code,
                village_code=event.village_code,
                registered_at=event.registered_at,
            )
        )


async def on_person_relocated(session: AsyncSession, event: PersonRelocated) -> None:
    person = await session.get(KnownPerson, event.person_id)
    if person is not None and person.status == "active":
        person.province_code = event.province_code
        person.village_code = event.village_code
        session.add(person)


async def on_person_erased(session: AsyncSession, event: PersonErased) -> None:
    """Keep only the tombstone; open applications are withdrawn and their seats refilled."""
    person = await session.get(KnownPerson, event.person_id)
    if person is not None:
        person.status = "erased"
        person.village_code = None
        session.add(person)
    membership = await session.get(KnownMembership, event.person_id)
    if membership is not None:
        await session.delete(membership)
    await seats.withdraw_everywhere(session, event.person_id, "person erased", at=event.erased_at)


async def on_person_merged(session: AsyncSession, event: PersonMerged) -> None:
    person = await session.get(KnownPerson, event.person_id)
    if person is not None:
        person.status = "merged"
        person.survivor_id = event.survivor_id
        session.add(person)
    membership = await session.get(KnownMembership, event.person_id)
    if membership is not None:
        await session.delete(membership)
    await seats.merge_applications(session, event.person_id, event.survivor_id, event.merged_at)


async def on_member_joined(session: AsyncSession, event: HouseholdMemberJoined) -> None:
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
        membership.household_id = event.household_id
        membership.joined_at = event.joined_at
        session.add(membership)


async def on_member_left(session: AsyncSession, event: HouseholdMemberLeft) -> None:
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
            low_income=event.low_income,
            recorded_at=event.recorded_at,
        )
    elif event.recorded_at >= household.recorded_at:
        household.income_band = event.income_band
        household.band_floor = event.band_floor
        household.band_ceiling = event.band_ceiling
        household.low_income = event.low_income
        household.recorded_at = event.recorded_at
    session.add(household)


async def on_trainer_registered(session: AsyncSession, event: TrainerRegistered) -> None:
    trainer = await session.get(KnownTrainer, event.trainer_id) or KnownTrainer(
        trainer_id=event.trainer_id, occupations=[], role=event.role
    )
    trainer.person_id = event.person_id
    trainer.occupations = list(event.occupations)
    trainer.village_code = event.village_code
    trainer.role = event.role
    session.add(trainer)


async def on_organisation_registered(session: AsyncSession, event: OrganisationRegistered) -> None:
    organisation = await session.get(KnownOrganisation, event.code) or KnownOrganisation(
        code=event.code, kind=event.kind, name=event.name
    )
    organisation.kind = event.kind
    organisation.name = event.name
    session.add(organisation)
