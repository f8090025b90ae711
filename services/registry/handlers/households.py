"""Households: members, monthly income with history; events carry the band, not the amount."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, domain, reference
from services.registry.handlers import sharing
from services.registry.handlers.common import Change, record_change, stage
from services.registry.schemas import HouseholdIn
from services.registry.settings import RegistrySettings
from services.registry.tables import Household, IncomeRecord, Person, Place
from shared.db import get_or_404, lock_aggregate
from shared.errors import Conflict, DomainError, NotFound
from shared.events import (
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    HouseholdRegistered,
)

# What each change tells other services and the audit log: the single commands below and
# the CSV importer (handlers/imports/batch.py) build their outbox and audit rows from these.


def registered(
    household_id: str,
    province_code: str,
    village_code: str | None,
    fields: list[str],
    now: datetime,
) -> Change:
    event = HouseholdRegistered(
        household_id=household_id,
        province_code=province_code,
        village_code=village_code,
        registered_at=now,
    )
    return Change(event, _audit("household.registered", household_id, fields, now))


def joined(household_id: str, person_id: str, now: datetime) -> Change:
    event = HouseholdMemberJoined(household_id=household_id, person_id=person_id, joined_at=now)
    audit_values = _audit("household.member-joined", household_id, ["members"], now)
    return Change(event, {**audit_values, "detail": f"person {person_id}"})


def income_recorded(household_id: str, band: domain.IncomeBand, low: bool, now: datetime) -> Change:
    event = HouseholdIncomeRecorded(
        household_id=household_id,
        income_band=band.label,
        band_floor=band.floor,
        band_ceiling=band.ceiling,
        low_income=low,
        recorded_at=now,
    )
    return Change(event, _audit("household.income-recorded", household_id, ["monthly_income"], now))


def _audit(action: str, household_id: str, fields: list[str], now: datetime) -> dict[str, Any]:
    return {
        "action": action,
        "entity_type": "household",
        "entity_id": household_id,
        "fields": fields,
        "at": now,
    }


async def register(
    session: AsyncSession,
    actor: str,
    cmd: HouseholdIn,
    settings: RegistrySettings,
    *,
    now: datetime | None = None,
) -> Household:
    now = now or datetime.now(UTC)
    if cmd.household_code is not None:
        existing = (
            await session.exec(
                select(Household).where(Household.household_code == cmd.household_code)
            )
        ).first()
        if existing is not None:
            raise Conflict(
                f"household code {cmd.household_code!r} is registered",
                field="household_code",
                existing_household_id=existing.household_id,
            )
    reference.check_province(cmd.province_code)
    if cmd.village_code is not None:
        village = await session.get(Place, cmd.village_code)
        if village is None or village.kind != "village":
            raise DomainError(f"unknown village {cmd.village_code!r}", field="village_code")
    household = Household(
        household_id=str(uuid.uuid4()),
        household_code=cmd.household_code,
        province_code=cmd.province_code,
        village_code=cmd.village_code,
        registered_at=now,
    )
    session.add(household)
    given = [k for k, v in cmd.model_dump(exclude={"members"}).items() if v is not None]
    record_change(
        session,
        actor,
        registered(household.household_id, cmd.province_code, cmd.village_code, given, now),
    )
    await session.flush()
    for person_id in cmd.members:
        await add_member(session, actor, household.household_id, person_id, now=now)
    if cmd.monthly_income is not None:
        await record_income(session, actor, household, cmd.monthly_income, settings, now=now)
    return household


async def _household(session: AsyncSession, household_id: str) -> Household:
    return await get_or_404(
        session, Household, household_id, what="household", field="household_id", quoted=False
    )


async def add_member(
    session: AsyncSession,
    actor: str,
    household_id: str,
    person_id: str,
    *,
    now: datetime | None = None,
) -> None:
    """A person lives in one household: joining a second one is a 409 (move them first)."""
    now = now or datetime.now(UTC)
    await lock_aggregate(session, f"registry:person:{person_id}")
    household = await _household(session, household_id)
    person = await session.get(Person, person_id)
    if person is None or person.status != "active":
        raise NotFound(f"no active person {person_id}", field="members")
    if person.household_id == household_id:
        return
    if person.household_id is not None:
        raise Conflict(
            f"person {person_id} is a member of household {person.household_id}",
            field="members",
            existing_household_id=person.household_id,
        )
    person.household_id, person.updated_at = household_id, now
    session.add(person)
    change = joined(household_id, person_id, now)
    stage(session, change.event)
    if household.monthly_income is not None:  # the person's shared income changes
        await sharing.reshare(session, [person_id], ["monthly_income"])
    audit.record(session, actor=actor, **change.audit)


async def remove_member(
    session: AsyncSession, actor: str, household_id: str, person_id: str
) -> None:
    await lock_aggregate(session, f"registry:person:{person_id}")
    person = await session.get(Person, person_id)
    if person is None or person.household_id != household_id:
        raise NotFound(f"person {person_id} is not in household {household_id}", field="person_id")
    now = datetime.now(UTC)
    person.household_id, person.updated_at = None, now
    session.add(person)
    stage(session, HouseholdMemberLeft(household_id=household_id, person_id=person_id, left_at=now))
    left = await session.get(Household, household_id)
    if left is not None and left.monthly_income is not None:
        await sharing.reshare(session, [person_id], ["monthly_income"])
    audit.record(
        session,
        actor=actor,
        action="household.member-left",
        entity_type="household",
        entity_id=household_id,
        fields=["members"],
        detail=f"person {person_id}",
        at=now,
    )


async def record_income(
    session: AsyncSession,
    actor: str,
    household: Household | str,
    monthly_income: int,
    settings: RegistrySettings,
    *,
    now: datetime | None = None,
) -> IncomeRecord:
    now = now or datetime.now(UTC)
    if isinstance(household, str):
        household = await _household(session, household)
    band = domain.income_band(monthly_income, settings.income_band_edges)
    low = domain.is_low_income(monthly_income, settings.low_income_threshold)
    record = IncomeRecord(
        household_id=household.household_id,
        monthly_income=monthly_income,
        income_band=band.label,
        low_income=low,
        recorded_at=now,
        recorded_by=actor,
    )
    household.monthly_income, household.income_band, household.low_income = (
        monthly_income,
        band.label,
        low,
    )
    session.add_all([record, household])
    change = income_recorded(household.household_id, band, low, now)
    stage(session, change.event)
    members = await sharing.household_members(session, household.household_id)
    await sharing.reshare(session, members, ["monthly_income"])
    audit.record(session, actor=actor, **change.audit)
    return record


async def read(session: AsyncSession, household_id: str) -> dict[str, Any]:
    household = await _household(session, household_id)
    members = (
        await session.exec(select(Person.person_id).where(Person.household_id == household_id))
    ).all()
    history = (
        await session.exec(
            select(IncomeRecord)
            .where(IncomeRecord.household_id == household_id)
            .order_by(col(IncomeRecord.recorded_at), col(IncomeRecord.id))
        )
    ).all()
    return {
        **household.model_dump(mode="json"),
        "members": sorted(members),
        "income_history": [
            r.model_dump(mode="json", exclude={"id", "household_id"}) for r in history
        ],
    }
