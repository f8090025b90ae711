"""Households and their income history over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.registry.api.deps import Settings
from services.registry.handlers import households
from services.registry.schemas import HouseholdIn, IncomeIn, MemberIn
from shared.auth import Db, ReadKey, WriteKey

router = APIRouter(tags=["households"])


@router.post("/households", status_code=201)
async def register(body: HouseholdIn, who: WriteKey, db: Db, settings: Settings) -> dict[str, Any]:
    async with db.transaction() as session:
        household = await households.register(session, who.name, body, settings)
        return await households.read(session, household.household_id)


@router.get("/households/{household_id}")
async def read(household_id: str, _: ReadKey, db: Db) -> dict[str, Any]:
    async with db.transaction() as session:
        return await households.read(session, household_id)


@router.post("/households/{household_id}/members", status_code=201)
async def join(household_id: str, body: MemberIn, who: WriteKey, db: Db) -> dict[str, Any]:
    async with db.transaction() as session:
        await households.add_member(session, who.name, household_id, body.person_id)
        return await households.read(session, household_id)


@router.delete("/households/{household_id}/members/{person_id}")
async def leave(household_id: str, person_id: str, who: WriteKey, db: Db) -> dict[str, Any]:
    async with db.transaction() as session:
        await households.remove_member(session, who.name, household_id, person_id)
        return await households.read(session, household_id)


@router.post("/households/{household_id}/income", status_code=201)
async def income(
    household_id: str, body: IncomeIn, who: WriteKey, db: Db, settings: Settings
) -> dict[str, Any]:
    async with db.transaction() as session:
        await households.record_income(
            session, who.name, household_id, body.monthly_income, settings
        )
        return await households.read(session, household_id)
