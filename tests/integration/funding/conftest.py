"""Funding on a real broker and database, fed by upstream events a plain producer publishes
(as the registry and certification would), and read by lenders through their topics and API.

Each test here has a broker of its own (`bootstrap`, function scope, overriding the
session's), so funding's replica and the partner topics hold exactly that test's data.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.funding.__main__ import build
from tests.support import Upstream, admin_client, tansu
from tests.support.funding import RunningFunding, settings_for


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of each test's own: funding's replica and the partner topics hold exactly
    this test's data."""
    yield from tansu(tmp_path)


@pytest.fixture
async def funding(
    request: pytest.FixtureRequest, bootstrap: str, database_urls: dict[str, str]
) -> AsyncIterator[RunningFunding]:
    """Funding with settings_for's values, and a test module's FUNDING_SETTINGS over them
    (webhook tests allow http to loopback there, for their local lender servers)."""
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    overrides = getattr(request.module, "FUNDING_SETTINGS", {})
    service = build(settings_for(bootstrap, database_urls["funding"], admin_key, **overrides))
    await service.start()
    upstream = Upstream(bootstrap)
    await upstream.start()
    client = admin_client(service, "funding", admin_key)
    running = RunningFunding(service, client, upstream, bootstrap)
    try:
        yield running
    finally:
        for partner in running.partners.values():
            await partner.aclose()
        await client.aclose()
        await upstream.stop()
        await service.stop()
