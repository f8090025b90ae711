from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from deploy.databases import drop_databases
from deploy.launcher import Stack
from tests.conftest import POSTGRES
from tests.support import TraceCollector, make_stack


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
