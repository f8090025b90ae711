"""`python -m services.training`: the one place that wires the service."""

from __future__ import annotations

from pathlib import Path

from services.training import api
from services.training.consumers import HANDLERS
from services.training.settings import TrainingSettings
from services.training.tables import Inbox, Outbox
from shared.runtime import Service


def build(settings: TrainingSettings | None = None) -> Service:
    service = Service(
        name="training",
        settings=settings or TrainingSettings(),
        outbox=Outbox,
        inbox=Inbox,
        migrations=Path(__file__).parent / "migrations",
        handlers=HANDLERS,
    )
    api.install(service.app, service.db)
    return service


if __name__ == "__main__":
    build().run()
