"""`python -m services.funding`: the one place that wires the service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import api, tables, webhooks
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

    # HTTP clients for the life of the service: one per tick built a TLS context (the CA
    # bundle read and parsed) every webhook_poll_seconds, most of an idle funding's CPU.
    clients = webhooks.Clients(settings.webhook_timeout_seconds)

    async def deliver_webhooks() -> None:
        while await webhook_deliveries.deliver_due(db, clients, settings, destinations):
            pass

    service.shutdown_hooks.append(clients.aclose)
    service.every(settings.webhook_poll_seconds, deliver_webhooks, "webhook deliveries")
    return service


if __name__ == "__main__":
    build().run()
