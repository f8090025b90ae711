"""`python -m services.registry`: wires settings, database, broker, relay and HTTP in one place."""

from __future__ import annotations

from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import api, tables
from services.registry.consumers import HANDLERS
from services.registry.handlers import consent, imports, places
from services.registry.settings import RegistrySettings
from shared.runtime import Service


def build(settings: RegistrySettings | None = None) -> Service:
    settings = settings or RegistrySettings()
    service = Service(name="registry", settings=settings, tables=tables, handlers=HANDLERS)
    service.body_limits["/imports"] = settings.import_max_body_bytes
    service.startup_hooks.append(partial(places.load_reference_data, service.db))
    service.app.state.settings = settings  # what api.deps.Settings reads
    api.install(service.app)

    async def expire_page(session: AsyncSession, size: int) -> int:
        return await consent.expire_due(session, limit=size)

    service.sweep("consent expiry", settings.consent_sweep_seconds, expire_page)
    # CSV imports: woken by each upload (imports.wake_event), resumes interrupted jobs.
    service.background.append(partial(imports.run_worker, service.db, settings))
    return service


if __name__ == "__main__":
    build().run()
