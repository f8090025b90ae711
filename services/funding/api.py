"""Funding HTTP routes (operators' side; the partner API comes with its own keys later)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.funding import handlers
from shared.runtime import Service
from shared.topics import partner_topic

LenderCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class LenderIn(BaseModel):
    code: LenderCode
    name: str = Field(min_length=1, max_length=200)


class RuleIn(BaseModel):
    occupations: list[Code] = Field(min_length=1)
    min_level: int = Field(default=1, ge=1, le=8)


class ProductIn(BaseModel):
    code: Code
    lender_code: LenderCode
    name: str = Field(min_length=1, max_length=200)
    rule: RuleIn


class ReferralOut(BaseModel):
    referral_id: str
    person_id: str
    product_code: str
    lender_code: str
    certificate_number: str
    matched_clauses: list[str]
    status: str
    created_at: datetime


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["funding"])
    db = service.db

    @api.post("/lenders", status_code=201)
    async def create_lender(body: LenderIn) -> dict[str, str]:
        async with db.transaction() as session:
            await handlers.create_lender(session, body.code, body.name)
        topic = partner_topic(body.code)
        await service.ensure_topics([topic])
        return {"code": body.code, "topic": topic}

    @api.post("/products", status_code=201)
    async def create_product(body: ProductIn) -> dict[str, str]:
        async with db.transaction() as session:
            await handlers.create_product(
                session,
                handlers.CreateProduct(
                    code=body.code,
                    lender_code=body.lender_code,
                    name=body.name,
                    occupations=body.rule.occupations,
                    min_level=body.rule.min_level,
                ),
            )
        return {"code": body.code}

    @api.get("/referrals", response_model=list[ReferralOut])
    async def referrals(
        person_id: str | None = None, lender_code: str | None = None
    ) -> list[ReferralOut]:
        async with db.transaction() as session:
            found = await handlers.referrals(session, person_id, lender_code)
        return [ReferralOut.model_validate(r, from_attributes=True) for r in found]

    @api.get("/counts")
    async def counts() -> dict[str, int]:
        async with db.transaction() as session:
            return await handlers.counts(session)

    return api


def install(service: Service) -> None:
    service.app.include_router(router(service))
