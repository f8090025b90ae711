"""Training HTTP routes, one module per concern; each parses, calls a handler, returns."""

from __future__ import annotations

from fastapi import FastAPI

from services.training.api import applications, programmes, records, subject_access


def install(app: FastAPI) -> None:
    """Mount the routers; their dependencies (keys, database) are read from `app.state`."""
    for module in (programmes, applications, records, subject_access):
        app.include_router(module.router)
