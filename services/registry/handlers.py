"""Registry use cases: each runs inside the caller's unit of work and stages its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import domain
from services.registry.tables import Consent, Outbox, Person
from shared.envelope import source_of
from shared.errors import Conflict, DomainError, NotFound
from shared.events import ConsentGranted, PersonRegistered
from shared.outbox import stage

SOURCE = source_of("registry")


@dataclass(frozen=True)
class GrantConsent:
    purpose: str
    lender_code: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RegisterPerson:
    national_id: str
    first_name: str
    last_name: str
    province_code: str
    birth_date: date | None = None
    phone: str | None = None
    consents: tuple[GrantConsent, ...] = field(default_factory=tuple)


async def register_person(session: AsyncSession, cmd: RegisterPerson) -> Person:
    national_id = domain.national_id(cmd.national_id)
    existing = (
        await session.exec(select(Person.person_id).where(Person.national_id == national_id))
    ).first()
    if existing:
        raise Conflict(
            "a person with this national ID is already registered",
            field="national_id",
            existing_person_id=existing,
        )
    now = datetime.now(UTC)
    person = Person(
        person_id=str(uuid.uuid4()),
        national_id=national_id,
        first_name=cmd.first_name,
        last_name=cmd.last_name,
        birth_date=cmd.birth_date,
        province_code=cmd.province_code,
        phone=cmd.phone,
        registered_at=now,
    )
    session.add(person)
    await session.flush()  # the consents below reference it
    stage(
        session,
        Outbox,
        PersonRegistered(
            person_id=person.person_id, province_code=person.province_code, registered_at=now
        ),
        source=SOURCE,
    )
    for consent in cmd.consents:
        _grant(session, person.person_id, consent, now)
    return person


async def grant_consent(session: AsyncSession, person_id: str, cmd: GrantConsent) -> Consent:
    if await session.get(Person, person_id) is None:
        raise NotFound(f"no person {person_id}", field="person_id")
    return _grant(session, person_id, cmd, datetime.now(UTC))


def _grant(session: AsyncSession, person_id: str, cmd: GrantConsent, now: datetime) -> Consent:
    if cmd.purpose not in domain.PURPOSES:
        raise DomainError(
            f"unknown purpose {cmd.purpose!r}; expected one of {sorted(domain.PURPOSES)}",
            field="purpose",
        )
    consent = Consent(
        consent_id=str(uuid.uuid4()),
        person_id=person_id,
        purpose=cmd.purpose,
        lender_code=cmd.lender_code,
        granted_at=now,
        expires_at=cmd.expires_at,
    )
    session.add(consent)
    stage(
        session,
        Outbox,
        ConsentGranted(
            person_id=person_id,
            consent_id=consent.consent_id,
            purpose=consent.purpose,
            lender_code=consent.lender_code,
            granted_at=now,
            expires_at=consent.expires_at,
        ),
        source=SOURCE,
    )
    return consent


async def get_person(session: AsyncSession, person_id: str) -> tuple[Person, list[Consent]]:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}", field="person_id")
    consents = (await session.exec(select(Consent).where(Consent.person_id == person_id))).all()
    return person, list(consents)


async def counts(session: AsyncSession) -> dict[str, int]:
    people = (await session.exec(select(func.count()).select_from(Person))).one()
    consents = (await session.exec(select(func.count(func.distinct(col(Consent.person_id)))))).one()
    return {"people": int(people), "people_with_consent": int(consents)}
