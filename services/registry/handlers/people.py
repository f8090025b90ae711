"""People: registration, corrections, likely duplicates, merges, subject access, erasure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Date, RowMapping, Select, Text, and_, any_, bindparam, text
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, reference
from services.registry.handlers import consent as consents
from services.registry.handlers import sharing
from services.registry.handlers.common import Change, record_change, stage
from services.registry.schemas import AddressIn, PersonIn, PersonPatch
from services.registry.tables import (
    AuditEntry,
    Consent,
    DuplicateFlag,
    Household,
    IncomeRecord,
    Person,
    Place,
    Trainer,
)
from shared.db import count, get_or_404, lock_aggregate
from shared.errors import Conflict, DomainError, Gone
from shared.events import (
    HouseholdMemberLeft,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
)

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
_T = TypeVar("_T")


@dataclass
class Registered:
    person: Person
    possible_duplicates: list[str] = field(default_factory=list)


# Likely duplicates share these: Thai last and first name, birth date, province.
Likeness = tuple[str, str, date, str]
LIKELY_DUPLICATE = "same Thai name and birth date in the same province"
_IN_CHUNK = 500  # values per IN list: far below SQLite's and asyncpg's parameter limits


def _chunks(items: Sequence[_T], size: int = _IN_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _one_of(column: Mapped[Any], values: Sequence[str], postgres: bool) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `= ANY(one array)`, a statement prepared once,
    where an IN list of a thousand parameters is planned anew each time (~70 ms here)."""
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(Text)))
    return column.in_(values)


def _alike(
    keys: Sequence[Likeness], postgres: bool
) -> Select[str, str, str | None, str | None, date | None, str | None]:
    """People with any of these keys, joined to the keys so the likely-duplicate index serves
    each (SQLite scans the whole table for a row-value IN list). PostgreSQL: arrays."""
    wanted: Any
    if postgres:
        wanted = (
            func.unnest(
                bindparam(None, [k[0] for k in keys], type_=ARRAY(Text)),
                bindparam(None, [k[1] for k in keys], type_=ARRAY(Text)),
                bindparam(None, [k[2] for k in keys], type_=ARRAY(Date)),
                bindparam(None, [k[3] for k in keys], type_=ARRAY(Text)),
            )
            .table_valued("last", "first", "born", "province")
            .render_derived()
        )
    else:
        # One JSON parameter: a VALUES list of 2,000 parameters takes ~0.2 s to compile.
        given = [[last, first, born.isoformat(), province] for last, first, born, province in keys]
        wanted = (
            text(
                "SELECT json_extract(value, '$[0]') AS last, json_extract(value, '$[1]') AS first,"
                " json_extract(value, '$[2]') AS born, json_extract(value, '$[3]') AS province"
                " FROM json_each(:keys)"
            )
            .bindparams(keys=json.dumps(given, ensure_ascii=False))
            .columns(last=Text, first=Text, born=Text, province=Text)
            .cte("wanted")
        )
    return sa_select(
        col(Person.person_id),
        col(Person.status),
        col(Person.last_name_th),
        col(Person.first_name_th),
        col(Person.birth_date),
        col(Person.province_code),
    ).join(
        wanted,
        and_(
            col(Person.last_name_th) == wanted.c.last,
            col(Person.first_name_th) == wanted.c.first,
            col(Person.birth_date) == wanted.c.born,
            col(Person.province_code) == wanted.c.province,
        ),
    )


def person_values(cmd: PersonIn) -> dict[str, Any]:
    """The person's columns as a registration gives them (personal data and address)."""
    return {
        "national_id": cmd.national_id,
        "first_name_th": cmd.first_name_th,
        "last_name_th": cmd.last_name_th,
        "first_name_en": cmd.first_name_en,
        "last_name_en": cmd.last_name_en,
        "birth_date": cmd.birth_date,
        "sex": cmd.sex,
        "phone": cmd.phone,
        **cmd.address.model_dump(),
    }


def likeness(cmd: PersonIn) -> Likeness | None:
    if cmd.birth_date is None:
        return None
    return (cmd.last_name_th, cmd.first_name_th, cmd.birth_date, cmd.address.province_code)


@dataclass
class Known:
    """What registering people must read, loaded once for many of them.

    The HTTP API loads it for one person (three small queries, as before); the CSV importer
    for a batch, so a thousand rows cost three queries rather than three thousand.
    """

    # Active holders as read (plain rows: a re-import finds every person of the batch).
    by_national_id: dict[str, RowMapping] = field(default_factory=dict)
    registered: dict[str, str] = field(default_factory=dict)  # national ID -> id, added here
    alike: dict[Likeness, list[str]] = field(default_factory=dict)  # active person ids
    villages: dict[str, Place | None] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, cmds: Sequence[PersonIn]) -> Known:
        known = cls()
        postgres = session.get_bind().dialect.name == "postgresql"
        ids = sorted({c.national_id for c in cmds})
        conn = await session.connection()
        for part in _chunks(ids):
            found = await conn.execute(
                sa_select(Person.__table__).where(  # type: ignore[attr-defined]
                    _one_of(col(Person.national_id), part, postgres)
                )
            )
            known.by_national_id.update((p["national_id"], p) for p in found.mappings())
        keys = sorted({k for k in map(likeness, cmds) if k is not None})
        for keys_part in _chunks(keys):
            alike = await conn.execute(_alike(keys_part, postgres))
            for person_id, status, last, first, born, province in alike:
                # Filtered here, not in SQL: a status condition turns SQLite off the index.
                if status == "active" and last and first and born and province:
                    known.alike.setdefault((last, first, born, province), []).append(person_id)
        codes = sorted({c.address.village_code for c in cmds if c.address.village_code})
        known.villages = dict.fromkeys(codes)
        for part in _chunks(codes):
            for place in await session.exec(
                select(Place).where(_one_of(col(Place.code), part, postgres))
            ):
                known.villages[place.code] = place
        return known

    def remember(self, plan: Registration) -> None:
        """A person registered in this unit of work: later commands must see them too."""
        self.registered[plan.person["national_id"]] = plan.person_id
        if plan.likeness is not None:
            self.alike.setdefault(plan.likeness, []).append(plan.person_id)


