"""Certification HTTP routes, one module per concern; each parses, calls a handler, returns."""

from __future__ import annotations

from fastapi import FastAPI

from services.certification.api import assessments, certificates, public, standards
from services.certification.api.deps import Deps


def install(app: FastAPI, deps: Deps) -> None:
    for module in (standards, assessments, certificates, public):
        app.include_router(module.router(deps))
