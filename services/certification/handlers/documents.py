"""The signed documents the public routes serve: a certificate's credential and the
revocation status list."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import credentials, signing, status_list
from services.certification.credentials import Json
from services.certification.handlers import certificates
from services.certification.handlers.certificates import Issuing


async def signed_credential(
    session: AsyncSession, issuing: Issuing, key: signing.Key, number: str
) -> Json:
    """The certificate as a signed OpenBadgeCredential (eddsa-jcs-2022)."""
    _, facts = await certificates.facts(session, number)
    document = credentials.open_badge(issuing.issuer, facts)
    return credentials.signed(issuing.issuer, document, key, facts.credential_issued_at)


async def signed_status_list(
    session: AsyncSession, issuing: Issuing, key: signing.Key, now: datetime
) -> Json:
    """Bitstring Status List of revocations: bit `statusListIndex` set = revoked."""
    revoked = await certificates.revoked_indices(session)
    encoded = status_list.encode(revoked, issuing.status_list_size)
    document = credentials.status_list(issuing.issuer, encoded, now)
    return credentials.signed(issuing.issuer, document, key, now)
