from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.stack.launcher import Managed, Stack
from tests.support import TraceCollector, started_lender, started_stack


@pytest.fixture(scope="module")
def collector() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    yield collector
    collector.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, bootstrap: str, collector: TraceCollector
) -> Iterator[Stack]:
    with started_stack(
        tmp_path_factory.mktemp("e2e"), bootstrap, collector.env, prefix="sb_e2e"
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def lender(stack: Stack) -> Iterator[Managed]:
    """examples/partner_lender for gsb, as its own process with gsb's partner key."""
    with started_lender(stack, "gsb") as process:
        yield process
