"""The partner API: a lender's systems, with a key scoped to that lender.

A lender sees only its own referrals (another lender's answers 404, as if it did not exist,
and so does one held for consent). Every write needs an `Idempotency-Key`: the same key and
body again returns the stored answer; the same key with another body is refused (422).
Reading a referral for the first time counts as its delivery (channel "api").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.api.deps import Deps
from services.funding.api.referrals import referral_out
from services.funding.domain import Status
from services.funding.handlers import partners, referrals
from services.funding.idempotency import fingerprint
from services.funding.schemas import (
    AcknowledgeIn,
    DecisionIn,
    DisbursementIn,
    PartnerReferralOut,
)
from services.funding.tables import Referral
from shared.errors import DomainError, NotFound
from shared.types import Offset

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Required on writes: a retry with the same key returns the first answer",
    ),
]
Action = Callable[[AsyncSession, Referral, datetime], Awaitable[None]]


async def _own(session: AsyncSession, lender: str, referral_id: str) -> Referral:
    """This lender's referral, locked for a change; 404 for anyone else's (no existence leak)."""
    referral = await session.get(Referral, referral_id)
    if referral is None or referral.lender_code != lender or referral.status == Status.HELD:
        raise NotFound(f"no referral {referral_id}", field="referral_id")
    return await referrals.locked(session, referral_id)


async def partner_out(
    session: AsyncSession, referral: Referral, now: datetime
) -> PartnerReferralOut:
    applicant = await referrals.applicant(session, referral.person_id, referral.lender_code, now)
    return PartnerReferralOut(**referral_out(referral).model_dump(), applicant=applicant)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(prefix="/partner", tags=["partner API"])
    db = deps.db

    async def write(
        lender: str,
        referral_id: str,
        request: Request,
        key: str | None,
        body: BaseModel,
        action: Action,
    ) -> JSONResponse:
        if not key:
            raise DomainError("an Idempotency-Key header is required", field="Idempotency-Key")
        payload: Any = body.model_dump(mode="json")
        print_ = fingerprint(request.method, request.url.path, payload)
        async with db.transaction() as session:
            stored = await partners.replay(session, lender, key, print_)
            if stored is not None:
                return JSONResponse(
                    stored.response, stored.status_code, headers={"Idempotent-Replayed": "true"}
                )
            now = datetime.now(UTC)
            referral = await _own(session, lender, referral_id)
            await action(session, referral, now)
            answer = (await partner_out(session, referral, now)).model_dump(mode="json")
            partners.remember(session, lender, key, print_, 200, answer)
        return JSONResponse(answer, 200)

    @api.get("/referrals", response_model=list[PartnerReferralOut])
    async def list_referrals(
        status: Status | None = Query(None),
        limit: int = Query(500, ge=1, le=5000),
        offset: Offset = 0,
        lender: str = Depends(deps.partner),
    ) -> list[PartnerReferralOut]:
        now = datetime.now(UTC)
        async with db.transaction() as session:
            rows = await referrals.search(
                session,
                lender_code=lender,
                status=status.value if status else None,
                exclude_held=True,
                limit=limit,
                offset=offset,
            )
            out = []
            for row in rows:
                if row.status == Status.CREATED:
                    row = await referrals.locked(session, row.referral_id)
                    await referrals.deliver(session, row, "api", now)
                out.append(await partner_out(session, row, now))
            return out

    @api.get("/referrals/{referral_id}", response_model=PartnerReferralOut)
    async def read_referral(
        referral_id: str, lender: str = Depends(deps.partner)
    ) -> PartnerReferralOut:
        now = datetime.now(UTC)
        async with db.transaction() as session:
            referral = await _own(session, lender, referral_id)
            await referrals.deliver(session, referral, "api", now)
            return await partner_out(session, referral, now)

    @api.post("/referrals/{referral_id}/acknowledge", response_model=PartnerReferralOut)
    async def acknowledge(
        referral_id: str,
        request: Request,
        body: AcknowledgeIn | None = None,
        idempotency_key: IdempotencyKey = None,
        lender: str = Depends(deps.partner),
    ) -> JSONResponse:
        return await write(
            lender,
            referral_id,
            request,
            idempotency_key,
            body or AcknowledgeIn(),
            referrals.acknowledge,
        )

    @api.post("/referrals/{referral_id}/decision", response_model=PartnerReferralOut)
    async def decide(
        referral_id: str,
        body: DecisionIn,
        request: Request,
        idempotency_key: IdempotencyKey = None,
        lender: str = Depends(deps.partner),
    ) -> JSONResponse:
        """Approve (with an amount, optional) or decline (with a coded reason)."""

        async def action(session: AsyncSession, referral: Referral, now: datetime) -> None:
            if body.decision == "approved":
                await referrals.approve(session, referral, body.amount, now)
                return
            if not body.reason_code:
                raise DomainError("a decline needs a reason_code", field="reason_code")
            await referrals.decline(session, referral, body.reason_code, now)

        return await write(lender, referral_id, request, idempotency_key, body, action)

    @api.post("/referrals/{referral_id}/disbursement", response_model=PartnerReferralOut)
    async def disburse(
        referral_id: str,
        body: DisbursementIn,
        request: Request,
        idempotency_key: IdempotencyKey = None,
        lender: str = Depends(deps.partner),
    ) -> JSONResponse:
        async def action(session: AsyncSession, referral: Referral, now: datetime) -> None:
            await referrals.disburse(session, referral, body.amount, body.disbursed_on, now)

        return await write(lender, referral_id, request, idempotency_key, body, action)

    return api
