"""Training HTTP routes, one module per concern; each parses, calls a handler, returns."""

from __future__ import annotations

from fastapi import FastAPI

from services.training.api import applications, programmes, records
from services.training.api.deps import Deps


def install(app: FastAPI, deps: Deps) -> None:
    for module in (programmes, applications, records):
        app.include_router(module.router(deps))
