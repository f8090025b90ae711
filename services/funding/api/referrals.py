"""Operators: referrals (list, read), counts and the replica's size."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import func, select

from services.funding.api.deps import Deps
from services.funding.domain import Status
from services.funding.handlers import referrals
from services.funding.schemas import BlockedOut, PersonReferralsOut, ReferralOut
from services.funding.tables import (
    ConsentRecord,
    KnownHousehold,
    KnownMembership,
    KnownPerson,
    Qualification,
    Referral,
    SharedData,
)
from shared.auth import Operator
from shared.types import Offset


def referral_out(row: Referral) -> ReferralOut:
    return ReferralOut.model_validate(row, from_attributes=True)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["referrals"])
    db = deps.db

    @api.get("/referrals", response_model=list[ReferralOut])
    async def list_referrals(
        person_id: str | None = Query(None, max_length=36),
        lender_code: str | None = Query(None, max_length=32),
        product_code: str | None = Query(None, max_length=64),
        status: Status | None = Query(None),
        limit: int = Query(10_000, ge=1, le=100_000),
        offset: Offset = 0,
        _: Operator = Depends(deps.reader),
    ) -> list[ReferralOut]:
        async with db.transaction() as session:
            rows = await referrals.search(
                session,
                person_id=person_id,
                lender_code=lender_code,
                product_code=product_code,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
        return [referral_out(r) for r in rows]

    @api.get("/referrals/{referral_id}", response_model=ReferralOut)
    async def read_referral(referral_id: str, _: Operator = Depends(deps.reader)) -> ReferralOut:
        async with db.transaction() as session:
            return referral_out(await referrals.get(session, referral_id))

    @api.get("/people/{person_id}/referrals", response_model=PersonReferralsOut)
    async def person_referrals(
        person_id: str = Path(max_length=36), _: Operator = Depends(deps.reader)
    ) -> PersonReferralsOut:
        """The person's referrals, and under `blocked` each live product that a missing fact
        (birth date, household income, province) keeps from them, with the clause."""
        async with db.transaction() as session:
            view = await referrals.person_view(session, person_id, datetime.now(UTC))
        return PersonReferralsOut(
            person_id=person_id,
            referrals=[referral_out(r) for r in view.referrals],
            blocked=[
                BlockedOut(
                    product_code=b.product_code,
                    lender_code=b.lender_code,
                    rule_version=b.rule_version,
                    clause=b.clause.name,
                    missing=b.clause.missing or "",
                    text=b.clause.text,
                )
                for b in view.blocked
            ],
        )

    @api.get("/counts")
    async def counts(_: Operator = Depends(deps.reader)) -> dict[str, int]:
        async with db.transaction() as session:
            return await referrals.counts(session)

    @api.get("/replica")
    async def replica(_: Operator = Depends(deps.reader)) -> dict[str, int]:
        """How much of the registry and certification funding has seen (tests wait on it)."""
        async with db.transaction() as session:
            sizes = {}
            for name, table in (
                ("people", KnownPerson),
                ("memberships", KnownMembership),
                ("households", KnownHousehold),
                ("consents", ConsentRecord),
                ("shared_data", SharedData),
                ("qualifications", Qualification),
            ):
                sizes[name] = int(
                    (await session.exec(select(func.count()).select_from(table))).one()
                )
            return sizes

    return api
