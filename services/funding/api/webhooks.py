"""Operators: partner keys and webhook endpoints per lender, and the delivery queue."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from services.funding.api.deps import WebhookDestinations
from services.funding.handlers import partners, webhook_deliveries
from services.funding.schemas import (
    DeliveryOut,
    KeyIn,
    PartnerKeyCreated,
    PartnerKeyOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from shared.auth import AdminKey, Db, ReadKey

router = APIRouter(tags=["partner keys and webhooks"])


@router.post("/lenders/{code}/keys", status_code=201, response_model=PartnerKeyCreated)
async def create_key(code: str, body: KeyIn, who: AdminKey, db: Db) -> PartnerKeyCreated:
    """A key for this lender's systems; the token is shown once, only its hash kept."""
    async with db.transaction() as session:
        row, token = await partners.create_key(session, code, body.name, who)
    return PartnerKeyCreated(**PartnerKeyOut.of(row).model_dump(), token=token)


@router.get("/lenders/{code}/keys", response_model=list[PartnerKeyOut])
async def list_keys(code: str, _: AdminKey, db: Db) -> list[PartnerKeyOut]:
    async with db.transaction() as session:
        return [PartnerKeyOut.of(k) for k in await partners.keys(session, code)]


@router.delete("/lenders/{code}/keys/{key_id}", response_model=PartnerKeyOut)
async def revoke_key(code: str, key_id: str, who: AdminKey, db: Db) -> PartnerKeyOut:
    async with db.transaction() as session:
        return PartnerKeyOut.of(await partners.revoke_key(session, code, key_id, who))


@router.post("/lenders/{code}/webhooks", status_code=201, response_model=WebhookCreated)
async def add_webhook(
    code: str, body: WebhookIn, _: AdminKey, db: Db, destinations: WebhookDestinations
) -> WebhookCreated:
    """Events on the lender's topic are also POSTed here, signed (Standard Webhooks).

    HTTPS to a public address only (loopback, private, link-local, multicast and
    reserved addresses are refused, for the URL and for what its host resolves to),
    and only to the lender's allowed hosts when the operator set a list for it."""
    target = await destinations.check(code, str(body.url))  # DNS: not in a transaction
    async with db.transaction() as session:
        row = await webhook_deliveries.add_endpoint(session, code, target, body.secret)
    return WebhookCreated(**WebhookOut.of(row).model_dump(), secret=row.secret)


@router.get("/lenders/{code}/webhooks", response_model=list[WebhookOut])
async def list_webhooks(code: str, _: ReadKey, db: Db) -> list[WebhookOut]:
    async with db.transaction() as session:
        return [WebhookOut.of(e) for e in await webhook_deliveries.endpoints(session, code)]


@router.delete("/lenders/{code}/webhooks/{endpoint_id}", response_model=WebhookOut)
async def disable_webhook(code: str, endpoint_id: str, _: AdminKey, db: Db) -> WebhookOut:
    async with db.transaction() as session:
        return WebhookOut.of(await webhook_deliveries.disable_endpoint(session, code, endpoint_id))


@router.get("/webhook-deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    _: ReadKey,
    db: Db,
    lender_code: str | None = Query(None, max_length=32),
    status: Literal["pending", "delivered", "dead"] | None = Query(None),
    limit: int = Query(1000, ge=1, le=10_000),
) -> list[DeliveryOut]:
    """The webhook queue: `status=dead` lists what gave up after the last retry."""
    async with db.transaction() as session:
        rows = await webhook_deliveries.deliveries(session, lender_code, status, limit)
    return [DeliveryOut.of(r) for r in rows]
