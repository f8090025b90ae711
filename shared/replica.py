"""The registry replica other services keep: column mixins, the handlers that apply
registry events to them (the way `OutboxColumns` serves every outbox) and the lookup a
command naming a replicated organisation makes (`known_organisation`).

A service still declares its own tables (`class KnownMembership(Base,
ReplicaMembershipColumns, table=True)`, in its own metadata; the mixin names the table),
so it adds the columns it alone keeps, and routes events to these handlers with its tables
bound (`functools.partial(on_..., table=KnownMembership)`). A service that must react to a
fact (funding re-refers) wraps the handler and uses its answer: True when the replica
changed.

Every handler tolerates replays and order across keys: household events (keyed by
household) may arrive before the person they name, and a later fact wins whatever order
the two arrive in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.batch import Delivered, batched
from shared.db import UtcDateTime
from shared.errors import NotFound
from shared.events import (
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonRegistered,
    PersonRelocated,
)

ACTIVE, ERASED, MERGED = "active", "erased", "merged"
OrganisationRow = TypeVar("OrganisationRow", bound="ReplicaOrganisationColumns")


class ReplicaPersonColumns(SQLModel):
    """What every replica keeps of a person; services add their province (required or
    not) and what else they read."""

    __tablename__ = "known_person"
    person_id: str = Field(primary_key=True, max_length=36)
    village_code: str | None = Field(default=None, max_length=32)
    status: str = Field(default=ACTIVE, max_length=10)  # active | erased | merged
    survivor_id: str | None = Field(default=None, max_length=36)
    # When PersonErased said the person was erased: subject access answers with it.
    erased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ReplicaMembershipColumns(SQLModel):
    """Person -> household. Household events are keyed by household, person events by
    person, so membership may arrive before the person: kept apart from the person."""

    __tablename__ = "known_membership"
    person_id: str = Field(primary_key=True, max_length=36)
    household_id: str = Field(index=True, max_length=36)
    joined_at: datetime = Field(sa_type=UtcDateTime)


class ReplicaHouseholdColumns(SQLModel):
    """Services add `recorded_at` (last, after their own columns)."""

    __tablename__ = "known_household"
    household_id: str = Field(primary_key=True, max_length=36)
    income_band: str = Field(max_length=10)
    band_floor: int
    band_ceiling: int | None = None


class ReplicaOrganisationColumns(SQLModel):
    __tablename__ = "known_organisation"
    code: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=200)


async def people_registered(
    session: AsyncSession,
    events: Sequence[PersonRegistered],
    *,
    table: type[SQLModel],
    copy: Sequence[str] = (),
) -> list[str]:
    """Add each person once (a replay changes nothing), reading the batch's people in one
    query; returns the ids added. `copy` names further event fields the service keeps
    (training: registered_at, funding: birth_year)."""
    key: Any = table.person_id  # type: ignore[attr-defined]  # every replica person table
    wanted = sorted({e.person_id for e in events})
    kept = set((await session.exec(select(key).where(col(key).in_(wanted)))).all())
    added = []
    for event in events:
        if event.person_id in kept:
            continue
        kept.add(event.person_id)
        extra = {name: getattr(event, name) for name in copy}
        session.add(
            table(
                person_id=event.person_id,
                province_code=event.province_code,
                village_code=event.village_code,
                **extra,
            )
        )
        added.append(event.person_id)
    return added


@batched
async def on_person_registered(
    session: AsyncSession,
    batch: Sequence[Delivered[PersonRegistered]],
    *,
    table: type[SQLModel],
    copy: Sequence[str] = (),
) -> bool:
    """`people_registered` for a batch; True when someone was added."""
    events = [d.event for d in batch]
    return bool(await people_registered(session, events, table=table, copy=copy))


async def on_person_relocated(
    session: AsyncSession, event: PersonRelocated, *, table: type[SQLModel]
) -> bool:
    """Move an active person; an erased or merged one stays as it is."""
    person: Any = await session.get(table, event.person_id)
    if person is None or person.status != ACTIVE:
        return False
    person.province_code, person.village_code = event.province_code, event.village_code
    session.add(person)
    return True


async def retire_person(
    session: AsyncSession,
    table: type[SQLModel],
    person_id: str,
    status: str,
    *,
    survivor_id: str | None = None,
    clear: Sequence[str] = (),
    create: bool = False,
    erased_at: datetime | None = None,
) -> None:
    """Mark the person erased or merged, blanking the `clear` columns; `create` keeps a
    tombstone for a person not seen yet (so a late registration cannot revive them)."""
    person: Any = await session.get(table, person_id)
    if person is None:
        if not create:
            return
        person = table(person_id=person_id)
    person.status = status
    if survivor_id is not None:
        person.survivor_id = survivor_id
    if erased_at is not None:
        person.erased_at = erased_at
    for name in clear:
        setattr(person, name, None)
    session.add(person)


async def forget_membership(session: AsyncSession, table: type[SQLModel], person_id: str) -> None:
    membership = await session.get(table, person_id)
    if membership is not None:
        await session.delete(membership)


async def on_household_member_joined(
    session: AsyncSession, event: HouseholdMemberJoined, *, table: type[SQLModel]
) -> bool:
    membership: Any = await session.get(table, event.person_id)
    if membership is None:
        session.add(
            table(
                person_id=event.person_id,
                household_id=event.household_id,
                joined_at=event.joined_at,
            )
        )
        return True
    if event.joined_at < membership.joined_at:
        return False  # a later move wins, whatever the order
    membership.household_id, membership.joined_at = event.household_id, event.joined_at
    session.add(membership)
    return True


async def on_household_member_left(
    session: AsyncSession, event: HouseholdMemberLeft, *, table: type[SQLModel]
) -> None:
    membership: Any = await session.get(table, event.person_id)
    if membership is not None and membership.household_id == event.household_id:
        await session.delete(membership)


async def on_household_income_recorded(
    session: AsyncSession,
    event: HouseholdIncomeRecorded,
    *,
    table: type[SQLModel],
    copy: Sequence[str] = (),
) -> bool:
    """Keep the newest income; `copy` names further event fields (training: low_income)."""
    found: Any = await session.get(table, event.household_id)
    if found is not None and event.recorded_at < found.recorded_at:
        return False
    household: Any = found or table(household_id=event.household_id)
    for name in ("income_band", "band_floor", "band_ceiling", *copy, "recorded_at"):
        setattr(household, name, getattr(event, name))
    session.add(household)
    return True


async def on_organisation_registered(
    session: AsyncSession, event: OrganisationRegistered, *, table: type[SQLModel]
) -> None:
    organisation: Any = await session.get(table, event.code) or table(code=event.code)
    organisation.kind, organisation.name = event.kind, event.name
    session.add(organisation)


async def known_organisation(
    session: AsyncSession, table: type[OrganisationRow], code: str, *, service: str, field: str
) -> OrganisationRow:
    """The organisation as the service's replica has it, or a 404 that says why it may be
    missing (a command naming one that the registry's event has not brought yet)."""
    organisation = await session.get(table, code)
    if organisation is None:
        raise NotFound(
            f"organisation {code!r} is not known to {service} (not registered, or the "
            "registry's event has not arrived yet)",
            field=field,
        )
    return organisation
