"""Brokers, databases and whole stacks for the tests: a Tansu on a free port, one database
per service (PostgreSQL at 127.0.0.1:5432 when reachable, else SQLite files), the five
services as processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

from deploy.stack.databases import create_databases, postgres_reachable
from deploy.stack.launcher import SERVICES, Stack, free_port, start_tansu

POSTGRES = asyncio.run(postgres_reachable())


def tansu(folder: Path) -> Iterator[str]:
    """A Tansu broker on a free loopback port, for as long as the generator is open."""
    port = free_port()
    broker = start_tansu(port, folder / "broker.log")
    yield f"127.0.0.1:{port}"
    broker.terminate()
    broker.wait(5)


async def fresh_databases(prefix: str, tmp: Path) -> dict[str, str]:
    """One fresh database URL per service: PostgreSQL when reachable, else SQLite files."""
    if POSTGRES:
        return await create_databases(SERVICES, prefix)
    return {s: f"sqlite+aiosqlite:///{tmp / f'{s}.db'}" for s in SERVICES}


def make_stack(
    data_dir: Path, bootstrap: str, extra_env: dict[str, str], *, postgres: bool, prefix: str
) -> Stack:
    """The five services as separate processes on the session's broker, on free ports."""
    urls = (
        asyncio.run(create_databases(SERVICES, prefix))
        if postgres
        else {s: f"sqlite+aiosqlite:///{data_dir / f'{s}.db'}" for s in SERVICES}
    )
    return Stack(
        data_dir=data_dir,
        external_bootstrap=bootstrap,
        ports={service: free_port() for service in SERVICES},
        database_urls=urls,
        # Tansu (the session broker) lacks InitProducerId; an external name keeps the default on.
        extra_env={"KAFKA_ENABLE_IDEMPOTENCE": "false", **extra_env},
    )
