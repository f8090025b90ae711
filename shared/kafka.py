"""Broker factory, topic administration and the dead-letter publisher."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import KafkaSecurity, ServiceSettings
from shared.topics import dlq_topic

log = logging.getLogger(__name__)

_SASL = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """Verifies the broker (hostname included) against KAFKA_SSL_CAFILE, or the system's CAs."""
    context = ssl.create_default_context(
        cafile=str(security.kafka_ssl_cafile) if security.kafka_ssl_cafile else None
    )
    if security.kafka_ssl_certfile is not None:
        context.load_cert_chain(
            str(security.kafka_ssl_certfile),
            str(security.kafka_ssl_keyfile) if security.kafka_ssl_keyfile else None,
        )
    return context


def broker_security(security: KafkaSecurity) -> BaseSecurity | None:
    """The one translation of the KAFKA_SECURITY_* settings: FastStream's security object.

    aiokafka's keyword arguments (`client_options`) are derived from it by FastStream's own
    parser, so the services' broker and every other client connect the same way.
    """
    context = ssl_context(security) if security.kafka_uses_ssl else None
    if security.kafka_uses_sasl:
        assert security.kafka_sasl_username and security.kafka_sasl_password  # validated
        return _SASL[security.kafka_sasl_mechanism](
            security.kafka_sasl_username,
            security.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=security.kafka_uses_ssl,
        )
    if context is not None:
        return BaseSecurity(ssl_context=context)
    return None


def client_options(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin client (empty for
    PLAINTEXT). Without an argument: from the environment, as the CLI runs."""
    return parse_security(broker_security(security or KafkaSecurity()))


def librdkafka_config(security: KafkaSecurity | None = None) -> dict[str, str]:
    """The same settings as librdkafka properties (kcat, confluent-kafka's admin client)."""
    security = security or KafkaSecurity()
    config: dict[str, str] = {"security.protocol": security.kafka_security_protocol}
    if security.kafka_uses_sasl:
        assert security.kafka_sasl_username and security.kafka_sasl_password  # validated
        config["sasl.mechanisms"] = security.kafka_sasl_mechanism
        config["sasl.username"] = security.kafka_sasl_username
        config["sasl.password"] = security.kafka_sasl_password.get_secret_value()
    for name, path in (
        ("ssl.ca.location", security.kafka_ssl_cafile),
        ("ssl.certificate.location", security.kafka_ssl_certfile),
        ("ssl.key.location", security.kafka_ssl_keyfile),
    ):
        if path is not None:
            config[name] = str(path)
    return config


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=broker_security(settings),
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=f"skillbridge-{settings.service_name}",
        log_level=logging.DEBUG,  # FastStream's per-batch lines would drown the service log
        linger_ms=settings.producer_linger_ms,  # docs/decisions/0016
    )


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    security: KafkaSecurity | None = None,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> None:
    """Create topics that do not exist yet (idempotent; existing ones are left alone), with
    `min.insync.replicas` when given (else the broker's default)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options(security))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if not missing:
            return
        configs = (
            {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
        )
        response = await admin.create_topics(
            [
                NewTopic(name, partitions, replication_factor, topic_configs=configs)
                for name in missing
            ]
        )
        for topic, code, message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"cannot create topic {topic}: {code} {message}")
    finally:
        await admin.close()


async def records_on_broker(
    bootstrap: str,
    topics: Iterable[str],
    security: KafkaSecurity | None = None,
    timeout: float = 10.0,
) -> dict[str, int]:
    """How many records each topic has ever received: its partitions' end offsets summed.

    End offsets never go down on Kafka (retention moves the start, not the end), so a count
    below what we know we published means the broker lost records. A missing topic counts 0.
    """
    names = list(dict.fromkeys(topics))
    counts = dict.fromkeys(names, 0)
    for tp, end in (await partition_ends(bootstrap, names, security, timeout)).items():
        counts[tp.topic] += end
    return counts


async def partition_ends(
    bootstrap: str,
    topics: Iterable[str],
    security: KafkaSecurity | None = None,
    timeout: float = 10.0,
) -> dict[TopicPartition, int]:
    """Each partition's true end offset (the next offset to be written) of these topics.

    Tansu's ListOffsets answers the last batch's base offset + 1 instead of the end (30
    records in 3 batches of 10: 21), so a partition's high watermark is also read from a
    fetch of its last batch (30 there); on Kafka both agree.
    """
    names = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options(security))
    await admin.start()
    try:  # all topics: asking for one by name may auto-create it on Kafka
        described = {t["topic"]: t for t in await admin.describe_topics()}
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic, p["partition"])
        for topic in names
        if topic in described and described[topic]["error_code"] == 0
        for p in described[topic]["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        client_id="skillbridge-replay",
        **client_options(security),
    )
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = (
            await consumer.end_offsets(partitions) if partitions else {}
        )
        written = [tp for tp, end in ends.items() if end > 0]
        if written:
            consumer.assign(written)
            for tp in written:
                consumer.seek(tp, ends[tp] - 1)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(
                consumer.highwater(tp) is None for tp in written
            ):
                await consumer.getmany(*written, timeout_ms=200, max_records=1)
        return {
            tp: max(end, (consumer.highwater(tp) if tp in written else None) or 0)
            for tp, end in ends.items()
        }
    finally:
        await consumer.stop()


async def track_topic(broker: KafkaBroker, topic: str) -> None:
    """Make the producer track `topic` in its metadata requests.

    Tansu answers a metadata request for no topics with all of them, so aiokafka learns
    a topic without tracking it; a later request for another topic then drops it from
    the cached metadata and a pending batch for it waits forever for a leader
    (docs/decisions/0006). Tracking every topic we publish to avoids that.
    """
    client = broker.config.producer._producer.producer.client  # type: ignore[attr-defined]
    await client.add_topic(topic)


def publisher_for(broker: KafkaBroker) -> Any:
    """The outbox relay's publish function: returns the broker's acknowledgement future."""
    tracked: set[str] = set()

    async def publish(
        topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[Any]:
        if topic not in tracked:
            await track_topic(broker, topic)
            tracked.add(topic)
        return await broker.publish(value, topic=topic, key=key, headers=headers, no_confirm=True)

    return publish


class DeadLetters:
    """Publishes a record that cannot be processed to `<topic>.dlq`, error in the headers."""

    def __init__(self, broker: KafkaBroker, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer
        self.sent = 0

    async def send(self, record: ConsumerRecord, error: BaseException) -> None:
        headers = {
            name: raw.decode("utf-8", errors="replace")
            for name, raw in (record.headers or ())
            if not name.startswith("dlq_")
        }
        headers.update(
            {
                "dlq_error": str(error)[:2000],
                "dlq_error_type": type(error).__name__,
                "dlq_original_topic": record.topic,
                "dlq_original_partition": str(record.partition),
                "dlq_original_offset": str(record.offset),
                "dlq_consumer": self._consumer,
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }
        )
        topic = dlq_topic(record.topic)
        await track_topic(self._broker, topic)
        await self._broker.publish(
            record.value or b"", topic=topic, key=record.key, headers=headers
        )
        self.sent += 1
        log.warning(
            "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error
        )
