"""Operators: partner keys and webhook endpoints per lender, and the delivery queue."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from services.funding.api.deps import Deps
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
from services.funding.tables import PartnerKey, WebhookEndpoint
from shared.auth import Operator


def _key(row: PartnerKey) -> PartnerKeyOut:
    return PartnerKeyOut.model_validate(row, from_attributes=True)


def _endpoint(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut.model_validate(row, from_attributes=True)


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["partner keys and webhooks"])
    db = deps.db

    @api.post("/lenders/{code}/keys", status_code=201, response_model=PartnerKeyCreated)
    async def create_key(
        code: str, body: KeyIn, _: Operator = Depends(deps.admin)
    ) -> PartnerKeyCreated:
        """A key for this lender's systems; the token is shown once, only its hash kept."""
        async with db.transaction() as session:
            row, token = await partners.create_key(session, code, body.name)
        return PartnerKeyCreated(**_key(row).model_dump(), token=token)

    @api.get("/lenders/{code}/keys", response_model=list[PartnerKeyOut])
    async def list_keys(code: str, _: Operator = Depends(deps.admin)) -> list[PartnerKeyOut]:
        async with db.transaction() as session:
            return [_key(k) for k in await partners.keys(session, code)]

    @api.delete("/lenders/{code}/keys/{key_id}", response_model=PartnerKeyOut)
    async def revoke_key(
        code: str, key_id: str, _: Operator = Depends(deps.admin)
    ) -> PartnerKeyOut:
        async with db.transaction() as session:
            return _key(await partners.revoke_key(session, code, key_id))

    @api.post("/lenders/{code}/webhooks", status_code=201, response_model=WebhookCreated)
    async def add_webhook(
        code: str, body: WebhookIn, _: Operator = Depends(deps.admin)
    ) -> WebhookCreated:
        """Events on the lender's topic are also POSTed here, signed (Standard Webhooks).

        HTTPS to a public address only (loopback, private, link-local, multicast and
        reserved addresses are refused, for the URL and for what its host resolves to),
        and only to the lender's allowed hosts when the operator set a list for it."""
        target = await deps.destinations.check(code, str(body.url))  # DNS: not in a transaction
        async with db.transaction() as session:
            row = await webhook_deliveries.add_endpoint(session, code, target, body.secret)
        return WebhookCreated(**_endpoint(row).model_dump(), secret=row.secret)

    @api.get("/lenders/{code}/webhooks", response_model=list[WebhookOut])
    async def list_webhooks(code: str, _: Operator = Depends(deps.reader)) -> list[WebhookOut]:
        async with db.transaction() as session:
            return [_endpoint(e) for e in await webhook_deliveries.endpoints(session, code)]

    @api.delete("/lenders/{code}/webhooks/{endpoint_id}", response_model=WebhookOut)
    async def disable_webhook(
        code: str, endpoint_id: str, _: Operator = Depends(deps.admin)
    ) -> WebhookOut:
        async with db.transaction() as session:
            return _endpoint(await webhook_deliveries.disable_endpoint(session, code, endpoint_id))

    @api.get("/webhook-deliveries", response_model=list[DeliveryOut])
    async def list_deliveries(
        lender_code: str | None = Query(None, max_length=32),
        status: Literal["pending", "delivered", "dead"] | None = Query(None),
        limit: int = Query(1000, ge=1, le=10_000),
        _: Operator = Depends(deps.reader),
    ) -> list[DeliveryOut]:
        """The webhook queue: `status=dead` lists what gave up after the last retry."""
        async with db.transaction() as session:
            rows = await webhook_deliveries.deliveries(session, lender_code, status, limit)
        return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]

    return api
