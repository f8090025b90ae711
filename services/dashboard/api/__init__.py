"""The dashboard's routes: the figures as JSON and CSV (`figures`), the page and its
sign-in (`page`), and the read model's rebuild (`admin`)."""

from __future__ import annotations

from fastapi import FastAPI

from services.dashboard.api import page


def install(app: FastAPI) -> None:
    for module in (page,):
        app.include_router(module.router)
