"""The HTTP layer every service shares: problem details, key before body, body limit, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from shared.auth import Forbidden, Unauthenticated, presented_key
from shared.errors import Conflict, NotFound
from shared.http import (
    PROBLEM_TYPE_BASE,
    guard,
    install_body_limit,
    install_error_handlers,
    install_health,
)


class Record(BaseModel):
    date: date


class Records(BaseModel):
    records: list[Record]


async def check_key(request: Request) -> str:
    key = presented_key(request)
    if key is None:
        raise Unauthenticated("an API key is required")
    if key != "admin":
        raise Forbidden("this needs an admin key")
    return key


async def _key(request: Request) -> str:
    return await check_key(request)


key = guard(_key, {401, 403}, check_key)


def app_under_test() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_body_limit(app, 1024, {"/upload": 4096})

    @app.post("/cohorts/{code}/records")
    async def records(code: str, body: Records, _: str = Depends(key)) -> dict[str, int]:
        return {"count": len(body.records)}

    @app.get("/cohorts/{code}")
    async def cohort(code: str) -> None:
        raise NotFound(f"no cohort {code}")

    @app.post("/cohorts/{code}/closure")
    async def close(code: str) -> None:
        raise Conflict(f"cohort {code} is closed already", status="closed")

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for piece in request.stream():
            size += len(piece)
        return {"size": size}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_under_test())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + code
    assert body["status"] == status and body["instance"] == response.request.url.path
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


async def test_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/cohorts/c1/records",
        json={"records": [{"date": "2026-01-01"}, {"date": "nope"}]},
        headers={"X-API-Key": "admin"},
    )
    body = problem_of(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["records.1.date"]  # type: ignore[attr-defined]


async def test_the_key_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    bad = {"records": "not a list"}
    keyless = await client.post("/cohorts/c1/records", json=bad)
    assert problem_of(keyless, 401, "unauthenticated")["errors"] == []
    assert keyless.headers["WWW-Authenticate"] == "Bearer"
    low = await client.post("/cohorts/c1/records", json=bad, headers={"X-API-Key": "reader"})
    problem_of(low, 403, "forbidden")
    broken = await client.post(
        "/cohorts/c1/records", content=b"{", headers={"Content-Type": "application/json"}
    )
    problem_of(broken, 401, "unauthenticated")
    broken_with_key = await client.post(
        "/cohorts/c1/records",
        content=b"{",
        headers={"Content-Type": "application/json", "X-API-Key": "admin"},
    )
    assert problem_of(broken_with_key, 422, "validation-error")["errors"][0]["field"] == "body"  # type: ignore[index]
    not_utf8 = {"Content-Type": "application/json"}
    problem_of(
        await client.post("/cohorts/c1/records", content=b'"\xff"', headers=not_utf8),
        401,
        "unauthenticated",
    )
    unreadable = await client.post(
        "/cohorts/c1/records", content=b'"\xff"', headers={**not_utf8, "X-API-Key": "admin"}
    )
    problem_of(unreadable, 400, "bad-request")


async def test_control_characters_in_parameters_are_refused(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/cohorts/a%00b"), 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["code"]  # type: ignore[attr-defined]
    keyless = await client.post("/cohorts/a%E2%80%AEb/records", json={"records": []})
    problem_of(keyless, 401, "unauthenticated")


async def test_not_found_names_the_path_parameter(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/cohorts/zz"), 404, "not-found")
    assert body["errors"] == [{"field": "code", "message": "no cohort zz", "type": "not-found"}]


async def test_context_stays_as_members_without_overwriting_the_status(
    client: httpx.AsyncClient,
) -> None:
    body = problem_of(await client.post("/cohorts/c1/closure"), 409, "conflict")
    assert body["current_status"] == "closed"


async def test_starlette_errors_have_the_same_shape(client: httpx.AsyncClient) -> None:
    problem_of(await client.get("/nowhere"), 404, "not-found")
    wrong = await client.delete("/cohorts/c1")
    problem_of(wrong, 405, "method-not-allowed")
    assert wrong.headers["allow"] == "GET"


async def test_a_declared_body_over_the_limit_is_refused_unread(client: httpx.AsyncClient) -> None:
    big = b"x" * 2048
    response = await client.post(
        "/cohorts/c1/records", content=big, headers={"Content-Type": "application/json"}
    )
    problem_of(response, 413, "payload-too-large")
    # A path with its own limit takes more.
    assert (await client.post("/upload", content=big)).json() == {"size": 2048}
    problem_of(await client.post("/upload", content=b"x" * 5000), 413, "payload-too-large")


async def test_a_streamed_body_is_counted_as_it_arrives(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"y" * 1000

    problem_of(await client.post("/upload", content=chunks()), 413, "payload-too-large")
    assert sent == 5  # the fifth chunk crossed 4096 bytes; the rest was never read

    async def two() -> AsyncIterator[bytes]:
        for _ in range(2):
            yield b"z" * 1000

    assert (await client.post("/upload", content=two())).json() == {"size": 2000}


def test_openapi_documents_problems_per_operation() -> None:
    schema = app_under_test().openapi()
    records = schema["paths"]["/cohorts/{code}/records"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(records)
    ref = records["401"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ProblemDetails"
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "401" not in schema["paths"]["/cohorts/{code}"]["get"]["responses"]


async def test_not_ready_is_a_problem_too() -> None:
    app = FastAPI()
    install_error_handlers(app)

    async def starting() -> str | None:
        return "starting"

    install_health(app, starting)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        body = problem_of(await c.get("/readyz"), 503, "not-ready")
    assert body["detail"] == "starting"