@dataclass
class Registration:
    """A registration decided but not yet written: rows as plain values, so the HTTP API
    writes them as ORM objects and the importer as bulk inserts, from one set of rules."""

    person: dict[str, Any]
    flags: list[dict[str, Any]]
    event: PersonRegistered
    audit: dict[str, Any]  # keyword arguments of audit.record, less the actor
    likeness: Likeness | None

    @property
    def person_id(self) -> str:
        return str(self.person["person_id"])

    @property
    def change(self) -> Change:
        return Change(self.event, self.audit)

    @property
    def duplicates(self) -> list[str]:
        return [flag["candidate_id"] for flag in self.flags]


def check_address(address: AddressIn, village: Place | None) -> None:
    """The province exists; a village, when named, is registered and in that province."""
    reference.check_province(address.province_code, field="address.province_code")
    if address.village_code is None:
        return
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


async def check_place(session: AsyncSession, address: AddressIn) -> None:
    village = None
    if address.village_code is not None and reference.is_province(address.province_code):
        village = await session.get(Place, address.village_code)
    check_address(address, village)


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


def plan_registration(cmd: PersonIn, known: Known, *, now: datetime) -> Registration:
    """The rules of registering a person, without I/O: raises Conflict or DomainError."""
    holder = known.by_national_id.get(cmd.national_id)
    existing = holder["person_id"] if holder else known.registered.get(cmd.national_id)
    if existing is not None:
        raise Conflict(
            "a person with this national ID is already registered",
            field="national_id",
            existing_person_id=existing,
        )
    code = cmd.address.village_code
    check_address(cmd.address, known.villages.get(code) if code else None)
    person_id = str(uuid.uuid4())
    alike = likeness(cmd)
    duplicates = list(known.alike.get(alike, ())) if alike is not None else []
    given = [name for name, value in cmd.model_dump(exclude={"consents"}).items() if value]
    return Registration(
        person={
            "person_id": person_id,
            "status": "active",
            **person_values(cmd),
            "household_id": None,
            "merged_into": None,
            "registered_at": now,
            "updated_at": now,
            "erased_at": None,
        },
        flags=[
            {
                "flag_id": str(uuid.uuid4()),
                "person_id": person_id,
                "candidate_id": candidate,
                "reason": LIKELY_DUPLICATE,
                "status": "open",
                "flagged_at": now,
                "resolved_at": None,
                "resolved_by": None,
            }
            for candidate in duplicates
        ],
        event=PersonRegistered(
            person_id=person_id,
            province_code=cmd.address.province_code,
            village_code=cmd.address.village_code,
            birth_year=cmd.birth_date.year if cmd.birth_date else None,
            registered_at=now,
        ),
        audit={
            "action": "person.registered",
            "entity_type": "person",
            "entity_id": person_id,
            "fields": given,
            "detail": f"{len(duplicates)} likely duplicate(s) flagged" if duplicates else None,
            "at": now,
        },
        likeness=alike,
    )


async def register_person(
    session: AsyncSession,
    actor: str,
    cmd: PersonIn,
    *,
    now: datetime | None = None,
    known: Known | None = None,
) -> Registered:
    """Register one person; pass `known` (see Known.load) when registering many at once."""
    now = now or datetime.now(UTC)
    if known is None:
        known = await Known.load(session, [cmd])
    plan = plan_registration(cmd, known, now=now)
    person = Person(**plan.person)
    session.add(person)
    session.add_all([DuplicateFlag(**flag) for flag in plan.flags])
    record_change(session, actor, plan.change)
    known.remember(plan)
    if cmd.consents:
        await session.flush()  # consents reference the person
        for i, grant in enumerate(cmd.consents):
            await consents.grant(
                session, actor, person.person_id, grant, now=now, field_prefix=f"consents.{i}."
            )
    return Registered(person, plan.duplicates)


async def active_person(session: AsyncSession, person_id: str) -> Person:
    person = await get_or_404(
        session, Person, person_id, what="person", field="person_id", quoted=False
    )
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
            PersonRelocated(
                person_id=person_id,
                province_code=person.province_code,
                village_code=person.village_code,
                relocated_at=person.updated_at,
            ),
        )
    await sharing.reshare(session, [person_id], changed)
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
    # The moved consents now speak for the survivor: funding hears their data again.
    for consent in moved:
        await sharing.share(session, consent, now=now)
    stage(session, PersonMerged(person_id=merged_id, survivor_id=survivor_id, merged_at=now))
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
    flag = await get_or_404(
        session, DuplicateFlag, flag_id, what="duplicate flag", field="flag_id", quoted=False
    )
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
            HouseholdMemberLeft(household_id=household_id, person_id=person_id, left_at=now),
        )
    stage(session, PersonErased(person_id=person_id, erased_at=now))
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
    person = await get_or_404(
        session, Person, person_id, what="person", field="person_id", quoted=False
    )
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
    households = await count(session, Household)
    return {
        "people": int(by_status.get("active", 0)),
        "people_merged": int(by_status.get("merged", 0)),
        "people_erased": int(by_status.get("erased", 0)),
        "people_with_consent": int(consenting),
        "households": int(households),
    }
