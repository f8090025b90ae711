"""Dead-letter topics for operators: see what is there, and re-drive it once the cause is
fixed (docs/decisions/0005).

Re-driving publishes each record back to its original topic with its CloudEvents headers
(the `dlq_*` ones dropped) and commits the dead-letter topic's offset in a consumer group of
its own, so a record is re-driven once. Records re-driven twice (a crash between publish and
commit) are harmless: consumers skip an event id they already applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.stack.topics import read_topics
from shared.kafka import client_options

REDRIVE_GROUP = "skillbridge.dlq-redrive"
SUFFIX = ".dlq"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    key: str
    ce_type: str
    ce_id: str
    consumer: str
    error_type: str
    error: str
    failed_at: str
    original: str  # topic[partition]@offset


async def dlq_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.endswith(SUFFIX))
    finally:
        await admin.close()


async def dead_letters(bootstrap: str, topics: list[str] | None = None) -> list[DeadLetter]:
    """Every record on the dead-letter topics (re-driven ones included: the topic keeps them)."""
    observed = await read_topics(bootstrap, topics or await dlq_topics(bootstrap))
    return [
        DeadLetter(
            topic=o.topic,
            key=o.key,
            ce_type=o.ce_type or "?",
            ce_id=o.ce_id or "?",
            consumer=o.headers.get("dlq_consumer", "?"),
            error_type=o.headers.get("dlq_error_type", "?"),
            error=o.headers.get("dlq_error", ""),
            failed_at=o.headers.get("dlq_failed_at", ""),
            original=(
                f"{o.headers.get('dlq_original_topic', '?')}"
                f"[{o.headers.get('dlq_original_partition', '?')}]"
                f"@{o.headers.get('dlq_original_offset', '?')}"
            ),
        )
        for o in observed
    ]


async def redrive(
    bootstrap: str,
    topic: str,
    *,
    group: str = REDRIVE_GROUP,
    progress: Callable[[str], None] = print,
) -> int:
    """Publish the records of `topic` (a `.dlq`) not re-driven yet back to their original
    topic; returns how many. Only what is there when it starts: a record that fails again
    and comes back is left for the next run."""
    if not topic.endswith(SUFFIX):
        raise ValueError(f"{topic!r} is not a dead-letter topic (it must end in {SUFFIX})")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_options())
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.topics()  # refresh metadata once: the topic may be new to us
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        if not partitions:
            raise ValueError(f"no topic {topic!r} on {bootstrap}")
        consumer.assign(partitions)  # no group membership to wait for; offsets still committed
        end = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
        sent = 0
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    headers = [(k, v) for k, v in record.headers if not k.startswith("dlq_")]
                    original = dict(record.headers).get("dlq_original_topic")
                    target = original.decode() if original else topic[: -len(SUFFIX)]
                    await producer.send_and_wait(
                        target, record.value, key=record.key, headers=headers
                    )
                    await consumer.commit({tp: record.offset + 1})
                    sent += 1
                    if sent % 100 == 0:
                        progress(f"  re-driven {sent}")
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        progress(f"re-driven {sent} record(s) from {topic}")
        return sent
    finally:
        await producer.stop()
        await consumer.stop()
