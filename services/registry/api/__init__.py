"""Registry HTTP routes, one module per concern; each parses, calls a handler, returns."""

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
from services.registry.api.deps import Deps


def install(app: FastAPI, deps: Deps) -> None:
    for module in (people, households, imports, audit, places, organisations, trainers):
        app.include_router(module.router(deps))
