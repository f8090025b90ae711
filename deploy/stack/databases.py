"""Throwaway PostgreSQL databases, one per service, for tests and benchmarks."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import asyncpg

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def postgres_reachable(dsn: str = ADMIN_DSN) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def create_databases(
    services: Iterable[str], prefix: str, dsn: str = ADMIN_DSN
) -> dict[str, str]:
    """Fresh databases `<prefix>_<service>_<random>`; returns service -> SQLAlchemy URL."""
    suffix = secrets.token_hex(3)
    conn = await asyncpg.connect(dsn, timeout=5)
    urls = {}
    try:
        for service in services:
            name = f"{prefix}_{service}_{suffix}"
            await conn.execute(f'CREATE DATABASE "{name}"')
            urls[service] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await conn.close()
    return urls


async def drop_databases(urls: Iterable[str], dsn: str = ADMIN_DSN) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for url in urls:
            name = url.rsplit("/", 1)[-1]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
