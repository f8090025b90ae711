"""HTTP conventions shared by every service: one error shape, body-size limit, health.

Every error is RFC 9457 problem details (`application/problem+json`): `type` is
`https://skillbridge.example/problems/<code>` with a stable code (`validation-error`,
`not-found`, ...), `errors` lists the fields at fault, and a domain error's context travels
as extension members. The OpenAPI of every operation documents the problems it can answer,
derived from the route (its dependencies, parameters and method) in `document_errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from asyncpg.exceptions import ConnectionDoesNotExistError
from asyncpg.exceptions import InterfaceError as PgInterfaceError
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

try:  # Newer FastAPI keeps an included router whole in app.routes; this flattens it, as
    # FastAPI's own OpenAPI does.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI copies every route into app.routes

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import (
    UNAVAILABLE_RETRY_AFTER,
    DomainError,
    Gone,
    NotFound,
    TooManyRequests,
    database_unavailable,
)
from shared.types import clean_text

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://skillbridge.example/problems/"
# Problem members; a domain error's context key of the same name is renamed `current_<key>`
# (e.g. the `status` of a cohort in a 409), so it cannot overwrite the HTTP status.
_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors"})
# Codes for statuses that Starlette/FastAPI raise themselves (unknown route, wrong method).
_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
}


# For routers whose people can have been erased: `APIRouter(responses=ERASED)`.
ERASED: dict[int | str, dict[str, Any]] = {410: {"description": "The person was erased"}}


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field at fault, e.g. records.1.date")
    message: str
    type: str = Field(description="a stable code for the kind of error, e.g. date_too_late")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; further members carry the error's context."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "validation-error"])
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request path")
    errors: list[FieldError] = Field(default_factory=list)


def problem(
    request_path: str,
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status the standard library does not name
        phrase = "Error"
    code = code or _CODES.get(status) or phrase.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or phrase,
        "status": status,
        "detail": detail or title or phrase,
        "instance": request_path,
        "errors": errors or [],
    }
    for key, value in jsonable_encoder(dict(extra or {})).items():
        if value is not None:
            body[f"current_{key}" if key in _MEMBERS else key] = value
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    field = exc.field
    if field is None and isinstance(exc, NotFound | Gone) and len(request.path_params) == 1:
        field = next(iter(request.path_params))  # what was not found: the path's one id
    errors = [{"field": field, "message": exc.message, "type": exc.code}] if field else []
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return problem(
        request.url.path,
        exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.message,
        errors=errors,
        extra=exc.context,
        headers=headers,
    )


# Dependencies that can refuse a request carry a Guard, so the error handlers and the OpenAPI
# can find them in a route's dependency tree without knowing the service.
_GUARD = "__skillbridge_guard__"
D = TypeVar("D")


@dataclass(frozen=True)
class Guard:
    statuses: frozenset[int]  # what the dependency can answer besides success
    # Checks the credentials from the request alone: run before a 422, so a keyless bad
    # request is told 401 (FastAPI validates the body before it runs the dependency).
    check: Callable[[Request], Awaitable[object]] | None = None


def guard(
    dependency: D,
    statuses: set[int],
    check: Callable[[Request], Awaitable[object]] | None = None,
) -> D:
    """Mark a dependency as one that can refuse a request with these statuses."""
    setattr(dependency, _GUARD, Guard(frozenset(statuses), check))
    return dependency


def app_state(request: Request, name: str, kind: type[D]) -> D:
    """What the service's wiring (`Service`, `__main__.build`) put on `app.state.<name>` for
    a route's dependency, checked to be a `kind`: mis-wiring fails loudly, not oddly."""
    found = getattr(request.app.state, name, None)
    if not isinstance(found, kind):
        raise RuntimeError(f"no {kind.__name__} on app.state.{name}: see __main__.build")
    return found


def _guards(dependant: Dependant | None) -> Iterator[Guard]:
    if dependant is None:
        return
    for sub in dependant.dependencies:
        found = getattr(sub.call, _GUARD, None)
        if isinstance(found, Guard):
            yield found
        yield from _guards(sub)


