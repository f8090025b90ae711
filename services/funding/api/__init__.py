"""Funding HTTP routes: operators (keys with roles) and partners (a key per lender)."""

from __future__ import annotations

from fastapi import FastAPI

from services.funding.api import catalogue, partner, referrals, webhooks
from services.funding.api.deps import Deps


def install(app: FastAPI, deps: Deps) -> None:
    for module in (catalogue, referrals, webhooks, partner):
        app.include_router(module.router(deps))
