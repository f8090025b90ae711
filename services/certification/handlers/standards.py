"""Occupational standards: shipped as data (data/standards.json), more added by operators.

A standard is immutable once created: the same request again returns it, a different one
for an existing code (or occupation and level) is a 409. Certificates refer to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification.tables import Standard
from shared import occupations
from shared.db import Database, lock_aggregate, where_equal
from shared.errors import Conflict, DomainError

SHIPPED = Path(__file__).parent.parent / "data" / "standards.json"


@dataclass(frozen=True)
class NewStandard:
    code: str
    occupation: str
    occupation_title: str
    level: int
    title: str
    valid_years: int
    units: list[dict[str, Any]]  # [{code, title, required}]


@dataclass(frozen=True)
class Created:
    row: Standard
    created: bool


def _check_units(units: list[dict[str, Any]]) -> None:
    codes = [u["code"] for u in units]
    if len(set(codes)) != len(codes):
        raise DomainError("a unit code appears twice", field="units")
    if not any(u["required"] for u in units):
        raise DomainError("a standard needs at least one required unit", field="units")


async def create(session: AsyncSession, cmd: NewStandard, *, source: str = "operator") -> Created:
    occupations.check(cmd.occupation, "occupation")  # training offers only these
    _check_units(cmd.units)
    wanted = {k: v for k, v in cmd.__dict__.items() if k != "code"}
    existing = await session.get(Standard, cmd.code)
    if existing is not None:
        differs = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
        if differs:
            raise Conflict(
                f"standard {cmd.code!r} exists with different {', '.join(differs)}",
                field=differs[0],
                differs=differs,
            )
        return Created(existing, created=False)
    taken = (
        await session.exec(
            select(Standard).where(
                Standard.occupation == cmd.occupation, Standard.level == cmd.level
            )
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"{cmd.occupation} level {cmd.level} already has standard {taken.code!r}",
            field="level",
            existing_code=taken.code,
        )
    row = Standard(code=cmd.code, source=source, created_at=datetime.now(UTC), **wanted)
    session.add(row)
    return Created(row, created=True)


def shipped() -> list[NewStandard]:
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return [NewStandard(**entry) for entry in data["standards"]]


async def load_shipped(db: Database) -> None:
    """Start-up: add the shipped standards that are not there yet (operators' stay)."""
    async with db.transaction() as session:
        await lock_aggregate(session, "certification:standards")  # replicas starting together
        have = set((await session.exec(select(Standard.code))).all())
        for cmd in shipped():
            if cmd.code not in have:
                await create(session, cmd, source="shipped")


async def listing(
    session: AsyncSession, occupation: str | None = None, level: int | None = None
) -> list[Standard]:
    query = select(Standard).order_by(col(Standard.occupation), col(Standard.level))
    filters = {Standard.occupation: occupation, Standard.level: level}
    return list((await session.exec(where_equal(query, filters))).all())
