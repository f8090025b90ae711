"""Topics on a real broker: read a topic's records (each event once), and publish events
the way a service does, from a plain producer standing in for it."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from deploy.stack.topics import Observed, distinct, read_topics
from shared.envelope import encode, source_of
from shared.events import Event


async def topic_records(bootstrap: str, topic: str) -> list[Observed]:
    """Every event now on the topic, once per CloudEvents id (delivery is at-least-once)."""
    return distinct(await read_topics(bootstrap, [topic]))


class Upstream:
    """Publishes registry and certification events the way those services do (CloudEvents,
    binary mode, keyed by person), with a plain aiokafka producer."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2
        )
        self._tracked: set[str] = set()
        self.sent = 0

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, event: Event, *, ce_id: str | None = None) -> str:
        record = encode(event, source=source_of(event.service), event_id=ce_id)
        topic = event.topic()
        if topic not in self._tracked:  # docs/decisions/0006: track every topic we write to
            await self._producer.client.add_topic(topic)
            self._tracked.add(topic)
        await self._producer.send_and_wait(
            topic,
            record.value,
            key=record.key,
            headers=[(k, v.encode()) for k, v in record.headers.items()],
        )
        self.sent += 1
        return record.headers["ce_id"]
