"""Alembic on a service's database, as `skillbridge migrate` runs it (a Kubernetes Job
before a rollout, or by hand): the URL from the service's own settings
(<SERVICE>_DATABASE_URL), the scripts from services/<service>/migrations, and one
connection handed to the scripts as `shared.db.Database.migrate` does at start-up."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from shared.db import make_engine
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


def settings_of(service: str) -> ServiceSettings:
    """The service's settings class, read from the environment as the service reads it."""
    module = importlib.import_module(f"services.{service}.settings")
    cls = next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings")
        and isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    )
    settings: ServiceSettings = cls()
    return settings


def config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@dataclass(frozen=True)
class Revisions:
    service: str
    database: str  # the URL without its password
    current: list[str]
    head: list[str]

    @property
    def at_head(self) -> bool:
        return sorted(self.current) == sorted(self.head)


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def revisions(service: str, url: str) -> Revisions:
    cfg = config(service, url)
    head = list(ScriptDirectory.from_config(cfg).get_heads())

    def current(connection: Connection) -> list[str]:
        return list(MigrationContext.configure(connection).get_current_heads())

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            now = await conn.run_sync(current)
    finally:
        await engine.dispose()
    return Revisions(service, safe_url(url), now, head)


async def run(service: str, url: str, action: str, revision: str) -> None:
    """`upgrade` or `downgrade` to `revision`, in one transaction where the database allows."""
    cfg = config(service, url)

    def migrate(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
    finally:
        await engine.dispose()
