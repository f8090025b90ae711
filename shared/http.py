"""HTTP conventions shared by every service: error bodies with field-level messages, health."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from shared.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _field_path(tuple(err["loc"])), "message": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={"error": "invalid_request", "message": "request is invalid", "fields": fields},
        )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, object] = {"error": type(exc).__name__, "message": exc.message}
        if exc.field:
            body["fields"] = [{"field": exc.field, "message": exc.message}]
        body.update(jsonable_encoder({k: v for k, v in exc.context.items() if v is not None}))
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(status_code=exc.status, content=body, headers=headers)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A concurrent request won the race for a unique key: the caller sees a conflict.
        log.info("integrity error mapped to 409: %s", exc.orig)
        return JSONResponse(
            status_code=409,
            content={"error": "Conflict", "message": "conflicts with an existing record"},
        )


def install_health(app: FastAPI, readiness: Callable[[], Awaitable[str | None]]) -> None:
    """`/healthz`: the process answers. `/readyz`: dependencies work (None means ready)."""

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        problem = await readiness()
        if problem:
            return JSONResponse(status_code=503, content={"status": "not ready", "reason": problem})
        return JSONResponse(status_code=200, content={"status": "ready"})
