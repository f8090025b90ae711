"""Two replicas of a service share one outbox: their relays never publish the same row, and
rows reach the broker in the outbox's order (issue 17, replicas)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from services.training.tables import Outbox
from shared.db import Database
from shared.events import LearnerEnrolled
from shared.outbox import OutboxRelay, stage
from tests.support import POSTGRES

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "training" / "migrations"


@pytest.mark.skipif(not POSTGRES, reason="row locks are PostgreSQL's; SQLite has one writer")
async def test_two_relays_on_one_outbox_publish_each_row_once_in_order(
    database_urls: dict[str, str],
) -> None:
    """Catches a relay that reads unsent rows without a lock: both replicas would read the
    same batch and publish it twice (the relay before issue 17 did)."""
    first, second = Database(database_urls["training"]), Database(database_urls["training"])
    await first.migrate(MIGRATIONS)
    people = [str(uuid.uuid4()) for _ in range(5)]
    async with first.transaction() as session:
        for n in range(200):
            event = LearnerEnrolled(
                person_id=people[n % 5],
                enrolment_id=f"e-{n}",
                programme_code="p",
                cohort_code="c",
                occupation="gardener",
                enrolled_at=datetime.now(UTC),
            )
            stage(session, Outbox, event, source="/skillbridge/training")
    published: list[str] = []

    async def publish(
        topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[None]:
        published.append(headers["ce_id"])
        # The broker's acknowledgement takes a while: the window a second relay would use.
        return asyncio.sleep(0.02)

    relays = [
        OutboxRelay(db, Outbox, publish, batch_size=30, poll_seconds=0.05) for db in (first, second)
    ]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.publish_pending():
            pass

    try:
        await asyncio.wait_for(asyncio.gather(*(drain(r) for r in relays)), timeout=60)
        async with first.transaction() as session:
            rows = list((await session.exec(select(Outbox).order_by(col(Outbox.id)))).all())
    finally:
        await first.dispose()
        await second.dispose()
    assert all(row.published_at is not None for row in rows)
    assert len(published) == len(set(published)) == 200  # none twice, none missed
    assert published == [row.event_id for row in rows]  # the outbox's order
    assert relays[0].published_total > 0 and relays[1].published_total > 0  # both worked
