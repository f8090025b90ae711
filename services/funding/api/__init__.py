"""Funding HTTP routes: operators (keys with roles) and partners (a key per lender)."""

from __future__ import annotations

from fastapi import FastAPI

from services.funding.api import catalogue, partner, referrals, subject_access, webhooks


def install(app: FastAPI) -> None:
    """Mount the routers; their dependencies are read from `app.state` (see api/deps.py)."""
    for module in (catalogue, referrals, webhooks, partner, subject_access):
        app.include_router(module.router)
