"""Settings base: each service subclasses it with its own env prefix (REGISTRY_, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name.upper(), name)


class KafkaSecurity(BaseSettings):
    """How a client authenticates to the broker and protects the connection (TLS, SASL).

    Unprefixed names, as for KAFKA_BOOTSTRAP_SERVERS: every process (service, CLI, example
    lender) reads the same variables, each with its own principal's username.
    `shared.kafka` turns them into what FastStream, aiokafka and librdkafka take.
    """

    model_config = SettingsConfigDict(extra="ignore")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias=_env("kafka_security_protocol")
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        default="SCRAM-SHA-512", validation_alias=_env("kafka_sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        default=None, min_length=1, validation_alias=_env("kafka_sasl_username")
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=_env("kafka_sasl_password")
    )
    # CA bundle to verify the broker with (default: the system's); a client certificate and
    # key only for brokers that authenticate clients by TLS (mutual TLS).
    kafka_ssl_cafile: Path | None = Field(default=None, validation_alias=_env("kafka_ssl_cafile"))
    kafka_ssl_certfile: Path | None = Field(
        default=None, validation_alias=_env("kafka_ssl_certfile")
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, validation_alias=_env("kafka_ssl_keyfile"))

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_uses_ssl(self) -> bool:
        return self.kafka_security_protocol.endswith("SSL")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        protocol = self.kafka_security_protocol
        if self.kafka_uses_sasl:
            if not self.kafka_sasl_username:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME")
            if self.kafka_sasl_password is None or not self.kafka_sasl_password.get_secret_value():
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_PASSWORD")
        elif self.kafka_sasl_username or self.kafka_sasl_password:
            # Credentials that would silently not be sent are a misconfiguration.
            raise ValueError(
                f"KAFKA_SASL_USERNAME/PASSWORD are set but KAFKA_SECURITY_PROTOCOL={protocol}; "
                "use SASL_SSL (or SASL_PLAINTEXT)"
            )
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not self.kafka_uses_ssl and any(tls_files):
            raise ValueError(
                f"KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL={protocol}; "
                "use SSL or SASL_SSL"
            )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        for path in tls_files:
            if path is not None and not path.is_file():
                raise ValueError(f"no such file: {path}")
        return self


class ServiceSettings(KafkaSecurity):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "skillbridge"
    database_url: str = "sqlite+aiosqlite:///var/skillbridge.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Installed at start-up as the "bootstrap-admin" key; it creates the other keys.
    admin_key: SecretStr | None = None

    # The broker is shared by all services, so these use the unprefixed names operators expect.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    # Off only for the embedded Tansu broker, which lacks InitProducerId (docs/decisions/0003).
    kafka_enable_idempotence: bool = Field(
        default=True,
        validation_alias=AliasChoices("KAFKA_ENABLE_IDEMPOTENCE", "kafka_enable_idempotence"),
    )
    topic_partitions: int = Field(
        default=3,
        ge=1,
        validation_alias=AliasChoices("KAFKA_TOPIC_PARTITIONS", "topic_partitions"),
    )

    # Shared by all services, so unprefixed (shared/logs.py): `json` writes one JSON object a
    # line for a log collector; `text`, the default, the readable lines of the demo.
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("LOG_FORMAT", "log_format")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level")
    )
    # How often a service that pushes metrics over OTLP refreshes its gauges (consumer lag,
    # outbox backlog); a Prometheus scrape refreshes them itself (shared/metrics.py).
    metrics_refresh_seconds: float = Field(default=10, gt=0)

    # Larger request bodies get 413 (shared/http.BodyLimit); a route may have its own.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    relay_batch_size: int = Field(default=500, ge=1)
    # A fallback only: a commit that staged events wakes the relay at once (shared/db.py).
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_retention_days: int = Field(default=7, ge=1)

    # How the topics a service creates if missing are replicated: 1 (and the broker's
    # min.insync.replicas) for the embedded broker and one-node compose; deploy/k8s sets 3
    # and 2, so that with acks=all a write survives one broker lost.
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("KAFKA_TOPIC_REPLICATION_FACTOR", "topic_replication_factor"),
    )
    topic_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices(
            "KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "topic_min_insync_replicas"
        ),
    )

    # Two deployments sharing one broker (or a benchmark's runs) need their own groups.
    consumer_group_prefix: str = Field(
        default="skillbridge",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        validation_alias=AliasChoices("KAFKA_CONSUMER_GROUP_PREFIX", "consumer_group_prefix"),
    )
    consumer_batch_size: int = Field(default=500, ge=1)
    # Latency at low load (docs/decisions/0016). The broker holds an empty fetch up to this
    # long and the embedded one often does not answer early when a record arrives;
    # aiokafka's 500 ms default put up to half a second on every hop. 20 ms cut another 5 ms
    # a hop but cost an idle service and its broker 2.5 times the CPU.
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=0)
    # How long an idle consumer waits for a first record; FastStream then sleeps as long
    # again before the next poll, so a record arriving in that sleep waits for it.
    consumer_batch_wait_ms: int = Field(default=10, ge=1)
    # Records the producer holds back to fill a batch. The relay hands a whole batch to the
    # producer before it yields, so batches fill without a linger (0016).
    producer_linger_ms: int = Field(default=0, ge=0)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_base_seconds: float = Field(default=0.2, gt=0)
    # Short enough that a crashed member is noticed quickly, long enough for GC pauses.
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    # aiokafka's default (5 min). A batch worked longer than this makes the member leave
    # its group; it rejoins on its next poll, the batch's offsets fail to commit and the
    # batch comes again, which the inbox skips: one rebalance, not a loop (0005). Settable
    # so a test can provoke it in seconds (tests/faults/test_slow_consumer.py).
    consumer_max_poll_interval_ms: int = Field(default=300_000, ge=1000)

    # Event signatures (docs/decisions/0013). The service's own private key (PEM or base64);
    # without it the key is `<event_keys_dir>/<service>.pem`, created at start if absent.
    event_signing_key: SecretStr | None = None
    # Shared by all services, so unprefixed: where the `.pem`/`.pub` files live, and the
    # public keys given explicitly (JSON object: service -> base64 raw Ed25519 key).
    event_keys_dir: Path = Field(
        default=Path("var/keys"),
        validation_alias=AliasChoices("EVENT_KEYS_DIR", "event_keys_dir"),
    )
    event_public_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("EVENT_PUBLIC_KEYS", "event_public_keys"),
    )

    @model_validator(mode="after")
    def _replicas_fit(self) -> Self:
        if (self.topic_min_insync_replicas or 1) > self.topic_replication_factor:
            raise ValueError(
                "KAFKA_TOPIC_MIN_INSYNC_REPLICAS exceeds KAFKA_TOPIC_REPLICATION_FACTOR: "
                "no write with acks=all could succeed"
            )
        return self

    @field_validator("event_public_keys", mode="before")
    @classmethod
    def _public_keys_json(cls, value: Any) -> Any:
        # Blank means none (compose passes `${EVENT_PUBLIC_KEYS:-}` through).
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("event_signing_key", mode="before")
    @classmethod
    def _blank_signing_key(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value
