"""The dashboard's routes: the figures as JSON and CSV (`figures`), the page and its
sign-in (`page`), and the read model's rebuild (`admin`)."""

from __future__ import annotations

from fastapi import FastAPI

from services.dashboard.api import admin, figures, page


def install(app: FastAPI) -> None:
    """Mount the routers; their dependencies are read from `app.state` (api/deps.py)."""
    for module in (figures, admin, page):
        app.include_router(module.router)
