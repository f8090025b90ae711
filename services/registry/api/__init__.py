"""Registry HTTP routes, one module-level router per concern; each parses, calls a handler,
maps errors. `GET /audit` is shared.audit_api's, mounted by shared.runtime."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import (
    households,
    imports,
    organisations,
    people,
    places,
    trainers,
)


def install(app: FastAPI) -> None:
    for module in (people, households, imports, places, organisations, trainers):
        app.include_router(module.router)
