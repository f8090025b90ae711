"""Households and their income history over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from services.registry.api.deps import Deps
from services.registry.handlers import households
from services.registry.schemas import HouseholdIn, IncomeIn
from shared.auth import Operator
from shared.types import Input


class MemberIn(Input):
    person_id: str


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["households"])
    db, settings = deps.db, deps.settings

    @api.post("/households", status_code=201)
    async def register(body: HouseholdIn, who: Operator = Depends(deps.writer)) -> dict[str, Any]:
        async with db.transaction() as session:
            household = await households.register(session, who.name, body, settings)
            return await households.read(session, household.household_id)

    @api.get("/households/{household_id}")
    async def read(household_id: str, _: Operator = Depends(deps.reader)) -> dict[str, Any]:
        async with db.transaction() as session:
            return await households.read(session, household_id)

    @api.post("/households/{household_id}/members", status_code=201)
    async def join(
        household_id: str, body: MemberIn, who: Operator = Depends(deps.writer)
    ) -> dict[str, Any]:
        async with db.transaction() as session:
            await households.add_member(session, who.name, household_id, body.person_id)
            return await households.read(session, household_id)

    @api.delete("/households/{household_id}/members/{person_id}")
    async def leave(
        household_id: str, person_id: str, who: Operator = Depends(deps.writer)
    ) -> dict[str, Any]:
        async with db.transaction() as session:
            await households.remove_member(session, who.name, household_id, person_id)
            return await households.read(session, household_id)

    @api.post("/households/{household_id}/income", status_code=201)
    async def income(
        household_id: str, body: IncomeIn, who: Operator = Depends(deps.writer)
    ) -> dict[str, Any]:
        async with db.transaction() as session:
            await households.record_income(
                session, who.name, household_id, body.monthly_income, settings
            )
            return await households.read(session, household_id)

    return api
