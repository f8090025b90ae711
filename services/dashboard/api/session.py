"""Signing in to the page with an operator key (read role or higher).

`POST /login` checks the key as the JSON API does (shared.auth `ApiKeys`) and sets an HttpOnly,
SameSite=Strict cookie holding a random session token (`services.dashboard.sessions`); the key
itself never reaches the cookie. `POST /logout` ends the session. The JSON API keeps its
Bearer key; `session_or_key` lets a route take either (the CSV links the page shows).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, delete, select

from services.dashboard.api.render import page_lang, render
from services.dashboard.sessions import PageSession
from services.dashboard.settings import DashboardSettings
from shared.auth import (
    ApiKeys,
    Operator,
    Role,
    Unauthenticated,
    hash_token,
    keys_of,
    presented_key,
)
from shared.db import Database
from shared.http import app_state, guard

COOKIE = "dashboard_session"
# The login form is small; anything longer is not a key.
MAX_FORM_BYTES = 4096

router = APIRouter(tags=["page"], include_in_schema=False)


@dataclass(frozen=True)
class PageSessions:
    db: Database
    keys: ApiKeys
    hours: float

    async def start(self, operator: Operator) -> str:
        """A new session for `operator`; the token goes in the cookie, its hash in the table.
        Expired rows are cleared here, so the table holds only live sessions and a few more."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            await session.exec(delete(PageSession).where(col(PageSession.expires_at) < now))
            session.add(
                PageSession(
                    token_hash=hash_token(token),
                    key_id=operator.key_id,
                    created_at=now,
                    expires_at=now + timedelta(hours=self.hours),
                )
            )
        return token

    async def find(self, token: str | None) -> Operator | None:
        """Who holds this session: None if it is unknown, expired, or its key was revoked."""
        if not token:
            return None
        table = self.keys.table
        async with self.db.transaction() as session:
            found = (
                await session.exec(
                    select(PageSession, table)
                    .join(table, col(table.key_id) == col(PageSession.key_id))
                    .where(PageSession.token_hash == hash_token(token))
                )
            ).first()
        if found is None:
            return None
        row, key = found
        if row.expires_at <= datetime.now(UTC) or key.revoked_at is not None:
            return None
        return Operator(key_id=key.key_id, name=key.name, role=Role[key.role])

    async def end(self, token: str | None) -> None:
        if not token:
            return
        async with self.db.transaction() as session:
            await session.exec(
                delete(PageSession).where(col(PageSession.token_hash) == hash_token(token))
            )


def settings_of(request: Request) -> DashboardSettings:
    return app_state(request, "settings", DashboardSettings)


def sessions_of(request: Request) -> PageSessions:
    """Built from what the service already put on app.state (its db, keys and settings)."""
    return PageSessions(
        db=app_state(request, "db", Database),
        keys=keys_of(request),
        hours=settings_of(request).session_hours,
    )


async def signed_in(request: Request) -> Operator | None:
    """The person whose session cookie this request carries, if it is a live session."""
    return await sessions_of(request).find(request.cookies.get(COOKIE))


async def _session_or_key(request: Request) -> Operator:
    operator = await signed_in(request)
    if operator is not None:
        return operator
    return await keys_of(request).check(Role.read, presented_key(request))


async def _check(request: Request) -> Operator:
    return await _session_or_key(request)


# For routes a signed-in page links to (the CSV downloads): a session, else a read key.
session_or_key = guard(_session_or_key, {401, 403}, _check)
SessionOrReadKey = Annotated[Operator, Depends(session_or_key)]


async def require_session(request: Request) -> Operator:
    """For the page's own background requests (fragment, stream): 401 without a session."""
    operator = await signed_in(request)
    if operator is None:
        raise Unauthenticated("sign in at /login first")
    return operator


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def login_form(request: Request, *, error: str | None, next_path: str, status: int) -> Response:
    return render(
        request,
        "login.html",
        {"error": error, "next_path": safe_next(next_path)},
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    if await signed_in(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_form(request, error=None, next_path=next, status=200)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    # A urlencoded form of two fields, read here rather than through python-multipart.
    body = await request.body()
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    key = (fields.get("key") or [""])[0].strip()
    next_path = (fields.get("next") or ["/"])[0]
    if not key:
        return login_form(request, error="no_key", next_path=next_path, status=401)
    try:
        operator = await keys_of(request).check(Role.read, key)
    except Unauthenticated:
        return login_form(request, error="bad_key", next_path=next_path, status=401)
    settings = settings_of(request)
    token = await sessions_of(request).start(operator)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await sessions_of(request).end(request.cookies.get(COOKIE))
    response = RedirectResponse(f"/login?lang={page_lang(request)}", status_code=303)
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings_of(request).secure_cookies,
    )
    return response
