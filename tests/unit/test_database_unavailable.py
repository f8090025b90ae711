"""A database outage answers 503 with Retry-After, never a 500: every service's HTTP writes
go through shared.http's handlers, so one mapping covers them (issue 17, database outage)."""

from __future__ import annotations

import httpx
import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from shared.errors import database_unavailable
from shared.http import PROBLEM_TYPE_BASE, install_error_handlers

OUTAGES: list[BaseException] = [
    OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    DBAPIError("SELECT 1", {}, Exception("reset"), connection_invalidated=True),
    ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    TimeoutError(),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_connection_errors_are_outages(error: BaseException) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        DBAPIError("SELECT 1", {}, Exception("syntax error")),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not(error: BaseException) -> None:
    assert not database_unavailable(error)


async def test_another_database_error_is_a_500() -> None:
    response = await post(app_raising(DBAPIError("SELECT", {}, Exception("numeric overflow"))))
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def app_raising(error: BaseException) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/keys")
    async def write() -> None:
        raise error

    return app


async def post(app: FastAPI, *, reraised: bool = False) -> httpx.Response:
    # An outage is answered and not re-raised: uvicorn drops the connection of a request
    # whose exception reaches it, so a client's next request on it would get no answer.
    # (The catch-all 500 re-raises, for the server's log: `reraised` lets that through.)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=not reraised)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/keys")


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
async def test_a_write_during_an_outage_is_a_503_problem_with_retry_after(
    error: BaseException,
) -> None:
    response = await post(app_raising(error))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + "database-unavailable"
    assert body["status"] == 503


async def test_a_bug_is_still_a_500() -> None:
    response = await post(app_raising(ValueError("a bug")), reraised=True)
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
