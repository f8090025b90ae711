"""Funding on a real broker and database, fed by upstream events a plain producer publishes
(as the registry and certification would), and read by lenders through their topics and API.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.stack.topics import Observed, distinct, read_topics
from services.funding.__main__ import build
from services.funding.settings import FundingSettings
from shared.envelope import encode, source_of
from shared.events import (
    ConsentGranted,
    Event,
    PersonalDataShared,
    PersonRegistered,
    QualificationAwarded,
    SharedPersonalData,
)
from shared.runtime import Service
from shared.topics import partner_topic
from tests.conftest import tansu
from tests.integration.conftest import admin_client
from tests.support import eventually


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of each test's own: funding's replica and the partner topics hold exactly
    this test's data."""
    yield from tansu(tmp_path)


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


@dataclass
class RunningFunding:
    service: Service
    client: httpx.AsyncClient  # operator, admin key
    upstream: Upstream
    bootstrap: str
    partners: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def partner(self, lender: str) -> httpx.AsyncClient:
        """An in-process client with a fresh key of this lender's."""
        if lender not in self.partners:
            created = ok(
                await self.client.post(f"/lenders/{lender}/keys", json={"name": "loan-system"}),
                201,
            )
            self.partners[lender] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.service.app),
                base_url="http://funding",
                headers={"Authorization": f"Bearer {created['token']}"},
                timeout=30,
            )
        return self.partners[lender]

    def processed(self) -> int:
        consumer = self.service.consumer
        assert consumer is not None
        return consumer.processed + consumer.duplicates

    async def settled(self, before: int, sent: int) -> None:
        """Wait until funding consumed every upstream event sent since `before`."""
        await eventually(
            lambda: _value(self.processed()),
            lambda n: n >= before + sent,
            what=f"funding consumed {sent} upstream events",
        )

    async def referrals(self, **params: Any) -> list[dict[str, Any]]:
        return ok(await self.client.get("/referrals", params=params), 200)  # type: ignore[no-any-return]

    async def partner_topic(self, lender: str) -> list[Observed]:
        return distinct(await read_topics(self.bootstrap, [partner_topic(lender)]))


async def _value(value: int) -> int:
    return value


def ok(response: httpx.Response, *status: int) -> Any:
    assert response.status_code in status, f"{response.status_code}: {response.text}"
    return response.json()


def settings_for(
    bootstrap: str, database_url: str, admin_key: str, **extra: Any
) -> FundingSettings:
    return FundingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin_key,
        delivery_sweep_seconds=0.2,
        expiry_sweep_seconds=0.3,
        webhook_poll_seconds=0.1,
        webhook_backoff_base_seconds=0.3,
        relay_poll_seconds=0.1,
        webhook_max_attempts=4,
        **extra,
    )


@pytest.fixture
async def funding(
    request: pytest.FixtureRequest, bootstrap: str, database_urls: dict[str, str]
) -> AsyncIterator[RunningFunding]:
    """Funding with settings_for's values, and a test module's FUNDING_SETTINGS over them
    (webhook tests allow http to loopback there, for their local lender servers)."""
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    overrides = getattr(request.module, "FUNDING_SETTINGS", {})
    service = build(settings_for(bootstrap, database_urls["funding"], admin_key, **overrides))
    await service.start()
    upstream = Upstream(bootstrap)
    await upstream.start()
    client = admin_client(service, "funding", admin_key)
    running = RunningFunding(service, client, upstream, bootstrap)
    try:
        yield running
    finally:
        for partner in running.partners.values():
            await partner.aclose()
        await client.aclose()
        await upstream.stop()
        await service.stop()


# --- upstream facts -------------------------------------------------------------------------

NOW = datetime.now(UTC)


@dataclass
class Someone:
    person_id: str
    certificate_number: str


async def person(
    upstream: Upstream,
    *,
    province: str = "10",
    birth_year: int | None = 1990,
    consent: list[str | None] | None = None,
    categories: list[str] | None = None,
    occupation: str | None = "food-and-beverage-production",
    level: int = 2,
    valid_until: date = date(2030, 1, 1),
) -> Someone:
    """A registered person, with the loan-referral consents given (lender codes; None = any)
    and, if `occupation`, a qualification. Returns ids."""
    someone = Someone(str(uuid.uuid4()), "SB-" + secrets.token_hex(5).upper())
    await upstream.send(
        PersonRegistered(
            person_id=someone.person_id,
            province_code=province,
            birth_year=birth_year,
            registered_at=NOW,
        )
    )
    for lender in consent or []:
        granted = consent_granted(someone.person_id, lender, categories or [])
        await upstream.send(granted)
        if categories:  # as the registry does: the consented data on its private topic
            await upstream.send(shared_data(granted))
    if occupation:
        await upstream.send(award(someone, occupation, level, valid_until))
    return someone


def consent_granted(
    person_id: str, lender: str | None, categories: list[str], consent_id: str | None = None
) -> ConsentGranted:
    return ConsentGranted(
        person_id=person_id,
        consent_id=consent_id or str(uuid.uuid4()),
        purpose="loan-referral",
        lender_code=lender,
        data_categories=categories,
        granted_at=datetime.now(UTC),
    )


def shared_data(consent: ConsentGranted) -> PersonalDataShared:
    """The registry's answer to a consent that shares data (contact: a phone number)."""
    return PersonalDataShared(
        person_id=consent.person_id,
        consent_id=consent.consent_id,
        lender_code=consent.lender_code,
        data=SharedPersonalData(categories=consent.data_categories, phone="0812345678"),
        shared_at=datetime.now(UTC),
    )


def award(
    someone: Someone, occupation: str, level: int, valid_until: date = date(2030, 1, 1)
) -> QualificationAwarded:
    return QualificationAwarded(
        person_id=someone.person_id,
        certificate_number=someone.certificate_number,
        occupation=occupation,
        level=level,
        valid_until=valid_until,
        awarded_at=datetime.now(UTC),
    )
