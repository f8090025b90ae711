"""Registry HTTP routes, one module-level router per concern; each parses, calls a handler,
maps errors."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import (
    audit,
    households,
    imports,
    organisations,
    people,
    places,
    trainers,
)


def install(app: FastAPI) -> None:
    for module in (people, households, imports, audit, places, organisations, trainers):
        app.include_router(module.router)
