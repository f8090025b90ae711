"""Topic names: one per producing service and major version, one per partner (ARCHITECTURE.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

SERVICES = ("registry", "training", "certification", "funding")

_PARTNER_CODE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


def service_topic(service: str, major: int = 1) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {SERVICES}")
    return f"skillbridge.{service}.v{major}"


def partner_topic(partner_code: str, major: int = 1) -> str:
    if not _PARTNER_CODE.match(partner_code):
        raise ValueError(f"partner code {partner_code!r} must match {_PARTNER_CODE.pattern}")
    return f"skillbridge.partner.{partner_code}.v{major}"


def private_topic(producer: str, audience: str, major: int = 1) -> str:
    """A topic only `audience` may read (ACL on the `skillbridge.private.` prefix): for
    personal data one service hands another, never broadcast (docs/decisions/0010)."""
    if producer not in SERVICES or audience not in SERVICES:
        raise ValueError(f"unknown service in {producer!r} -> {audience!r}")
    return f"skillbridge.private.{producer}-to-{audience}.v{major}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


REGISTRY = service_topic("registry")
TRAINING = service_topic("training")
CERTIFICATION = service_topic("certification")
FUNDING = service_topic("funding")
BROADCAST_TOPICS = (REGISTRY, TRAINING, CERTIFICATION, FUNDING)


# --- The topic table: what `skillbridge topics create|describe` (and a cluster's operator)
# holds every topic to. One row a topic; the broker's own defaults are never relied on.

DAY_MS = 24 * 60 * 60 * 1000
# On a real cluster: three copies, and a write acknowledged only once two have it, so one
# broker can be lost (or restarted in a rollout) without losing or refusing an event.
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2
PARTITIONS = 3  # as KAFKA_TOPIC_PARTITIONS, what services create missing topics with

# Retention by kind of topic, and why.
RETENTION_MS: dict[str, int] = {
    # The event log: kept forever, so a read model (the dashboard's rebuild) or a new
    # consumer can replay from the start. Erasure is an event, not a deletion (0007).
    "broadcast": -1,
    # Personal data handed from one service to another (0010): only as long as the
    # consumer may be down, then gone.
    "private": 7 * DAY_MS,
    # Referrals to a lender: a month for its systems to catch up after an outage.
    "partner": 30 * DAY_MS,
    # Dead letters: a month to look at them and re-drive (0005).
    "dlq": 30 * DAY_MS,
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    kind: str  # a key of RETENTION_MS
    partitions: int = PARTITIONS
    replication_factor: int = REPLICATION_FACTOR
    min_insync_replicas: int = MIN_INSYNC_REPLICAS

    @property
    def retention_ms(self) -> int:
        return RETENTION_MS[self.kind]

    def configs(self) -> dict[str, str]:
        """The topic-level configs to create it with (Kafka's names)."""
        return {
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(self.min_insync_replicas),
        }

    def on(self, brokers: int) -> TopicSpec:
        """The spec as a cluster of `brokers` can hold it: a single broker (the embedded one,
        a developer's Kafka) cannot keep three copies, nor require two in sync."""
        factor = min(self.replication_factor, max(brokers, 1))
        return replace(
            self,
            replication_factor=factor,
            min_insync_replicas=min(self.min_insync_replicas, factor),
        )


def private_topics() -> list[str]:
    """Every private topic the event catalogue declares (shared.events names them)."""
    from shared.events import CATALOGUE, PARTNER  # shared.events imports this module

    return sorted({c.topic() for c in CATALOGUE if c.audience not in (None, PARTNER)})


def topic_specs(partner_codes: Iterable[str], partitions: int = PARTITIONS) -> list[TopicSpec]:
    """Every topic of a deployment with these partners: the broadcast topics, the private
    ones, one per partner, and a dead-letter topic for each topic a service consumes (the
    broadcast and private ones; partners' topics are consumed by the partners)."""
    consumed = [*BROADCAST_TOPICS, *private_topics()]
    specs = [TopicSpec(t, "broadcast", partitions) for t in BROADCAST_TOPICS]
    specs += [TopicSpec(t, "private", partitions) for t in private_topics()]
    specs += [
        TopicSpec(partner_topic(code), "partner", partitions) for code in sorted(set(partner_codes))
    ]
    specs += [TopicSpec(dlq_topic(t), "dlq", partitions) for t in consumed]
    return specs
