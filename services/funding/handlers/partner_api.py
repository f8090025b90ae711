"""What the partner API does for a lender: its own referrals only (reading one counts as
its delivery, channel "api"), and idempotent writes (docs: services/funding/api/partner.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.domain import Status
from services.funding.handlers import partners, referrals
from services.funding.tables import AuditEntry, Referral
from shared import audit
from shared.audit import Actor
from shared.db import Database
from shared.errors import DomainError, NotFound

Action = Callable[[AsyncSession, Referral, datetime], Awaitable[None]]
Render = Callable[[AsyncSession, Referral, datetime], Awaitable[dict[str, Any]]]


async def own(session: AsyncSession, lender: str, referral_id: str) -> Referral:
    """This lender's referral, locked for a change; 404 for anyone else's (no existence leak)."""
    referral = await session.get(Referral, referral_id)
    if referral is None or referral.lender_code != lender or referral.status == Status.HELD:
        raise NotFound(f"no referral {referral_id}", field="referral_id")
    return await referrals.locked(session, referral_id)


async def delivered_listing(
    session: AsyncSession,
    lender: str,
    status: Status | None,
    limit: int,
    offset: int,
    now: datetime,
) -> Sequence[Referral]:
    """The lender's referrals (never one held for consent); listing one counts as delivery."""
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
        out.append(row)
    return out


@dataclass(frozen=True)
class Answer:
    body: Any
    status_code: int
    replayed: bool


@dataclass(frozen=True)
class Write:
    """One partner write: who, on which referral, under which Idempotency-Key and request
    fingerprint."""

    lender: str
    referral_id: str
    key: str | None
    fingerprint: str
    by: Actor  # the partner key, recorded in the audit log with what it did


async def write(db: Database, cmd: Write, action: Action, render: Render, audited: str) -> Answer:
    """Apply `action` once per Idempotency-Key: the same key and request again returns the
    stored answer (another request under the same key is refused by `partners.replay`).
    The first time, an audit entry `audited` (e.g. "referral.approved") is written with it."""
    if not cmd.key:
        raise DomainError("an Idempotency-Key header is required", field="Idempotency-Key")
    async with db.transaction() as session:
        stored = await partners.replay(session, cmd.lender, cmd.key, cmd.fingerprint)
        if stored is not None:
            return Answer(stored.response, stored.status_code, replayed=True)
        now = datetime.now(UTC)
        referral = await own(session, cmd.lender, cmd.referral_id)
        await action(session, referral, now)
        audit.record(
            session,
            AuditEntry,
            cmd.by,
            audited,
            ("referral", cmd.referral_id),
            fields=["status"],
            detail=f"status {referral.status}",
        )
        answer = await render(session, referral, now)
        partners.remember(session, cmd.lender, cmd.key, cmd.fingerprint, 200, answer)
    return Answer(answer, 200, replayed=False)


def decision(decision: str, amount: int | None, reason_code: str | None) -> Action:
    """Approve (with an amount, optional) or decline (with a coded reason)."""

    async def action(session: AsyncSession, referral: Referral, now: datetime) -> None:
        if decision == "approved":
            await referrals.approve(session, referral, amount, now)
            return
        if not reason_code:
            raise DomainError("a decline needs a reason_code", field="reason_code")
        await referrals.decline(session, referral, reason_code, now)

    return action


def disbursement(amount: int, disbursed_on: date) -> Action:
    async def action(session: AsyncSession, referral: Referral, now: datetime) -> None:
        await referrals.disburse(session, referral, amount, disbursed_on, now)

    return action
