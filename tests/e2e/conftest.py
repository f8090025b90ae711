from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.clients.funding import FundingClient
from deploy.stack.databases import drop_databases
from deploy.stack.launcher import Managed, Stack
from tests.support import POSTGRES, TraceCollector, make_stack


@pytest.fixture(scope="module")
def collector() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    yield collector
    collector.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, bootstrap: str, collector: TraceCollector
) -> Iterator[Stack]:
    stack = make_stack(
        tmp_path_factory.mktemp("e2e"), bootstrap, collector.env, postgres=POSTGRES, prefix="sb_e2e"
    )
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
        return await funding.create_partner_key(lender, "e2e-loan-system")


@pytest.fixture(scope="module")
def lender(stack: Stack) -> Iterator[Managed]:
    """examples/partner_lender for gsb, as its own process with gsb's partner key."""
    key = asyncio.run(_partner_key(stack, "gsb"))
    root = Path(__file__).resolve().parents[2]
    process = Managed(
        name="lender-gsb",
        argv=[
            sys.executable,
            "-m",
            "examples.partner_lender",
            "--lender",
            "gsb",
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
        log_path=stack.data_dir / "logs" / "lender-gsb.log",
    )
    process.start()
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
        print(f"--- lender-gsb log tail\n{process.log_tail(20)}")
