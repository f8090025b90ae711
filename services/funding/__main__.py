"""`python -m services.funding`: the one place that wires the service."""

from __future__ import annotations

from pathlib import Path

from services.funding import api, handlers
from services.funding.consumers import HANDLERS
from services.funding.settings import FundingSettings
from services.funding.tables import Inbox, Outbox
from shared.runtime import Service
from shared.topics import partner_topic


def build(settings: FundingSettings | None = None) -> Service:
    service = Service(
        name="funding",
        settings=settings or FundingSettings(),
        outbox=Outbox,
        inbox=Inbox,
        migrations=Path(__file__).parent / "migrations",
        handlers=HANDLERS,
    )

    async def partner_topics() -> None:
        # The broker may have lost topics (the embedded one keeps nothing across restarts).
        async with service.db.transaction() as session:
            codes = await handlers.lender_codes(session)
        await service.ensure_topics([partner_topic(code) for code in codes])

    service.startup_hooks.append(partner_topics)
    api.install(service)
    return service


if __name__ == "__main__":
    build().run()
