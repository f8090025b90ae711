"""`python -m services.dashboard`: the one place that wires the service."""

from __future__ import annotations

from services.dashboard import api, consumers, figures, tables
from services.dashboard.live import Changes
from services.dashboard.rebuild import Rebuild
from services.dashboard.settings import DashboardSettings
from shared.runtime import Service


def build(settings: DashboardSettings | None = None) -> Service:
    settings = settings or DashboardSettings()
    service = Service(
        name="dashboard", settings=settings, tables=tables, handlers=consumers.HANDLERS
    )
    assert service.consumer is not None
    changes = Changes()
    service.consumer.on_applied.append(changes.bump)
    rebuild = Rebuild(service.db, service.consumer, settings, changes.bump)
    service.shutdown_hooks.append(rebuild.stop)
    # What the routers' dependencies (api/deps.py) read back.
    service.app.state.changes = changes
    service.app.state.rebuild = rebuild
    service.app.state.figures = figures.Cached(changes)
    service.app.state.settings = settings
    api.install(service.app)
    return service


if __name__ == "__main__":
    build().run()
