"""`python -m services.training`: the one place that wires the service."""

from __future__ import annotations

from services.training import api, tables
from services.training.consumers import HANDLERS
from services.training.settings import TrainingSettings
from shared.runtime import Service


def build(settings: TrainingSettings | None = None) -> Service:
    settings = settings or TrainingSettings()
    service = Service(name="training", settings=settings, tables=tables, handlers=HANDLERS)
    api.install(service.app)
    return service


if __name__ == "__main__":
    build().run()
