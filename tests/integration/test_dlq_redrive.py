"""Operators re-drive dead-lettered records once the cause is fixed (decision 0005):
the real broker, training consuming what comes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from deploy.stack.dlq import dead_letters, redrive
from deploy.stack.topics import read_topics
from shared.envelope import encode
from shared.events import PersonRegistered
from shared.kafka import ensure_topics
from shared.runtime import Service
from shared.topics import REGISTRY, dlq_topic
from tests.support import eventually, tansu, training_counts


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of the test's own: re-driving the session broker's dead letters would send
    other tests' poison back round (and count it)."""
    yield from tansu(tmp_path)


async def test_a_redriven_record_is_applied_once_and_not_redriven_again(
    lone_training: Service, bootstrap: str
) -> None:
    # As the consumer would have left it: a valid event whose handler failed at the time.
    person = str(uuid.uuid4())
    record = encode(
        PersonRegistered(person_id=person, province_code="34", registered_at=datetime.now(UTC)),
        source="/skillbridge/registry",
    )
    headers = [(k, v.encode()) for k, v in record.headers.items()] + [
        ("dlq_error", b"database constraint bug, fixed in 1.2"),
        ("dlq_error_type", b"IntegrityError"),
        ("dlq_original_topic", REGISTRY.encode()),
        ("dlq_original_partition", b"0"),
        ("dlq_original_offset", b"41"),
        ("dlq_consumer", b"skillbridge.training"),
        ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
    ]
    dead = dlq_topic(REGISTRY)
    await ensure_topics(bootstrap, [dead], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(dead, record.value, key=record.key, headers=headers)
    finally:
        await producer.stop()

    listed = [d for d in await dead_letters(bootstrap) if d.key == person]
    assert [(d.ce_type, d.error_type, d.original) for d in listed] == [
        (PersonRegistered.ce_type(), "IntegrityError", f"{REGISTRY}[0]@41")
    ]
    before = (await training_counts(lone_training))["known_people"]
    group = f"test-redrive-{uuid.uuid4().hex[:8]}"
    assert await redrive(bootstrap, dead, group=group, progress=lambda _: None) == 1

    await eventually(
        lambda: training_counts(lone_training),
        lambda c: c["known_people"] == before + 1,
        what="re-driven person applied",
    )
    back = [o for o in await read_topics(bootstrap, [REGISTRY]) if o.key == person]
    assert len(back) == 1
    assert back[0].ce_id == record.headers["ce_id"]  # the same event, so inboxes dedupe it
    assert not any(name.startswith("dlq_") for name in back[0].headers)

    # The group's offset was committed: nothing more to re-drive, nothing published again.
    assert await redrive(bootstrap, dead, group=group, progress=lambda _: None) == 0
    again = [o for o in await read_topics(bootstrap, [REGISTRY]) if o.key == person]
    assert len(again) == 1