def _field_path(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in _SOURCES else [str(p) for p in loc]
    return ".".join(parts) or str(loc[0] if loc else "body")


_SOURCES = ("body", "query", "path", "header", "cookie")


async def _check_key(request: Request) -> None:
    """Raise the route's 401/403 if its key check refuses this request."""
    route = request.scope.get("route")
    for found in _guards(getattr(route, "dependant", None)):
        if found.check is not None:
            await found.check(request)


async def _clean_parameters(request: Request) -> None:
    """Path and query values with invisible or control characters (a NUL reaches PostgreSQL
    as an error) are refused, naming the parameter."""
    for params in (request.path_params, request.query_params):
        for name, value in params.items():
            if isinstance(value, str):
                try:
                    clean_text(value)
                except ValueError as error:
                    await _check_key(request)  # a keyless request is told 401 first
                    raise DomainError(str(error), field=name) from None


# Where a database outage's exception can come from (shared.errors.database_unavailable
# decides, per exception, whether it is one).
OUTAGE_CLASSES: tuple[type[Exception], ...] = (
    DBAPIError,
    ConnectionDoesNotExistError,
    PgInterfaceError,
    OSError,
)


def install_error_handlers(app: FastAPI) -> None:
    # Every route added from now on (each service's routers) checks its parameters.
    app.router.dependencies.append(Depends(_clean_parameters))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            await _check_key(request)
        except DomainError as refused:
            return domain_problem(request, refused)
        errors = [
            {
                # JSON that does not parse is located by character offset: the body's fault.
                "field": "body" if err["type"] == "json_invalid" else _field_path(err["loc"]),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        return problem(
            request.url.path,
            422,
            title="The request is invalid",
            detail="; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own: unknown route (404), wrong method (405, with Allow), body limits,
        # a body that cannot be read (400: not UTF-8), which a keyless caller is not told.
        if exc.status_code == 400:
            try:
                await _check_key(request)
            except DomainError as refused:
                return domain_problem(request, refused)
        return problem(
            request.url.path, exc.status_code, detail=str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A concurrent request won the race for a unique key: the caller sees a conflict.
        log.info("integrity error mapped to 409: %s", exc.orig)
        return problem(request.url.path, 409, detail="conflicts with an existing record")

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Handled here, inside the exception middleware, not by the catch-all below: that one
        # re-raises after answering, and uvicorn then drops the keep-alive connection, so a
        # client's next request on it fails with no answer at all.
        if not database_unavailable(exc):
            log.error("internal error", exc_info=exc)
            return problem(request.url.path, 500, detail="an internal error; it has been logged")
        # An outage, not a bug: the client may retry (docs/decisions/0005's HTTP side).
        log.warning("database unavailable, answering 503: %r", exc)
        return problem(
            request.url.path,
            503,
            code="database-unavailable",
            title="Service unavailable",
            detail="the database cannot be reached; retry later",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        )

    for kind in OUTAGE_CLASSES:
        app.add_exception_handler(kind, unavailable)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):  # one raised outside the routes (a middleware)
            return await unavailable(request, exc)
        # Starlette re-raises after this answer, so the server logs the traceback.
        return problem(request.url.path, 500, detail="an internal error; it has been logged")

    document_errors(app)


_DESCRIPTIONS = {
    400: "The body could not be read (e.g. not UTF-8)",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role does not allow this",
    404: "No such resource, in the path or named by the body (the field is in `errors`)",
    409: "Conflicts with the current state",
    410: "The record was erased",
    413: "The request body is larger than the limit",
    422: "The request is invalid (the fields at fault are in `errors`)",
    429: "Too many requests (see Retry-After)",
}


def _statuses(route: Any) -> set[int]:
    """What a route can answer besides success, from its dependencies, params and method."""
    dependant = route.dependant
    found: set[int] = set()
    for g in _guards(dependant):
        found |= g.statuses
    params = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
    ]
    for sub in dependant.dependencies:  # parameters of dependencies count too
        params += [*sub.query_params, *sub.header_params, *sub.path_params]
    writes = bool((route.methods or set()) - {"GET", "HEAD", "OPTIONS"})
    body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    if dependant.path_params or body:  # a body can name a record that does not exist
        found.add(404)
    if writes:
        found.add(409)
    if body:
        found |= {400, 413, 422}
    if params or writes:
        found.add(422)
    return found


def document_errors(app: FastAPI) -> None:
    """Problem responses in every operation's OpenAPI, added when the document is built (so
    routes added after this call are covered)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(problem_schema.pop("$defs", {}))  # FieldError
        components["ProblemDetails"] = problem_schema
        content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
        for route in iter_route_contexts(app.routes):
            original = getattr(route, "original_route", route)
            if not isinstance(original, APIRoute) or not route.include_in_schema:
                continue
            wanted = _statuses(route)
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                codes = wanted | {int(c) for c in responses if c.isdigit() and int(c) >= 400}
                for code in sorted(codes):
                    default = _DESCRIPTIONS.get(code, HTTPStatus(code).phrase)
                    given = responses.get(str(code), {}).get("description")
                    responses[str(code)] = {
                        "description": default if code == 422 or not given else given,
                        "content": content,
                    }
        text = str(schema["paths"])
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"/{unused}'" not in text:
                components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimit:
    """Pure ASGI middleware: refuses a request body over the limit with 413 problem details,
    from the declared Content-Length before the app runs, or by counting the bytes as they
    stream (chunked) and stopping there, so the rest is never read. `limits` maps a path to
    its own limit (e.g. the registry's CSV upload); it is read per request."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge:
            # Raised past the app's handlers (e.g. from a streaming body reader).
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(
            scope["path"],
            413,
            detail=f"the request body is larger than {limit} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """An HTTPException so FastAPI's body reading passes it on (it turns others into 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def install_body_limit(app: FastAPI, max_bytes: int, limits: Mapping[str, int]) -> None:
    app.add_middleware(BodyLimit, max_bytes=max_bytes, limits=limits)


def install_health(app: FastAPI, readiness: Callable[[], Awaitable[str | None]]) -> None:
    """`/healthz`: the process answers. `/readyz`: dependencies work (None means ready)."""

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz() -> JSONResponse:
        reason = await readiness()
        if reason:
            return problem("/readyz", 503, code="not-ready", title="Not ready", detail=reason)
        return JSONResponse(status_code=200, content={"status": "ready"})
