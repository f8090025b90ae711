"""`python -m services.registry`: wires settings, database, broker, relay and HTTP in one place."""

from __future__ import annotations

from pathlib import Path

from services.registry import api
from services.registry.settings import RegistrySettings
from services.registry.tables import Inbox, Outbox
from shared.runtime import Service


def build(settings: RegistrySettings | None = None) -> Service:
    service = Service(
        name="registry",
        settings=settings or RegistrySettings(),
        outbox=Outbox,
        inbox=Inbox,
        migrations=Path(__file__).parent / "migrations",
    )
    api.install(service.app, service.db)
    return service


if __name__ == "__main__":
    build().run()
