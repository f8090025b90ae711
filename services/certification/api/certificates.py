"""Certificates for operators: read (with the holder's name), revoke (admin), renew."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import domain
from services.certification.api.deps import Deps
from services.certification.handlers import certificates
from services.certification.schemas import CertificateOut, RevocationIn
from services.certification.tables import Certificate, Holder
from shared.auth import Operator
from shared.errors import NotFound


async def certificate_out(session: AsyncSession, row: Certificate, deps: Deps) -> CertificateOut:
    holder = await session.get(Holder, row.person_id)
    issuer = deps.issuing.issuer
    return CertificateOut(
        **row.model_dump(
            exclude={"status_index", "credential_issued_at"},
        ),
        holder_name=holder.full_name if holder else None,
        status=domain.status(row.valid_until, row.revoked_at is not None, certificates.today()),
        verification_url=issuer.verify_url(row.certificate_number),
        credential_url=issuer.credential_url(row.certificate_number),
    )


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["certificates"])
    db = deps.db

    @api.get("/certificates", response_model=list[CertificateOut])
    async def list_certificates(
        person_id: str | None = Query(None, max_length=36),
        occupation: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        _: Operator = Depends(deps.reader),
    ) -> list[CertificateOut]:
        query = select(Certificate).order_by(col(Certificate.issued_at)).limit(limit)
        if person_id is not None:
            query = query.where(Certificate.person_id == person_id)
        if occupation is not None:
            query = query.where(Certificate.occupation == occupation)
        async with db.transaction() as session:
            rows = (await session.exec(query)).all()
            return [await certificate_out(session, r, deps) for r in rows]

    @api.get("/certificates/{number}", response_model=CertificateOut)
    async def read_certificate(number: str, _: Operator = Depends(deps.reader)) -> CertificateOut:
        async with db.transaction() as session:
            row = await session.get(Certificate, number)
            if row is None:
                raise NotFound(f"no certificate {number!r}", field="certificate_number")
            return await certificate_out(session, row, deps)

    @api.post("/certificates/{number}/revocation", response_model=CertificateOut)
    async def revoke(
        number: str, body: RevocationIn, _: Operator = Depends(deps.admin)
    ) -> CertificateOut:
        async with db.transaction() as session:
            row = await certificates.revoke(session, number, body.reason)
            return await certificate_out(session, row, deps)

    @api.post("/certificates/{number}/renewal", response_model=CertificateOut)
    async def renew(number: str, _: Operator = Depends(deps.writer)) -> CertificateOut:
        async with db.transaction() as session:
            row = await certificates.renew(session, number, deps.issuing)
            return await certificate_out(session, row, deps)

    return api
