"""In-process service fixtures: the real app on the session broker and a fresh database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from services.registry.__main__ import build as build_registry
from services.registry.settings import RegistrySettings
from services.training.__main__ import build as build_training
from services.training.settings import TrainingSettings
from shared.runtime import Service
from shared.telemetry import setup_telemetry
from tests.support import RunningRegistry, RunningTraining, admin_client


@pytest.fixture
async def lone_training(bootstrap: str, database_urls: dict[str, str]) -> AsyncIterator[Service]:
    """Training alone on the session broker: for the consumer and outbox plumbing."""
    settings = TrainingSettings(
        database_url=database_urls["training"],
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_ENABLE_IDEMPOTENCE=False,
        consumer_retry_base_seconds=0.05,
    )
    setup_telemetry("skillbridge-training")  # as `python -m services.training` does
    service = build_training(settings)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def registry(bootstrap: str, database_urls: dict[str, str]) -> AsyncIterator[RunningRegistry]:
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    settings = RegistrySettings(
        database_url=database_urls["registry"],
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin_key,
    )
    service = build_registry(settings)
    await service.start()
    client = admin_client(service, "registry", admin_key)
    try:
        yield RunningRegistry(service, client, admin_key)
    finally:
        await client.aclose()
        await service.stop()


@pytest.fixture
async def training(
    bootstrap: str, database_urls: dict[str, str], registry: RunningRegistry
) -> AsyncIterator[RunningTraining]:
    """Training beside the registry, fed only by the registry's events on the broker."""
    settings = TrainingSettings(
        database_url=database_urls["training"],
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=registry.admin_key,
    )
    service = build_training(settings)
    await service.start()
    client = admin_client(service, "training", registry.admin_key)
    try:
        yield RunningTraining(service, client)
    finally:
        await client.aclose()
        await service.stop()
