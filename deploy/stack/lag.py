"""Consumer lag and dead-letter depth, read from the broker.

Lag is a group's committed offset against the partition's true end (`shared.kafka.
partition_ends`: the embedded Tansu broker's ListOffsets undercounts). Offsets are asked
for by partition: Tansu breaks the connection on an OffsetFetch for "all the group's
partitions" (no topics named), so every group is asked about every topic's partitions and
what it never committed is left out, unless the group is one a service says it runs
(`expected`), whose never-committed partitions lag by their whole length.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.stack.dlq import REDRIVE_GROUP, SUFFIX
from shared.kafka import client_options, partition_ends


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - (self.committed or 0), 0)

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "lag": self.lag}


@dataclass(frozen=True)
class DlqDepth:
    topic: str
    records: int  # every record the topic ever received
    pending: int  # not re-driven yet (`skillbridge dlq redrive` commits what it re-drove)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def lags(
    ends: Mapping[TopicPartition, int],
    committed: Mapping[str, Mapping[TopicPartition, int]],
    expected: Mapping[str, Sequence[str]],
) -> list[PartitionLag]:
    """One row per (group, partition): each group's committed partitions, and every
    partition of the topics an expected group consumes (committed or not)."""
    rows: list[PartitionLag] = []
    for group in sorted({*committed, *expected}):
        offsets = committed.get(group, {})
        wanted = set(expected.get(group, ()))
        for tp in sorted(ends, key=lambda t: (t.topic, t.partition)):
            offset = offsets.get(tp)
            if offset is None and tp.topic not in wanted:
                continue
            rows.append(PartitionLag(group, tp.topic, tp.partition, offset, ends[tp]))
    return rows


def dlq_depths(
    ends: Mapping[TopicPartition, int], redriven: Mapping[TopicPartition, int]
) -> list[DlqDepth]:
    depth: dict[str, list[int]] = {}
    for tp, end in ends.items():
        if tp.topic.endswith(SUFFIX):
            total = depth.setdefault(tp.topic, [0, 0])
            total[0] += end
            total[1] += max(end - redriven.get(tp, 0), 0)
    return [DlqDepth(t, n, p) for t, (n, p) in sorted(depth.items())]


async def _committed(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    answer = await admin.list_consumer_group_offsets(group, partitions=partitions)
    return {tp: meta.offset for tp, meta in answer.items() if meta.offset >= 0}


async def read(
    bootstrap: str, expected: Mapping[str, Sequence[str]] | None = None
) -> tuple[list[PartitionLag], list[DlqDepth]]:
    """Every consumer group's lag and every dead-letter topic's depth, now."""
    expected = expected or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
        groups = sorted(
            {g for g, _ in await admin.list_consumer_groups()} | set(expected) | {REDRIVE_GROUP}
        )
        ends = await partition_ends(bootstrap, topics)
        partitions = sorted(ends, key=lambda t: (t.topic, t.partition))
        committed = {g: await _committed(admin, g, partitions) for g in groups} if ends else {}
    finally:
        await admin.close()
    redriven = committed.pop(REDRIVE_GROUP, {})
    consumed = {tp: end for tp, end in ends.items() if not tp.topic.endswith(SUFFIX)}
    return lags(consumed, committed, expected), dlq_depths(ends, redriven)


def total_by_group(rows: Iterable[PartitionLag]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.group] = totals.get(row.group, 0) + row.lag
    return totals
