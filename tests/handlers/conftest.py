"""Each test gets the service's database as the service runs it: SQLite, migrated to head
(shared.db.Database.migrate, the same Alembic scripts as at start-up). No broker, no
PostgreSQL: handlers are called directly in a unit of work, and what they staged is read
back from the outbox (tests.support.outbox)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.db import Database

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


async def _template(folder: Path, service: str) -> Path:
    """A migrated database file; tests get copies (migrating once per service, not per test)."""
    path = folder / f"{service}.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate(SERVICES_DIR / service / "migrations")
    await db.dispose()  # the last connection checkpoints the WAL into the file
    return path


class Templates:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[str, Path] = {}

    async def fresh(self, service: str, tmp: Path) -> Database:
        if service not in self.made:
            self.made[service] = await _template(self.folder, service)
        copy = tmp / f"{service}.db"
        shutil.copyfile(self.made[service], copy)
        return Database(f"sqlite+aiosqlite:///{copy}")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("migrated"))


async def _database(templates: Templates, service: str, tmp: Path) -> AsyncIterator[Database]:
    db = await templates.fresh(service, tmp)
    yield db
    await db.dispose()


@pytest.fixture
async def registry_db(templates: Templates, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in _database(templates, "registry", tmp_path):
        yield db


@pytest.fixture
async def training_db(templates: Templates, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in _database(templates, "training", tmp_path):
        yield db


@pytest.fixture
async def certification_db(templates: Templates, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in _database(templates, "certification", tmp_path):
        yield db


@pytest.fixture
async def funding_db(templates: Templates, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in _database(templates, "funding", tmp_path):
        yield db


@pytest.fixture
async def dashboard_db(templates: Templates, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in _database(templates, "dashboard", tmp_path):
        yield db
