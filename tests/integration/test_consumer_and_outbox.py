"""One service (training) in-process against the real broker and database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlmodel import col, select

from deploy.stack.topics import read_topics
from services.training.tables import KnownPerson
from shared.envelope import encode
from shared.events import LearnerEnrolled, PersonRegistered
from shared.runtime import Service
from shared.topics import REGISTRY, TRAINING, dlq_topic
from tests.support import eventually


async def known(service: Service, person_ids: list[str]) -> set[str]:
    """Which of these people training's replica holds."""
    async with service.db.transaction() as session:
        rows = await session.exec(
            select(KnownPerson.person_id).where(col(KnownPerson.person_id).in_(person_ids))
        )
        return set(rows.all())


async def _produce(
    bootstrap: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(REGISTRY, value, key=key, headers=headers)
    finally:
        await producer.stop()


def _registered(person_id: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    record = encode(
        PersonRegistered(person_id=person_id, province_code="10", registered_at=datetime.now(UTC)),
        source="/skillbridge/registry",
    )
    return record.key, record.value, [(k, v.encode()) for k, v in record.headers.items()]


async def test_poison_goes_to_dlq_duplicates_are_skipped_and_the_partition_moves_on(
    lone_training: Service, bootstrap: str
) -> None:
    # All on one key, so one partition: the good records after the bad ones must still arrive.
    key = str(uuid.uuid4())
    good = _registered(key)
    bad_type_data = (
        key.encode(),
        b'{"person_id": 1}',
        [(k, v) for k, v in good[2] if k != "ce_id"] + [("ce_id", b"bad-1")],
    )
    no_headers: tuple[bytes, bytes, list[tuple[str, bytes]]] = (key.encode(), b"\x00garbage", [])
    other = _registered(str(uuid.uuid4()))
    await _produce(bootstrap, [no_headers, bad_type_data, good, good, other])

    assert lone_training.consumer is not None
    consumer = lone_training.consumer
    # The session's broker carries other tests' registrations too: look for these two.
    await eventually(
        lambda: known(lone_training, [key, other[0].decode()]),
        lambda found: len(found) == 2,
        what="good records applied",
    )
    dlq = await eventually(
        lambda: read_topics(bootstrap, [dlq_topic(REGISTRY)]),
        lambda found: len([r for r in found if r.key == key]) >= 2,
        what="two records dead-lettered",
    )
    mine = [r for r in dlq if r.key == key]
    assert len(mine) == 2
    for record in mine:
        assert record.headers["dlq_original_topic"] == REGISTRY
        assert record.headers["dlq_consumer"] == "skillbridge.training"
        assert record.headers["dlq_error"]
    assert {r.headers["dlq_error_type"] for r in mine} == {"PoisonMessage"}
    assert consumer.duplicates >= 1  # the same ce_id delivered twice was applied once
    # The record whose data did not parse was dead-lettered, not applied as a person.
    assert await known(lone_training, ["1"]) == set()


async def test_outbox_rows_become_cloudevents_on_the_topic_and_are_marked_sent(
    lone_training: Service, bootstrap: str
) -> None:
    from services.training.tables import Outbox
    from shared.outbox import stage

    person = str(uuid.uuid4())
    async with lone_training.db.transaction() as session:
        stage(
            session,
            Outbox,
            LearnerEnrolled(
                person_id=person,
                enrolment_id="e-1",
                programme_code="p",
                cohort_code="c",
                occupation="gardener",
                enrolled_at=datetime.now(UTC),
            ),
            source=lone_training.source,
        )

    found = await eventually(
        lambda: read_topics(bootstrap, [TRAINING]),
        lambda records: any(r.key == person for r in records),
        what="outbox row published",
    )
    record = next(r for r in found if r.key == person)
    assert record.ce_type == LearnerEnrolled.ce_type()
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["ce_source"] == "/skillbridge/training"
    assert record.headers["traceparent"].startswith("00-")
    assert record.data["occupation"] == "gardener"
    # Marked sent: a further relay pass publishes nothing more.
    assert await lone_training.relay.publish_pending() == 0
    assert json.loads(json.dumps(record.data))["person_id"] == person
