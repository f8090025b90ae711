"""Reads topics from the beginning without a consumer group: every record with its CloudEvents
headers (the funnel, the dead-letter tools and the tests read the broker this way)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import client_options


@dataclass(frozen=True)
class Observed:
    topic: str
    key: str
    ce_id: str
    ce_type: str
    ce_time: datetime | None
    headers: dict[str, str]
    data: dict[str, object]
    received_at: float


async def read_topics(bootstrap: str, topics: Sequence[str]) -> list[Observed]:
    """Every record now on the topics (from offset 0 to the end), without a consumer group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options()
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(
                consumer.partitions_for_topic(topic) or await partitions_of(consumer, topic)
            )
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        seen: list[Observed] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                    time_header = headers.get("ce_time")
                    seen.append(
                        Observed(
                            topic=record.topic,
                            key=(record.key or b"").decode(),
                            ce_id=headers.get("ce_id", ""),
                            ce_type=headers.get("ce_type", ""),
                            ce_time=datetime.fromisoformat(time_header) if time_header else None,
                            headers=headers,
                            data=_json_object(record.value),
                            received_at=time.time(),
                        )
                    )
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return seen
    finally:
        await consumer.stop()


def _json_object(value: bytes | None) -> dict[str, object]:
    # Dead-letter topics hold whatever could not be parsed; keep reading past it.
    try:
        data = json.loads(value or b"")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def distinct(observed: Iterable[Observed]) -> list[Observed]:
    """One per CloudEvents id: at-least-once delivery may have written a record twice."""
    unique: dict[str, Observed] = {}
    for item in observed:
        unique.setdefault(item.ce_id, item)
    return list(unique.values())
