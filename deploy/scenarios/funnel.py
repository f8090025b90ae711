"""Reads the public topics from the beginning, as a dashboard would, and counts the funnel."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import events
from shared.kafka import client_options
from shared.topics import BROADCAST_TOPICS


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
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
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


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def distinct(observed: Iterable[Observed]) -> list[Observed]:
    """One per CloudEvents id: at-least-once delivery may have written a record twice."""
    unique: dict[str, Observed] = {}
    for item in observed:
        unique.setdefault(item.ce_id, item)
    return list(unique.values())


def funnel(observed: Iterable[Observed]) -> dict[str, int]:
    broadcast = [o for o in distinct(observed) if o.topic in BROADCAST_TOPICS]
    by_type = Counter(o.ce_type for o in broadcast)

    def people(event: type[events.Event]) -> int:
        return len({o.key for o in broadcast if o.ce_type == event.ce_type()})

    return {
        "registered": by_type[events.PersonRegistered.ce_type()],
        "consented": people(events.ConsentGranted),
        "enrolled": by_type[events.LearnerEnrolled.ce_type()],
        "completed": by_type[events.TrainingCompleted.ce_type()],
        "not_completed": by_type[events.TrainingNotCompleted.ce_type()],
        "certified": by_type[events.QualificationAwarded.ce_type()],
        "failed_assessment": by_type[events.AssessmentFailed.ce_type()],
        "referred_people": people(events.LoanReferralCreated),
        "referrals": by_type[events.LoanReferralCreated.ce_type()],
    }


def referrals(observed: Iterable[Observed]) -> set[tuple[str, str]]:
    """(person_id, product_code) of every LoanReferralCreated on the funding topic."""
    return {
        (o.key, str(o.data["product_code"]))
        for o in distinct(observed)
        if o.ce_type == events.LoanReferralCreated.ce_type() and o.topic in BROADCAST_TOPICS
    }


def render(counts: Mapping[str, int], target: int, per_lender: Mapping[str, int]) -> str:
    width = max(counts.values(), default=1) or 1
    lines = ["", "SkillBridge funnel (from the public topics)", "-" * 60]
    for stage, n in counts.items():
        bar = "#" * round(30 * n / width)
        lines.append(f"{stage:>18} {n:>7,}  {bar}")
    lines.append("-" * 60)
    for stage in ("enrolled", "completed"):
        pct = 100 * counts.get(stage, 0) / target if target else 0.0
        lines.append(
            f"achievement, all programmes ({stage}): {counts.get(stage, 0):,} of {target:,} "
            f"target = {pct:.0f}%"
        )
    if per_lender:
        lines.append(
            "referrals per lender topic: "
            + ", ".join(f"{code} {n}" for code, n in sorted(per_lender.items()))
        )
    return "\n".join(lines)
