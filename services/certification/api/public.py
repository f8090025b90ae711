"""Public, keyless, rate-limited: what a lender needs to check a certificate without
calling anyone. The verification page (JSON, or HTML for a browser that scanned the QR),
the QR code, the signed credential, the signed revocation status list and the issuer's
public keys (did:web document)."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from typing import Literal

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.certification import credentials
from services.certification.api.deps import IssuingDep, KeyringDep, RateLimited
from services.certification.handlers import documents, verification
from services.certification.handlers.certificates import Issuing
from services.certification.schemas import VerificationOut
from shared.auth import Db
from shared.db import Database

VC_MEDIA_TYPE = "application/vc+ld+json"  # VC Data Model 2.0's media type for credentials
DID_MEDIA_TYPE = "application/did+json"


def _page(v: VerificationOut) -> str:
    colour = {"valid": "#1b7f3b", "expired": "#8a6d00", "revoked": "#b00020"}[v.status]
    rows = [
        ("Certificate", v.certificate_number),
        ("Qualification", f"{v.standard_title} ({v.standard_code})"),
        ("Level", f"{v.level} of 8"),
        ("Holder", v.holder_initials or "(not shown)"),
        ("Issued", v.issued_on.isoformat()),
        ("Valid until", v.valid_until.isoformat()),
    ]
    if v.revoked_on:
        rows.append(("Revoked", v.revoked_on.isoformat()))
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(val)}</td></tr>" for k, val in rows
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Certificate {html.escape(v.certificate_number)}</title></head>"
        "<body style='font-family:sans-serif;max-width:36em;margin:2em auto'>"
        f"<h1 style='color:{colour}'>{html.escape(v.status.upper())}</h1>"
        f"<table>{cells}</table>"
        f"<p><a href='{html.escape(v.credential_url)}'>Signed credential</a> · "
        f"<a href='{html.escape(v.status_list_url)}'>Revocation list</a></p>"
        "</body></html>"
    )


def _qr(url: str, kind: Literal["svg", "png"]) -> Response:
    code = segno.make(url, error="m")
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=8, border=2)
    media = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(buffer.getvalue(), media_type=media)


router = APIRouter(tags=["public verification"], dependencies=[RateLimited])


async def verified(db: Database, issuing: Issuing, number: str) -> VerificationOut:
    async with db.transaction() as session:
        found = await verification.verify(session, number)
    issuer = issuing.issuer
    return VerificationOut(
        **found.__dict__,
        credential_url=issuer.credential_url(number),
        status_list_url=issuer.status_list_url(),
        issuer=issuer.did,
    )


@router.get(
    "/verify/{number}",
    response_model=VerificationOut,
    responses={200: {"content": {"text/html": {}}}},
)
async def verify(number: str, request: Request, db: Db, issuing: IssuingDep) -> Response:
    """JSON by default; the HTML page when the client asks for text/html (a phone)."""
    found = await verified(db, issuing, number)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_page(found))
    return JSONResponse(found.model_dump(mode="json"))


@router.get("/verify/{number}/qr.{kind}", responses={200: {"content": {"image/png": {}}}})
async def qr(number: str, kind: Literal["svg", "png"], db: Db, issuing: IssuingDep) -> Response:
    """A QR code of the public verification page's address."""
    await verified(db, issuing, number)  # 404 for an unknown number: no QR of a dead link
    return _qr(issuing.issuer.verify_url(number), kind)


@router.get("/credentials/{number}", responses={200: {"content": {VC_MEDIA_TYPE: {}}}})
async def credential(number: str, db: Db, issuing: IssuingDep, keyring: KeyringDep) -> Response:
    """The certificate as a signed OpenBadgeCredential (eddsa-jcs-2022)."""
    async with db.transaction() as session:
        body = await documents.signed_credential(session, issuing, keyring.key, number)
    return JSONResponse(body, media_type=VC_MEDIA_TYPE)


@router.get(
    f"/status-lists/{credentials.STATUS_LIST_ID}",
    responses={200: {"content": {VC_MEDIA_TYPE: {}}}},
)
async def revocation_list(db: Db, issuing: IssuingDep, keyring: KeyringDep) -> Response:
    """Bitstring Status List of revocations: bit `statusListIndex` set = revoked."""
    async with db.transaction() as session:
        body = await documents.signed_status_list(session, issuing, keyring.key, datetime.now(UTC))
    # Verifiers may cache briefly; a revocation shows within this many seconds.
    return JSONResponse(
        body, media_type=VC_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"}
    )


@router.get("/.well-known/did.json", responses={200: {"content": {DID_MEDIA_TYPE: {}}}})
async def did_document(issuing: IssuingDep, keyring: KeyringDep) -> Response:
    """The issuer's public keys (Multikey), for checking credentials offline."""
    return JSONResponse(
        credentials.did_document(issuing.issuer, keyring.published), media_type=DID_MEDIA_TYPE
    )


@router.get("/did.json", include_in_schema=False)
async def did_document_with_path(issuing: IssuingDep, keyring: KeyringDep) -> Response:
    # did:web with a path (a public URL below the host root) resolves to <url>/did.json.
    return await did_document(issuing, keyring)
