"""The service clients (deploy/clients/): one class per service over one base, none importing
another, retries and errors as the callers rely on them. No service runs: httpx's
MockTransport answers."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import httpx
import pytest

from deploy.clients.base import ApiError, ServiceClient
from deploy.clients.certification import CertificationClient
from deploy.clients.funding import FundingClient
from deploy.clients.registry import RegistryClient
from deploy.clients.training import TrainingClient

CLIENTS = Path(__file__).resolve().parents[2] / "deploy" / "clients"


def test_each_client_module_imports_only_the_base() -> None:
    for path in CLIENTS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        clients = {name for name in imported if name.startswith("deploy.clients")}
        assert clients <= {"deploy.clients.base"}, (path.name, clients)


def test_one_class_per_service_over_the_base() -> None:
    for cls in (RegistryClient, TrainingClient, CertificationClient, FundingClient):
        assert cls.__bases__ == (ServiceClient,)


def _mock(answer: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=answer)


async def test_posts_retry_a_404_until_replicated_when_asked() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if len(seen) < 3:  # the assessor's organisation has not reached certification yet
            return httpx.Response(404, json={"detail": "unknown assessor"})
        return httpx.Response(201, json={"code": "s1"})

    async with _mock(httpx.MockTransport(answer)) as http:
        client = CertificationClient(http, "http://cert")
        body = await client.ensure_session(
            code="s1", standard_code="x-l1", held_on=datetime.date(2024, 6, 3), retry_for=10
        )
    assert body == {"code": "s1"}
    assert seen == ["http://cert/sessions"] * 3


async def test_an_unexpected_status_is_an_api_error_naming_the_call() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"detail": "different body"})

    async with _mock(httpx.MockTransport(answer)) as http:
        with pytest.raises(ApiError, match=r"POST http://training/courses -> 409"):
            await TrainingClient(http, "http://training").ensure_course(
                code="c",
                programme_code="p",
                occupation="o",
                title="t",
                days=5,
                hours=30,
                day_plan=[(1, 5, "workshop-practice")],
                min_attendance_days=4,
            )


async def test_connect_owns_its_client_and_a_callers_client_stays_open() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer k"
        return httpx.Response(200, json={"referrals": "3"})

    transport = httpx.MockTransport(answer)
    async with FundingClient.connect("http://funding", "k", transport=transport) as funding:
        assert await funding.counts() == {"referrals": 3}
    assert funding.http.is_closed
    async with _mock(transport) as http:
        async with FundingClient(http, "http://funding"):
            pass
        assert not http.is_closed
