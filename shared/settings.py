"""Settings base: each service subclasses it with its own env prefix (REGISTRY_, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
