"""Partner keys (one lender each, stored hashed) and Idempotency-Key records."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.handlers import catalogue
from services.funding.tables import AuditEntry, IdempotentRequest, PartnerKey
from shared import audit
from shared.audit import Actor
from shared.auth import hash_token
from shared.db import lock_aggregate
from shared.errors import Conflict, DomainError, NotFound

TOKEN_PREFIX = "sbp_"  # partner keys look different from operator keys (sbk_)


async def create_key(
    session: AsyncSession, lender_code: str, name: str, by: Actor
) -> tuple[PartnerKey, str]:
    """A new key for one lender; the token is returned once, only its hash is kept. `by`
    (the operator) is recorded in the audit log."""
    await catalogue.lender(session, lender_code)
    clash = await session.exec(
        select(PartnerKey).where(PartnerKey.lender_code == lender_code, PartnerKey.name == name)
    )
    if clash.first() is not None:
        raise Conflict(f"lender {lender_code} has a key named {name!r}", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = PartnerKey(
        key_id=secrets.token_hex(8),
        lender_code=lender_code,
        name=name,
        secret_hash=hash_token(token),
        created_at=datetime.now(UTC),
    )
    session.add(key)
    audit.record(
        session,
        AuditEntry,
        by,
        "partner-key.created",
        ("partner-key", key.key_id),
        detail=f"lender {lender_code}: {name}",
    )
    return key, token


async def keys(session: AsyncSession, lender_code: str) -> list[PartnerKey]:
    rows = await session.exec(
        select(PartnerKey)
        .where(PartnerKey.lender_code == lender_code)
        .order_by(col(PartnerKey.created_at))
    )
    return list(rows.all())


async def revoke_key(session: AsyncSession, lender_code: str, key_id: str, by: Actor) -> PartnerKey:
    key = await session.get(PartnerKey, key_id)
    if key is None or key.lender_code != lender_code:
        raise NotFound(f"lender {lender_code} has no key {key_id}", field="key_id")
    if key.revoked_at is None:  # revoking again changes nothing, so records nothing
        key.revoked_at = datetime.now(UTC)
        session.add(key)
        audit.record(
            session,
            AuditEntry,
            by,
            "partner-key.revoked",
            ("partner-key", key_id),
            detail=f"lender {lender_code}: {key.name}",
        )
    return key


@dataclass(frozen=True)
class Partner:
    """A lender's system calling the partner API: the audit log's actor ("lender:<code>")
    with its key's id."""

    lender_code: str
    key_id: str

    @property
    def name(self) -> str:
        return f"lender:{self.lender_code}"


async def partner_of(session: AsyncSession, token: str) -> Partner | None:
    """The lender and key behind a live key, or None."""
    key = (
        await session.exec(select(PartnerKey).where(PartnerKey.secret_hash == hash_token(token)))
    ).first()
    if key is None or key.revoked_at is not None:
        return None
    return Partner(key.lender_code, key.key_id)


class IdempotencyMismatch(DomainError):
    """422: the key was used for a different request."""

    code = "idempotency-mismatch"
    title = "The Idempotency-Key was used for another request"


async def replay(
    session: AsyncSession, lender_code: str, key: str, fingerprint: str
) -> IdempotentRequest | None:
    """The stored answer to this key, if it was used before (with the same request)."""
    await lock_aggregate(session, f"funding:idempotency:{lender_code}:{key}")
    stored = await session.get(IdempotentRequest, (lender_code, key))
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyMismatch(
            "this Idempotency-Key was used for a different request", field="Idempotency-Key"
        )
    return stored


def remember(
    session: AsyncSession,
    lender_code: str,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    session.add(
        IdempotentRequest(
            lender_code=lender_code,
            key=key,
            fingerprint=fingerprint,
            status_code=status_code,
            response=response,
            created_at=datetime.now(UTC),
        )
    )
