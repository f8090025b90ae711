"""PDPA consent: purpose-specific grants with a receipt, withdrawal, expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit, domain
from services.registry.handlers import sharing
from services.registry.handlers.common import Change, stage
from services.registry.schemas import ConsentIn
from services.registry.tables import Consent, Organisation, Person
from shared.db import get_or_404
from shared.errors import Conflict, DomainError, Gone, NotFound
from shared.events import ConsentGranted, ConsentWithdrawn, copied

# What both consent events say of the consent.
_TOLD = ("person_id", "consent_id", "purpose", "lender_code")


def planned(person_id: str, cmd: ConsentIn, now: datetime) -> tuple[dict[str, Any], Change]:
    """A grant's consent row and its change (ConsentGranted and the audit entry), without
    I/O: `grant` stages them, a CSV import batch adds them to its bulk inserts."""
    row: dict[str, Any] = {
        "consent_id": str(uuid.uuid4()),
        "person_id": person_id,
        "purpose": cmd.purpose,
        "lender_code": cmd.lender_code,
        "data_categories": ",".join(cmd.data_categories),
        "granted_at": now,
        "expires_at": cmd.expires_at,
        "withdrawn_at": None,
        "withdrawal_reason": None,
    }
    event = ConsentGranted(
        person_id=person_id,
        consent_id=row["consent_id"],
        purpose=cmd.purpose,
        lender_code=cmd.lender_code,
        data_categories=list(cmd.data_categories),
        granted_at=now,
        expires_at=cmd.expires_at,
    )
    entry = {
        "action": "consent.granted",
        "entity_type": "consent",
        "entity_id": row["consent_id"],
        "detail": f"person {person_id}; purpose {cmd.purpose}; lender {cmd.lender_code or 'any'}",
        "at": now,
    }
    return row, Change(event, entry)


async def grant(
    session: AsyncSession,
    actor: str,
    person_id: str,
    cmd: ConsentIn,
    *,
    now: datetime | None = None,
    field_prefix: str = "",
) -> Consent:
    now = now or datetime.now(UTC)
    if cmd.expires_at is not None and cmd.expires_at <= now:
        raise DomainError("expiry must be in the future", field=f"{field_prefix}expires_at")
    if cmd.lender_code is not None:
        await _known_lender(session, cmd.lender_code, f"{field_prefix}lender_code")
    row, change = planned(person_id, cmd, now)
    consent = Consent(**row)
    session.add(consent)
    stage(session, change.event)
    await sharing.share(session, consent, now=now)
    audit.record(session, actor=actor, **change.audit)
    return consent


async def _known_lender(session: AsyncSession, code: str, field: str) -> None:
    """A consent names a lender the registry knows: an organisation of a lending kind (the
    shipped GSB, SME D Bank, TCG and Village Fund, or one an operator registered)."""
    organisation = await session.get(Organisation, code)  # cached per session: bulk is cheap
    if organisation is None or organisation.kind not in domain.LENDER_KINDS:
        what = "no such organisation" if organisation is None else f"kind {organisation.kind}"
        raise DomainError(
            f"{code!r} is not a known lender ({what}); consent can name an organisation of "
            f"kind {' or '.join(sorted(domain.LENDER_KINDS))} registered at /organisations, "
            "or no lender (any partner lender)",
            field=field,
        )


async def grant_for(session: AsyncSession, actor: str, person_id: str, cmd: ConsentIn) -> Consent:
    person = await get_or_404(
        session, Person, person_id, what="person", field="person_id", quoted=False
    )
    if person.status != "active":
        raise Gone(f"person {person_id} is {person.status}")
    return await grant(session, actor, person_id, cmd)


def _close(session: AsyncSession, consent: Consent, reason: str, now: datetime, actor: str) -> None:
    consent.withdrawn_at, consent.withdrawal_reason = now, reason
    session.add(consent)
    audit.record(
        session,
        actor=actor,
        action=f"consent.{reason}",
        entity_type="consent",
        entity_id=consent.consent_id,
        detail=f"person {consent.person_id}",
        at=now,
    )


async def withdraw(session: AsyncSession, actor: str, person_id: str, consent_id: str) -> Consent:
    consent = await session.get(Consent, consent_id)
    if consent is None or consent.person_id != person_id:
        raise NotFound(f"person {person_id} has no consent {consent_id}", field="consent_id")
    if consent.withdrawn_at is not None:
        raise Conflict(
            f"consent {consent_id} already ended ({consent.withdrawal_reason})",
            withdrawn_at=consent.withdrawn_at.isoformat(),
        )
    now = datetime.now(UTC)
    _close(session, consent, "withdrawn", now, actor)
    stage(session, _withdrawn_event(consent, "withdrawn", now))
    return consent


async def close_all(session: AsyncSession, person_id: str, *, reason: str, now: datetime) -> int:
    """End every open consent of a person without events (PersonErased says it for them)."""
    open_ = await session.exec(
        select(Consent).where(Consent.person_id == person_id, col(Consent.withdrawn_at).is_(None))
    )
    closed = 0
    for consent in open_:
        _close(session, consent, reason, now, "registry")
        closed += 1
    return closed


async def expire_due(session: AsyncSession, now: datetime | None = None, limit: int = 500) -> int:
    """End consents whose expiry passed; run on a schedule. Returns how many it ended."""
    now = now or datetime.now(UTC)
    due = await session.exec(
        select(Consent)
        .where(col(Consent.withdrawn_at).is_(None), col(Consent.expires_at) <= now)
        .limit(limit)
    )
    expired = 0
    for consent in due:
        _close(session, consent, "expired", now, "registry")
        stage(session, _withdrawn_event(consent, "expired", now))
        expired += 1
    return expired


def _withdrawn_event(consent: Consent, reason: str, now: datetime) -> ConsentWithdrawn:
    return ConsentWithdrawn(**copied(consent, *_TOLD), reason=reason, withdrawn_at=now)
