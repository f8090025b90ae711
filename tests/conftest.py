"""Fixtures: a real Tansu broker over TCP and, when reachable, the PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from deploy.stack.databases import create_databases, drop_databases, postgres_reachable
from deploy.stack.launcher import free_port, start_tansu
from shared.topics import SERVICES

POSTGRES = asyncio.run(postgres_reachable())


def pytest_report_header() -> str:
    if POSTGRES:
        return "PostgreSQL at 127.0.0.1:5432: reachable; services run on PostgreSQL"
    return "PostgreSQL at 127.0.0.1:5432: NOT reachable; services run on SQLite only"


def tansu(folder: Path) -> Iterator[str]:
    """A Tansu broker on a free loopback port, for as long as the generator is open."""
    port = free_port()
    broker = start_tansu(port, folder / "broker.log")
    yield f"127.0.0.1:{port}"
    broker.terminate()
    broker.wait(5)


@pytest.fixture(scope="session", autouse=True)
def event_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One event-signing keys dir for every service the tests run, in-process or as a
    process, and for tests that publish as a service (docs/decisions/0013)."""
    folder = tmp_path_factory.mktemp("event-keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVENT_KEYS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker of the session's own."""
    yield from tansu(tmp_path_factory.mktemp("broker"))


async def _databases(prefix: str, tmp: Path) -> dict[str, str]:
    if POSTGRES:
        return await create_databases(SERVICES, prefix)
    return {s: f"sqlite+aiosqlite:///{tmp / f'{s}.db'}" for s in SERVICES}


@pytest.fixture
async def database_urls(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """One fresh database per service (PostgreSQL when reachable, else SQLite files)."""
    urls = await _databases("sb_test", tmp_path)
    yield urls
    if POSTGRES:
        await drop_databases(urls.values())
