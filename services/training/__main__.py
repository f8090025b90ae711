"""`python -m services.training`: the one place that wires the service."""

from __future__ import annotations

from pathlib import Path

from services.training import api
from services.training.consumers import HANDLERS
from services.training.settings import TrainingSettings
from services.training.tables import ApiKey, Inbox, Outbox
from shared import auth_api
from shared.auth import ApiKeys
from shared.runtime import Service


def build(settings: TrainingSettings | None = None) -> Service:
    settings = settings or TrainingSettings()
    service = Service(
        name="training",
        settings=settings,
        outbox=Outbox,
        inbox=Inbox,
        migrations=Path(__file__).parent / "migrations",
        handlers=HANDLERS,
    )
    keys = ApiKeys(service.db, ApiKey)
    auth_api.install(service, keys, settings.admin_key)
    api.install(service.app)
    return service


if __name__ == "__main__":
    build().run()
