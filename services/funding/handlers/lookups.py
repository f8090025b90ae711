"""Reads the operator routes need: lenders and products in code order, the replica's size."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
    Lender,
    Product,
    Qualification,
    SharedData,
)
from shared.db import count


async def lenders(session: AsyncSession) -> Sequence[Lender]:
    return (await session.exec(select(Lender).order_by(col(Lender.code)))).all()


async def products(session: AsyncSession) -> Sequence[Product]:
    return (await session.exec(select(Product).order_by(col(Product.code)))).all()


async def replica_sizes(session: AsyncSession) -> dict[str, int]:
    """How much of the registry and certification funding has seen (tests wait on it)."""
    sizes = {}
    for name, table in (
        ("people", KnownPerson),
        ("memberships", KnownMembership),
        ("households", KnownHousehold),
        ("consents", ConsentRecord),
        ("shared_data", SharedData),
        ("qualifications", Qualification),
    ):
        sizes[name] = await count(session, table)
    return sizes
