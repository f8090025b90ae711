"""The partner API: a lender's systems, with a key scoped to that lender.

A lender sees only its own referrals (another lender's answers 404, as if it did not exist,
and so does one held for consent). Every write needs an `Idempotency-Key`: the same key and
body again returns the stored answer; the same key with another body is refused (422).
Reading a referral for the first time counts as its delivery (channel "api").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.api.deps import PartnerLender, partner_of
from services.funding.domain import Status
from services.funding.handlers import partner_api, referrals, subject_access
from services.funding.idempotency import fingerprint
from services.funding.schemas import (
    AcknowledgeIn,
    DecisionIn,
    DisbursementIn,
    PartnerReferralOut,
    ReferralOut,
)
from services.funding.tables import Referral
from shared.auth import Db
from shared.db import Database
from shared.types import Offset

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Required on writes: a retry with the same key returns the first answer",
    ),
]


async def partner_out(
    session: AsyncSession, referral: Referral, now: datetime
) -> PartnerReferralOut:
    applicant = await referrals.applicant(session, referral.person_id, referral.lender_code, now)
    subject_access.record_disclosure(session, referral, applicant, now, via="api")
    return PartnerReferralOut(**ReferralOut.of(referral).model_dump(), applicant=applicant)


async def _answer(session: AsyncSession, referral: Referral, now: datetime) -> dict[str, Any]:
    return (await partner_out(session, referral, now)).model_dump(mode="json")


async def write(
    db: Database,
    lender: str,
    referral_id: str,
    request: Request,
    key: str | None,
    body: BaseModel,
    action: partner_api.Action,
    audited: str,
) -> JSONResponse:
    payload: Any = body.model_dump(mode="json")
    cmd = partner_api.Write(
        lender,
        referral_id,
        key,
        fingerprint(request.method, request.url.path, payload),
        by=partner_of(request),
    )
    answer = await partner_api.write(db, cmd, action, _answer, audited)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, answer.status_code, headers=headers)


router = APIRouter(prefix="/partner", tags=["partner API"])


@router.get("/referrals", response_model=list[PartnerReferralOut])
async def list_referrals(
    lender: PartnerLender,
    db: Db,
    status: Status | None = Query(None),
    limit: int = Query(500, ge=1, le=5000),
    offset: Offset = 0,
) -> list[PartnerReferralOut]:
    now = datetime.now(UTC)
    async with db.transaction() as session:
        rows = await partner_api.delivered_listing(session, lender, status, limit, offset, now)
        return [await partner_out(session, row, now) for row in rows]


@router.get("/referrals/{referral_id}", response_model=PartnerReferralOut)
async def read_referral(referral_id: str, lender: PartnerLender, db: Db) -> PartnerReferralOut:
    now = datetime.now(UTC)
    async with db.transaction() as session:
        referral = await partner_api.own(session, lender, referral_id)
        await referrals.deliver(session, referral, "api", now)
        return await partner_out(session, referral, now)


@router.post("/referrals/{referral_id}/acknowledge", response_model=PartnerReferralOut)
async def acknowledge(
    referral_id: str,
    request: Request,
    lender: PartnerLender,
    db: Db,
    body: AcknowledgeIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await write(
        db,
        lender,
        referral_id,
        request,
        idempotency_key,
        body or AcknowledgeIn(),
        referrals.acknowledge,
        "referral.acknowledged",
    )


@router.post("/referrals/{referral_id}/decision", response_model=PartnerReferralOut)
async def decide(
    referral_id: str,
    body: DecisionIn,
    request: Request,
    lender: PartnerLender,
    db: Db,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve (with an amount, optional) or decline (with a coded reason)."""
    action = partner_api.decision(body.decision, body.amount, body.reason_code)
    audited = f"referral.{body.decision}"  # approved | declined
    return await write(db, lender, referral_id, request, idempotency_key, body, action, audited)


@router.post("/referrals/{referral_id}/disbursement", response_model=PartnerReferralOut)
async def disburse(
    referral_id: str,
    body: DisbursementIn,
    request: Request,
    lender: PartnerLender,
    db: Db,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    action = partner_api.disbursement(body.amount, body.disbursed_on)
    audited = "referral.disbursed"
    return await write(db, lender, referral_id, request, idempotency_key, body, action, audited)
