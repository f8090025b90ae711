"""Operators: referrals (list, read), counts and the replica's size."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Path, Query

from services.funding.domain import Status
from services.funding.handlers import lookups, referrals
from services.funding.schemas import BlockedOut, PersonReferralsOut, ReferralOut
from shared.auth import Db, ReadKey, read_out
from shared.types import Offset

router = APIRouter(tags=["referrals"])


@router.get("/referrals", response_model=list[ReferralOut])
async def list_referrals(
    _: ReadKey,
    db: Db,
    person_id: str | None = Query(None, max_length=36),
    lender_code: str | None = Query(None, max_length=32),
    product_code: str | None = Query(None, max_length=64),
    status: Status | None = Query(None),
    limit: int = Query(10_000, ge=1, le=100_000),
    offset: Offset = 0,
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
    return [ReferralOut.of(r) for r in rows]


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
async def read_referral(referral_id: str, _: ReadKey, db: Db) -> ReferralOut:
    async with db.transaction() as session:
        return ReferralOut.of(await referrals.get(session, referral_id))


@router.get("/people/{person_id}/referrals", response_model=PersonReferralsOut)
async def person_referrals(
    _: ReadKey, db: Db, person_id: str = Path(max_length=36)
) -> PersonReferralsOut:
    """The person's referrals, and under `blocked` each live product that a missing fact
    (birth date, household income, province) keeps from them, with the clause."""
    async with db.transaction() as session:
        view = await referrals.person_view(session, person_id, datetime.now(UTC))
    return PersonReferralsOut(
        person_id=person_id,
        referrals=[ReferralOut.of(r) for r in view.referrals],
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


_REPLICA = "How much of the registry and certification funding has seen (tests wait on it)."
read_out(router, "/counts", referrals.counts)
read_out(router, "/replica", lookups.replica_sizes, _REPLICA)
