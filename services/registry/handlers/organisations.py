"""Organisations taking part: programme owners, training partners, assessors, lenders, funds.

Registering one tells the other services (OrganisationRegistered); the same request again
is a no-op, different data under a known code is a 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, domain
from services.registry.handlers.common import stage
from services.registry.reference import SeedOrganisation
from services.registry.schemas import OrganisationIn
from services.registry.tables import Organisation
from shared.db import get_or_404, lock_aggregate
from shared.errors import Conflict
from shared.events import OrganisationRegistered

_FIELDS = ("kind", "name_en", "name_th")


@dataclass(frozen=True)
class Registration:
    organisation: Organisation
    created: bool


async def register(
    session: AsyncSession, actor: str, cmd: OrganisationIn, *, now: datetime | None = None
) -> Registration:
    now = now or datetime.now(UTC)
    domain.check_organisation_kind(cmd.kind)
    await lock_aggregate(session, f"registry:organisation:{cmd.code}")
    have = await session.get(Organisation, cmd.code)
    if have is not None:
        changed = [n for n in _FIELDS if getattr(have, n) != getattr(cmd, n)]
        if changed:
            raise Conflict(
                f"organisation {cmd.code!r} is registered with other data ({', '.join(changed)})",
                field="code",
            )
        return Registration(have, created=False)
    organisation = add(session, cmd, now)
    audit.record(
        session,
        actor=actor,
        action="organisation.registered",
        entity_type="organisation",
        entity_id=cmd.code,
        fields=[n for n in _FIELDS if getattr(cmd, n) is not None],
        at=now,
    )
    return Registration(organisation, created=True)


def add(
    session: AsyncSession, new: OrganisationIn | SeedOrganisation, now: datetime
) -> Organisation:
    """A new organisation's row and its OrganisationRegistered, in the caller's transaction:
    an operator's registration and the shipped seed alike."""
    organisation = Organisation(
        code=new.code, kind=new.kind, name_en=new.name_en, name_th=new.name_th, registered_at=now
    )
    session.add(organisation)
    stage(
        session,
        OrganisationRegistered(code=new.code, kind=new.kind, name=new.name_en, registered_at=now),
    )
    return organisation


async def list_organisations(
    session: AsyncSession, *, kind: str | None = None
) -> list[Organisation]:
    query = select(Organisation)
    if kind:
        query = query.where(Organisation.kind == kind)
    return list((await session.exec(query.order_by(col(Organisation.code)))).all())


async def get(session: AsyncSession, code: str) -> Organisation:
    return await get_or_404(session, Organisation, code, what="organisation", field="code")
