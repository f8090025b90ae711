"""Places: shipped provinces and estates, registered villages and learning centres.

Reference data (provinces, estates, seed organisations) is upserted at start-up. A village
or learning centre is registered once: the same request again is a no-op, a different one
under the same code is a 409.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, reference
from services.registry.handlers import organisations
from services.registry.handlers.common import stage
from services.registry.schemas import LearningCentreIn, VillageIn
from services.registry.tables import Organisation, Place
from shared.db import Database, get_or_404, lock_aggregate, where_equal
from shared.errors import Conflict, DomainError
from shared.events import VillageRegistered

log = logging.getLogger(__name__)

# Fields that make a place what it is; a second registration must match them all.
_PLACE_FIELDS = (
    "kind",
    "name_en",
    "name_th",
    "province_code",
    "district",
    "tourism_class",
    "centre_type",
)


@dataclass(frozen=True)
class Registration:
    place: Place
    created: bool  # False: the identical place was already registered


# --- reference data at start-up --------------------------------------------------------


@dataclass(frozen=True)
class ReferenceLoad:
    inserted: int
    updated: int
    organisations_inserted: int
    clashes: list[str]  # codes held by a registered place of another kind


async def upsert_reference_data(
    session: AsyncSession, *, now: datetime | None = None
) -> ReferenceLoad:
    """Provinces and estates follow the shipped files; seed organisations are added once."""
    now = now or datetime.now(UTC)
    # Replicas starting together would otherwise race on the same primary keys.
    await lock_aggregate(session, "registry:reference-data")
    wanted = [
        Place(
            code=p.code,
            kind="province",
            name_en=p.name_en,
            name_th=p.name_th,
            province_code=p.code,
            registered_at=now,
        )
        for p in reference.PROVINCES.values()
    ] + [
        Place(
            code=e.code,
            kind="estate",
            name_en=e.name_en,
            name_th=e.name_th,
            province_code=e.province_code,
            registered_at=now,
        )
        for e in reference.ESTATES.values()
    ]
    existing = {
        p.code: p
        for p in (
            await session.exec(select(Place).where(col(Place.code).in_([w.code for w in wanted])))
        ).all()
    }
    inserted = updated = 0
    clashes: list[str] = []
    for place in wanted:
        have = existing.get(place.code)
        if have is None:
            session.add(place)
            inserted += 1
        elif have.kind != place.kind:
            clashes.append(place.code)
        elif _differs(have, place):
            # A corrected name in the shipped file replaces the old one.
            have.name_en, have.name_th = place.name_en, place.name_th
            have.province_code = place.province_code
            session.add(have)
            updated += 1
    if clashes:
        log.warning("reference places not loaded, codes taken by other places: %s", clashes)
    seeded = await _seed_organisations(session, now)
    return ReferenceLoad(inserted, updated, seeded, clashes)


async def _seed_organisations(session: AsyncSession, now: datetime) -> int:
    """Insert the missing ones and tell other services; never overwrite an operator's edit."""
    seeds = reference.SEED_ORGANISATIONS
    present = set(
        (
            await session.exec(
                select(Organisation.code).where(col(Organisation.code).in_(list(seeds)))
            )
        ).all()
    )
    added = 0
    for seed in seeds.values():
        if seed.code in present:
            continue
        organisations.add(session, seed, now)
        added += 1
    return added


async def load_reference_data(db: Database) -> None:
    """The start-up hook: one transaction, safe to run on every start and on every replica."""
    async with db.transaction() as session:
        result = await upsert_reference_data(session)
    log.info(
        "reference data: %d places inserted, %d updated, %d organisations added",
        result.inserted,
        result.updated,
        result.organisations_inserted,
    )


def _differs(have: Place, want: Place) -> bool:
    return any(getattr(have, name) != getattr(want, name) for name in _PLACE_FIELDS)


# --- registration ----------------------------------------------------------------------


async def _register(session: AsyncSession, actor: str, place: Place) -> Registration:
    await lock_aggregate(session, f"registry:place:{place.code}")
    have = await session.get(Place, place.code)
    if have is not None:
        if _differs(have, place):
            changed = [n for n in _PLACE_FIELDS if getattr(have, n) != getattr(place, n)]
            raise Conflict(
                f"place {place.code!r} is registered as a {have.kind} with other data "
                f"({', '.join(changed)})",
                field="code",
                existing_kind=have.kind,
            )
        return Registration(have, created=False)
    session.add(place)
    audit.record(
        session,
        actor=actor,
        action=f"{place.kind}.registered",
        entity_type="place",
        entity_id=place.code,
        fields=[n for n in _PLACE_FIELDS if n != "kind" and getattr(place, n) is not None],
        at=place.registered_at,
    )
    return Registration(place, created=True)


async def register_village(
    session: AsyncSession, actor: str, cmd: VillageIn, *, now: datetime | None = None
) -> Registration:
    now = now or datetime.now(UTC)
    reference.check_province(cmd.province_code)
    done = await _register(
        session,
        actor,
        Place(
            code=cmd.code,
            kind="village",
            name_en=cmd.name_en,
            name_th=cmd.name_th,
            province_code=cmd.province_code,
            district=cmd.district,
            tourism_class=cmd.tourism_class,
            registered_at=now,
        ),
    )
    if done.created:
        stage(
            session,
            VillageRegistered(
                village_code=cmd.code,
                name=cmd.name_en,
                province_code=cmd.province_code,
                district=cmd.district,
                tourism_class=cmd.tourism_class,
                registered_at=now,
            ),
        )
    return done


async def register_learning_centre(
    session: AsyncSession, actor: str, cmd: LearningCentreIn, *, now: datetime | None = None
) -> Registration:
    now = now or datetime.now(UTC)
    reference.check_province(cmd.province_code)
    reference.check_centre_type(cmd.centre_type)
    # No event: nothing downstream needs learning centres yet.
    return await _register(
        session,
        actor,
        Place(
            code=cmd.code,
            kind="learning-centre",
            name_en=cmd.name_en,
            name_th=cmd.name_th,
            province_code=cmd.province_code,
            district=cmd.district,
            centre_type=cmd.centre_type,
            registered_at=now,
        ),
    )


# --- reading ---------------------------------------------------------------------------


async def list_places(
    session: AsyncSession,
    *,
    kind: str | None = None,
    province_code: str | None = None,
    tourism_class: str | None = None,
    centre_type: str | None = None,
    after: str | None = None,
    limit: int = 1000,
) -> list[Place]:
    """Ordered by code; page with `after` = the last code of the previous page."""
    query = where_equal(
        select(Place),
        {
            Place.kind: kind,
            Place.province_code: province_code,
            Place.tourism_class: tourism_class,
            Place.centre_type: centre_type,
        },
        blank_is_unset=True,
    )
    if after:
        query = query.where(col(Place.code) > after)
    return list((await session.exec(query.order_by(col(Place.code)).limit(limit))).all())


async def get_place(session: AsyncSession, code: str) -> Place:
    return await get_or_404(session, Place, code, what="place", field="code")


async def get_village(session: AsyncSession, code: str, *, field: str = "village_code") -> Place:
    """A registered village, or a 422 naming `field` (for commands that refer to one)."""
    place = await session.get(Place, code)
    if place is None or place.kind != "village":
        raise DomainError(
            f"unknown village {code!r}; register it first (POST /places/villages)", field=field
        )
    return place
