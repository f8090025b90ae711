"""`python -m services.certification`: the one place that wires the service."""

from __future__ import annotations

from pathlib import Path

from services.certification import api
from services.certification.consumers import handlers_for
from services.certification.settings import CertificationSettings
from services.certification.tables import Inbox, Outbox
from shared.runtime import Service


def build(settings: CertificationSettings | None = None) -> Service:
    settings = settings or CertificationSettings()
    service = Service(
        name="certification",
        settings=settings,
        outbox=Outbox,
        inbox=Inbox,
        migrations=Path(__file__).parent / "migrations",
        handlers=handlers_for(settings),
    )
    api.install(service.app, service.db, settings.certificate_valid_years)
    return service


if __name__ == "__main__":
    build().run()
