"""Fixtures: a real Tansu broker over TCP and, when reachable, the PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from deploy.stack.databases import drop_databases
from deploy.stack.launcher import SERVICES
from tests.support.stack import POSTGRES, fresh_databases, tansu

# Tansu holds a consumer's first JoinGroup for half its session timeout (10 s by default, so
# 5 s a service start, most of an integration test's setup). The tests' services, in-process
# or as processes, use 3 s: still three heartbeats a session, and 1.5 s a join.
TEST_SESSION_TIMEOUT_MS = "3000"


def pytest_report_header() -> str:
    if POSTGRES:
        return "PostgreSQL at 127.0.0.1:5432: reachable; services run on PostgreSQL"
    return "PostgreSQL at 127.0.0.1:5432: NOT reachable; services run on SQLite only"


@pytest.fixture(scope="session", autouse=True)
def event_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One event-signing keys dir for every service the tests run, in-process or as a
    process, and for tests that publish as a service (docs/decisions/0013)."""
    folder = tmp_path_factory.mktemp("event-keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVENT_KEYS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def quick_group_joins() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for service in SERVICES:
            patch.setenv(f"{service.upper()}_CONSUMER_SESSION_TIMEOUT_MS", TEST_SESSION_TIMEOUT_MS)
        yield


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker of the session's own."""
    yield from tansu(tmp_path_factory.mktemp("broker"))


@pytest.fixture
async def database_urls(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """One fresh database per service (PostgreSQL when reachable, else SQLite files)."""
    urls = await fresh_databases("sb_test", tmp_path)
    yield urls
    if POSTGRES:
        await drop_databases(urls.values())
