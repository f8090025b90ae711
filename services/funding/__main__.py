"""`python -m services.funding`: the one place that wires the service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import api, tables
from services.funding.consumers import HANDLERS
from services.funding.handlers import catalogue, referrals, webhook_deliveries
from services.funding.settings import FundingSettings
from shared.runtime import Service
from shared.topics import partner_topic

PAGE = 500


def build(settings: FundingSettings | None = None) -> Service:
    settings = settings or FundingSettings()
    service = Service(name="funding", settings=settings, tables=tables, handlers=HANDLERS)
    db = service.db
    seed_document = catalogue.load_seed()

    async def seed_and_topics() -> None:
        async with db.transaction() as session:
            if settings.seed_catalogue:
                await catalogue.seed(session, seed_document)
            codes = await catalogue.lender_codes(session)
        # The broker may have lost topics (the embedded one keeps nothing across restarts).
        await service.ensure_topics([partner_topic(code) for code in codes])

    async def ensure_partner_topics(names: Sequence[str]) -> None:
        await service.ensure_topics(names)

    service.startup_hooks.append(seed_and_topics)
    destinations = settings.webhook_destinations()
    # What the routers' dependencies (api/deps.py) read back.
    service.app.state.ensure_topics = ensure_partner_topics
    service.app.state.destinations = destinations
    api.install(service.app)

    async def expire_page(session: AsyncSession, size: int) -> int:
        return await referrals.expire_due(session, datetime.now(UTC), size)

    async def delivered_by_topic() -> None:
        async with db.transaction() as session:
            await referrals.mark_delivered_by_topic(session, datetime.now(UTC), PAGE)

    service.sweep("referral expiry", settings.expiry_sweep_seconds, expire_page, PAGE)
    service.every(settings.delivery_sweep_seconds, delivered_by_topic, "topic delivery")

    # One HTTP client for the life of the service: one per tick built a TLS context (the CA
    # bundle read and parsed) every webhook_poll_seconds, most of an idle funding's CPU.
    client: httpx.AsyncClient | None = None

    async def open_client() -> None:
        nonlocal client
        client = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)

    async def close_client() -> None:
        if client is not None:
            await client.aclose()

    async def webhooks() -> None:
        assert client is not None  # opened by a startup hook, before background jobs start
        while await webhook_deliveries.deliver_due(db, client, settings, destinations):
            pass

    service.startup_hooks.append(open_client)
    service.shutdown_hooks.append(close_client)
    service.every(settings.webhook_poll_seconds, webhooks, "webhook deliveries")
    return service


if __name__ == "__main__":
    build().run()
