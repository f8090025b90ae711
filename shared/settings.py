"""Settings base: each service subclasses it with its own env prefix (REGISTRY_, ...)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
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

    # Larger request bodies get 413 (shared/http.BodyLimit); a route may have its own.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_retention_days: int = Field(default=7, ge=1)

    # Two deployments sharing one broker (or a benchmark's runs) need their own groups.
    consumer_group_prefix: str = Field(
        default="skillbridge",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        validation_alias=AliasChoices("KAFKA_CONSUMER_GROUP_PREFIX", "consumer_group_prefix"),
    )
    consumer_batch_size: int = Field(default=500, ge=1)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_base_seconds: float = Field(default=0.2, gt=0)
    # Short enough that a crashed member is noticed quickly, long enough for GC pauses.
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
