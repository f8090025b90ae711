"""A handler slower than aiokafka's `max_poll_interval_ms` causes no endless rebalance.

The pitfall: a batch worked longer than the poll interval makes the member leave its group;
its offset commit then fails and the batch is fetched again. If the batch were applied again
(no inbox), or the redelivered batch were as slow as the first, the consumer would leave,
rejoin and redo the same batch forever, never moving on. What must happen instead: one
rebalance, the redelivered batch skipped by the inbox (each event applied exactly once), and
the consumer carries on with what comes next.

A consumer of the test's own (shared.consumer.EventConsumer on a one-handler table) runs on
training's database (for its inbox table) and a Tansu broker of the test's own, with a
3-second poll interval and a handler that takes 6 seconds on one event.

It would catch: a redelivered batch applied twice (calls per event id > 1), a consumer stuck
re-joining (the later events never processed, or rebalances growing without bound), and
`consumer_max_poll_interval_ms` not reaching aiokafka (no rebalance at all: the assertion
that the slow batch did exceed the interval fails, and the test proves nothing).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlmodel import col, func, select

from services.training.__main__ import build as build_training
from services.training.settings import TrainingSettings
from services.training.tables import Inbox
from shared.consumer import EventConsumer
from shared.events import PersonRegistered
from shared.kafka import make_broker
from tests.support import Upstream, eventually, tansu

POLL_INTERVAL_MS = 3_000
SLOW_SECONDS = 6.0  # twice the poll interval: the member is surely dropped from its group


class Assignments(logging.Handler):
    """Counts aiokafka's "newly assigned partitions" lines: one per (re)join of the group."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.left = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "newly assigned partitions" in message:
            self.count += 1
        if "max_poll_interval_ms" in message or "poll interval" in message.lower():
            self.left += 1


@pytest.fixture
def assignments() -> Iterator[Assignments]:
    handler = Assignments()
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def person(n: int) -> PersonRegistered:
    return PersonRegistered(
        person_id=str(uuid4()), province_code="34", registered_at=datetime.now(UTC)
    )


async def test_a_batch_slower_than_the_poll_interval_is_applied_once_and_the_consumer_moves_on(
    tmp_path: Path, database_urls: dict[str, str], assignments: Assignments
) -> None:
    broker_folder = tmp_path / "broker"
    broker_folder.mkdir()
    brokers = tansu(broker_folder)
    bootstrap = next(brokers)
    settings = TrainingSettings(
        database_url=database_urls["training"],
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key="sbk_" + secrets.token_urlsafe(24),
        consumer_max_poll_interval_ms=POLL_INTERVAL_MS,
    )
    training = build_training(settings)  # for its migrated database and inbox table
    await training.start()
    name = "slow-test"
    calls: Counter[str] = Counter()
    slow: set[str] = set()

    async def handler(_session: object, event: PersonRegistered) -> None:
        calls[event.person_id] += 1
        if event.person_id in slow and calls[event.person_id] == 1:
            await asyncio.sleep(SLOW_SECONDS)  # the fault: a handler slower than the interval

    consumer = EventConsumer(
        name=name,
        db=training.db,
        inbox=Inbox,
        handlers={PersonRegistered: handler},
        settings=settings,
    )
    kafka = make_broker(settings)
    consumer.subscribe(kafka)
    upstream = Upstream(bootstrap)
    await upstream.start()
    try:
        await kafka.start()
        warm = [person(i) for i in range(5)]
        for event in warm:
            await upstream.send(event)
        await eventually(lambda: _processed(consumer), lambda n: n >= 5, timeout=60, what="warm-up")
        joined_before = assignments.count

        laggard = person(0)
        slow.add(laggard.person_id)
        batch = [laggard, *(person(i) for i in range(20))]
        for event in batch:
            await upstream.send(event)
        later = [person(i) for i in range(20)]
        for event in later:  # sent while the slow batch is being worked
            await upstream.send(event)

        everyone = [*warm, *batch, *later]
        await eventually(
            lambda: _processed(consumer),
            lambda n: n >= len(everyone),
            timeout=90,
            what="every event applied after the slow batch",
        )
        # Each event's handler ran once: the redelivered slow batch was skipped by the inbox.
        assert {e.person_id for e in everyone} == set(calls)
        assert max(calls.values()) == 1, {k: v for k, v in calls.items() if v > 1}
        assert await _inbox_rows(training, name) == len(everyone)
        # The slow batch did exceed the interval (else this test proves nothing) ...
        rebalances = assignments.count - joined_before
        assert rebalances >= 1 or assignments.left >= 1, "the poll interval was never exceeded"
        # ... and cost a bounded number of re-joins, not one per redelivery for ever.
        assert rebalances <= 3, rebalances
        # Progress after: a new event is applied promptly, with no further re-join.
        settled = assignments.count
        last = person(0)
        await upstream.send(last)
        await eventually(
            lambda: _processed(consumer),
            lambda n: n >= len(everyone) + 1,
            timeout=20,
            what="an event after the slow batch",
        )
        assert assignments.count == settled
        assert calls[last.person_id] == 1
    finally:
        await upstream.stop()
        await kafka.stop()
        await training.stop()
        next(brokers, None)


async def _processed(consumer: EventConsumer) -> int:
    return consumer.processed


async def _inbox_rows(training: object, name: str) -> int:
    db = training.db  # type: ignore[attr-defined]
    async with db.transaction() as session:
        query = select(func.count()).select_from(Inbox).where(col(Inbox.consumer) == name)
        return int((await session.exec(query)).one())
