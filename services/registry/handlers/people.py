"""People: registration, corrections, likely duplicates, merges, subject access, erasure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, reference
from services.registry.handlers import consent as consents
from services.registry.schemas import AddressIn, PersonIn, PersonPatch
from services.registry.tables import (
    AuditEntry,
    Consent,
    DuplicateFlag,
    Household,
    IncomeRecord,
    Outbox,
    Person,
    Place,
    Trainer,
)
from shared.db import lock_aggregate
from shared.envelope import source_of
from shared.errors import Conflict, DomainError, Gone, NotFound
from shared.events import (
    HouseholdMemberLeft,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
)
from shared.outbox import stage

SOURCE = source_of("registry")
PERSONAL_FIELDS = (
    "national_id",
    "first_name_th",
    "last_name_th",
    "first_name_en",
    "last_name_en",
    "birth_date",
    "sex",
    "phone",
    "house_no",
    "street",
    "subdistrict",
    "district",
)
ADDRESS_FIELDS = ("house_no", "street", "village_code", "subdistrict", "district", "province_code")


@dataclass
class Registered:
    person: Person
    possible_duplicates: list[str] = field(default_factory=list)


async def check_place(session: AsyncSession, address: AddressIn) -> None:
    if not reference.is_province(address.province_code):
        raise DomainError(
            f"unknown province code {address.province_code!r}", field="address.province_code"
        )
    if address.village_code is None:
        return
    village = await session.get(Place, address.village_code)
    if village is None or village.kind != "village":
        raise DomainError(
            f"unknown village {address.village_code!r}; register it first (POST /places/villages)",
            field="address.village_code",
        )
    if village.province_code != address.province_code:
        raise DomainError(
            f"village {village.code} is in province {village.province_code}, "
            f"not {address.province_code}",
            field="address.village_code",
        )


async def existing_by_national_id(session: AsyncSession, national_id: str) -> Person | None:
    return (await session.exec(select(Person).where(Person.national_id == national_id))).first()


async def likely_duplicates(session: AsyncSession, person: Person) -> list[str]:
    """Active people with the same Thai name and birth date in the same province."""
    if person.birth_date is None:
        return []
    query = select(Person.person_id).where(
        Person.last_name_th == person.last_name_th,
        Person.first_name_th == person.first_name_th,
        Person.birth_date == person.birth_date,
        Person.province_code == person.province_code,
        Person.status == "active",
        Person.person_id != person.person_id,
    )
    return list((await session.exec(query)).all())


async def register_person(
    session: AsyncSession, actor: str, cmd: PersonIn, *, now: datetime | None = None
) -> Registered:
    now = now or datetime.now(UTC)
    existing = await existing_by_national_id(session, cmd.national_id)
    if existing is not None:
        raise Conflict(
            "a person with this national ID is already registered",
            field="national_id",
            existing_person_id=existing.person_id,
        )
    await check_place(session, cmd.address)
    person = Person(
        person_id=str(uuid.uuid4()),
        national_id=cmd.national_id,
        first_name_th=cmd.first_name_th,
        last_name_th=cmd.last_name_th,
        first_name_en=cmd.first_name_en,
        last_name_en=cmd.last_name_en,
        birth_date=cmd.birth_date,
        sex=cmd.sex,
        phone=cmd.phone,
        **cmd.address.model_dump(),
        registered_at=now,
        updated_at=now,
    )
    duplicates = await likely_duplicates(session, person)
    session.add(person)
    for candidate in duplicates:
        session.add(
            DuplicateFlag(
                flag_id=str(uuid.uuid4()),
                person_id=person.person_id,
                candidate_id=candidate,
                reason="same Thai name and birth date in the same province",
                flagged_at=now,
            )
        )
    stage(
        session,
        Outbox,
        PersonRegistered(
            person_id=person.person_id,
            province_code=cmd.address.province_code,
            village_code=cmd.address.village_code,
            birth_year=cmd.birth_date.year if cmd.birth_date else None,
            registered_at=now,
        ),
        source=SOURCE,
    )
    given = [name for name, value in cmd.model_dump(exclude={"consents"}).items() if value]
    audit.record(
        session,
        actor=actor,
        action="person.registered",
        entity_type="person",
        entity_id=person.person_id,
        fields=given,
        detail=f"{len(duplicates)} likely duplicate(s) flagged" if duplicates else None,
        at=now,
    )
    await session.flush()  # consents reference the person
    for grant in cmd.consents:
        await consents.grant(session, actor, person.person_id, grant, now=now)
    return Registered(person, duplicates)


async def active_person(session: AsyncSession, person_id: str) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}", field="person_id")
    if person.status == "erased":
        raise Gone(f"person {person_id} was erased", erased_at=person.erased_at)
    if person.status == "merged":
        raise Conflict(
            f"person {person_id} was merged into {person.merged_into}",
            survivor_id=person.merged_into,
        )
    return person


async def update_person(
    session: AsyncSession, actor: str, person_id: str, patch: PersonPatch
) -> Person:
    await lock_aggregate(session, f"registry:person:{person_id}")
    person = await active_person(session, person_id)
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True, exclude={"address"})
    if patch.address is not None:
        await check_place(session, patch.address)
        changes.update(patch.address.model_dump())
    changed = sorted(k for k, v in changes.items() if getattr(person, k) != v)
    if not changed:
        return person
    relocated = {"province_code", "village_code"} & set(changed)
    for name in changed:
        setattr(person, name, changes[name])
    person.updated_at = datetime.now(UTC)
    session.add(person)
    if relocated:
        assert person.province_code is not None  # active people always have one
        stage(
            session,
            Outbox,
            PersonRelocated(
                person_id=person_id,
                province_code=person.province_code,
                village_code=person.village_code,
                relocated_at=person.updated_at,
            ),
            source=SOURCE,
        )
    audit.record(
        session,
        actor=actor,
        action="person.updated",
        entity_type="person",
        entity_id=person_id,
        fields=changed,
    )
    return person


async def merge(session: AsyncSession, actor: str, survivor_id: str, merged_id: str) -> Person:
    """`merged_id` is the same human as `survivor_id`: retire it and point others at it."""
    if survivor_id == merged_id:
        raise DomainError("cannot merge a person into themselves", field="merged_id")
    for person_id in sorted((survivor_id, merged_id)):  # one order: no deadlock
        await lock_aggregate(session, f"registry:person:{person_id}")
    survivor = await active_person(session, survivor_id)
    merged = await active_person(session, merged_id)
    now = datetime.now(UTC)
    filled = [n for n in PERSONAL_FIELDS[1:] if getattr(survivor, n) is None and getattr(merged, n)]
    for name in filled:  # keep what only the retired record knew
        setattr(survivor, name, getattr(merged, name))
    if survivor.household_id is None and merged.household_id is not None:
        survivor.household_id = merged.household_id
        filled.append("household_id")
    survivor.updated_at = now
    for name in (*PERSONAL_FIELDS, "household_id"):
        setattr(merged, name, None)
    merged.status, merged.merged_into, merged.updated_at = "merged", survivor_id, now
    moved = (await session.exec(select(Consent).where(Consent.person_id == merged_id))).all()
    for consent in moved:
        consent.person_id = survivor_id
        session.add(consent)
    flags = await session.exec(
        select(DuplicateFlag).where(
            col(DuplicateFlag.person_id).in_((survivor_id, merged_id)),
            col(DuplicateFlag.candidate_id).in_((survivor_id, merged_id)),
        )
    )
    for flag in flags:
        flag.status, flag.resolved_at, flag.resolved_by = "merged", now, actor
        session.add(flag)
    session.add_all([survivor, merged])
    stage(
        session,
        Outbox,
        PersonMerged(person_id=merged_id, survivor_id=survivor_id, merged_at=now),
        source=SOURCE,
    )
    audit.record(
        session,
        actor=actor,
        action="person.merged-into",
        entity_type="person",
        entity_id=merged_id,
        fields=PERSONAL_FIELDS,
        detail=f"merged into {survivor_id}; {len(moved)} consent(s) moved",
        at=now,
    )
    audit.record(
        session,
        actor=actor,
        action="person.merged-from",
        entity_type="person",
        entity_id=survivor_id,
        fields=filled,
        detail=f"absorbed {merged_id}",
        at=now,
    )
    return survivor


async def dismiss_flag(session: AsyncSession, actor: str, flag_id: str) -> DuplicateFlag:
    flag = await session.get(DuplicateFlag, flag_id)
    if flag is None:
        raise NotFound(f"no duplicate flag {flag_id}", field="flag_id")
    if flag.status != "open":
        raise Conflict(f"flag {flag_id} is already {flag.status}")
    flag.status, flag.resolved_at, flag.resolved_by = "dismissed", datetime.now(UTC), actor
    session.add(flag)
    audit.record(
        session,
        actor=actor,
        action="duplicate.dismissed",
        entity_type="person",
        entity_id=flag.person_id,
        detail=f"not the same as {flag.candidate_id}",
    )
    return flag


async def duplicate_flags(session: AsyncSession, status: str = "open") -> list[DuplicateFlag]:
    query = select(DuplicateFlag).where(DuplicateFlag.status == status)
    return list((await session.exec(query.order_by(col(DuplicateFlag.flagged_at)))).all())


async def erase(session: AsyncSession, actor: str, person_id: str) -> Person:
    """PDPA erasure: blank the personal data, keep a tombstone, tell every service."""
    await lock_aggregate(session, f"registry:person:{person_id}")
    person = await active_person(session, person_id)
    now = datetime.now(UTC)
    household_id = person.household_id
    for name in (*PERSONAL_FIELDS, "household_id"):
        setattr(person, name, None)
    person.status, person.erased_at, person.updated_at = "erased", now, now
    session.add(person)
    await consents.close_all(session, person_id, reason="erased", now=now)
    trainers = await session.exec(select(Trainer).where(Trainer.person_id == person_id))
    for trainer in trainers:
        trainer.display_name, trainer.phone = None, None
        session.add(trainer)
    flags = await session.exec(
        select(DuplicateFlag).where(
            DuplicateFlag.status == "open",
            (DuplicateFlag.person_id == person_id) | (DuplicateFlag.candidate_id == person_id),
        )
    )
    for flag in flags:
        flag.status, flag.resolved_at, flag.resolved_by = "dismissed", now, actor
        session.add(flag)
    if household_id is not None:
        stage(
            session,
            Outbox,
            HouseholdMemberLeft(household_id=household_id, person_id=person_id, left_at=now),
            source=SOURCE,
        )
    stage(session, Outbox, PersonErased(person_id=person_id, erased_at=now), source=SOURCE)
    audit.record(
        session,
        actor=actor,
        action="person.erased",
        entity_type="person",
        entity_id=person_id,
        fields=PERSONAL_FIELDS,
        at=now,
    )
    return person


async def get_person(session: AsyncSession, person_id: str) -> tuple[Person, list[Consent]]:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}", field="person_id")
    if person.status == "erased":
        raise Gone(f"person {person_id} was erased", erased_at=person.erased_at)
    consents_ = (await session.exec(select(Consent).where(Consent.person_id == person_id))).all()
    return person, list(consents_)


async def subject_access(session: AsyncSession, actor: str, person_id: str) -> dict[str, Any]:
    """Everything the registry holds about a person (PDPA right of access)."""
    person, given = await get_person(session, person_id)
    household = await session.get(Household, person.household_id) if person.household_id else None
    incomes: list[IncomeRecord] = []
    if household is not None:
        incomes = list(
            (
                await session.exec(
                    select(IncomeRecord)
                    .where(IncomeRecord.household_id == household.household_id)
                    .order_by(col(IncomeRecord.recorded_at))
                )
            ).all()
        )
    trainers = (await session.exec(select(Trainer).where(Trainer.person_id == person_id))).all()
    history = (
        await session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "person", AuditEntry.entity_id == person_id)
            .order_by(col(AuditEntry.id))
        )
    ).all()
    audit.record(
        session, actor=actor, action="person.exported", entity_type="person", entity_id=person_id
    )
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "person": person.model_dump(mode="json"),
        "consents": [c.model_dump(mode="json") for c in given],
        "household": household.model_dump(mode="json") if household else None,
        "income_history": [i.model_dump(mode="json") for i in incomes],
        "trainer_records": [t.model_dump(mode="json") for t in trainers],
        "audit": [a.model_dump(mode="json") for a in history],
    }


async def counts(session: AsyncSession) -> dict[str, int]:
    by_status = dict(
        (await session.exec(select(Person.status, func.count()).group_by(col(Person.status)))).all()
    )
    consenting = (
        await session.exec(
            select(func.count(func.distinct(col(Consent.person_id)))).where(
                col(Consent.withdrawn_at).is_(None)
            )
        )
    ).one()
    households = (await session.exec(select(func.count()).select_from(Household))).one()
    return {
        "people": int(by_status.get("active", 0)),
        "people_merged": int(by_status.get("merged", 0)),
        "people_erased": int(by_status.get("erased", 0)),
        "people_with_consent": int(consenting),
        "households": int(households),
    }
