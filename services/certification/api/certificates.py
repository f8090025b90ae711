"""Certificates for operators: read (with the holder's name), revoke (admin), renew."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.api.deps import IssuingDep
from services.certification.handlers import certificates, lookups
from services.certification.handlers.certificates import Issuing
from services.certification.schemas import CertificateOut, RevocationIn
from services.certification.tables import Certificate
from shared.auth import AdminKey, Db, ReadKey, WriteKey


async def certificate_out(
    session: AsyncSession, row: Certificate, issuing: Issuing
) -> CertificateOut:
    issuer = issuing.issuer
    return CertificateOut(
        **row.model_dump(
            exclude={"status_index", "credential_issued_at"},
        ),
        holder_name=await lookups.holder_name(session, row.person_id),
        status=domain.status(row.valid_until, row.revoked_at is not None, certificates.today()),
        verification_url=issuer.verify_url(row.certificate_number),
        credential_url=issuer.credential_url(row.certificate_number),
    )


router = APIRouter(tags=["certificates"])


@router.get("/certificates", response_model=list[CertificateOut])
async def list_certificates(
    _: ReadKey,
    db: Db,
    issuing: IssuingDep,
    person_id: str | None = Query(None, max_length=36),
    occupation: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
) -> list[CertificateOut]:
    async with db.transaction() as session:
        rows = await lookups.certificates(session, person_id, occupation, limit)
        return [await certificate_out(session, r, issuing) for r in rows]


@router.get("/certificates/{number}", response_model=CertificateOut)
async def read_certificate(number: str, _: ReadKey, db: Db, issuing: IssuingDep) -> CertificateOut:
    async with db.transaction() as session:
        row = await lookups.certificate(session, number)
        return await certificate_out(session, row, issuing)


@router.post("/certificates/{number}/revocation", response_model=CertificateOut)
async def revoke(
    number: str, body: RevocationIn, who: AdminKey, db: Db, issuing: IssuingDep
) -> CertificateOut:
    async with db.transaction() as session:
        row = await certificates.revoke(session, number, body.reason, who)
        return await certificate_out(session, row, issuing)


@router.post("/certificates/{number}/renewal", response_model=CertificateOut)
async def renew(number: str, who: WriteKey, db: Db, issuing: IssuingDep) -> CertificateOut:
    async with db.transaction() as session:
        row = await certificates.renew(session, number, issuing, who)
        return await certificate_out(session, row, issuing)
