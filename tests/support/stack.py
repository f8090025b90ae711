"""Brokers, databases and whole stacks for the tests: a Tansu on a free port, one database
per service (PostgreSQL at 127.0.0.1:5432 when reachable, else SQLite files), the five
services as processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from deploy.clients.funding import FundingClient
from deploy.stack.databases import create_databases, drop_databases, postgres_reachable
from deploy.stack.launcher import SERVICES, Managed, Stack, free_port, start_tansu

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


@contextlib.contextmanager
def started_stack(
    data_dir: Path, bootstrap: str, extra_env: dict[str, str], *, prefix: str
) -> Iterator[Stack]:
    """`make_stack` started (PostgreSQL when reachable); on leaving, stopped, each service's
    log tail printed (pytest shows it with a failure) and its databases dropped."""
    stack = make_stack(data_dir, bootstrap, extra_env, postgres=POSTGRES, prefix=prefix)
    try:
        stack.start(timeout=90)
        yield stack
    finally:
        stack.stop()
        for managed in stack.services.values():
            print(f"--- {managed.name} log tail\n{managed.log_tail(20)}")
        if POSTGRES:
            asyncio.run(drop_databases(stack.database_urls.values()))


async def _partner_key(stack: Stack, lender: str) -> str:
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        funding = FundingClient(client, stack.url("funding"))
        return await funding.create_partner_key(lender, "test-loan-system")


@contextlib.contextmanager
def started_lender(stack: Stack, lender: str) -> Iterator[Managed]:
    """examples/partner_lender for `lender`, as its own process with its partner key: it
    acknowledges every referral, approves level 2 and up and pays out, declines level 1."""
    key = asyncio.run(_partner_key(stack, lender))
    root = Path(__file__).resolve().parents[2]
    process = Managed(
        name=f"lender-{lender}",
        argv=[
            sys.executable,
            "-m",
            "examples.partner_lender",
            "--lender",
            lender,
            "--key",
            key,
            "--bootstrap",
            stack.bootstrap,
            "--api",
            stack.url("funding"),
            "--min-level",
            "2",
        ],
        env={**os.environ, "PYTHONPATH": str(root)},
        log_path=stack.data_dir / "logs" / f"lender-{lender}.log",
    )
    process.start()
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
        print(f"--- lender-{lender} log tail\n{process.log_tail(20)}")
