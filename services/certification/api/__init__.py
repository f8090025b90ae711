"""Certification HTTP routes, one module per concern; each parses, calls a handler, returns."""

from __future__ import annotations

from fastapi import FastAPI

from services.certification.api import (
    assessments,
    certificates,
    public,
    standards,
    subject_access,
)


def install(app: FastAPI) -> None:
    """Mount the routers; their dependencies are read from `app.state` (see api/deps.py)."""
    for module in (standards, assessments, certificates, public, subject_access):
        app.include_router(module.router)
