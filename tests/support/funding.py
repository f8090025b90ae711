"""Funding as tests drive it: a running instance fed by upstream events a plain producer
publishes (as the registry and certification would), read by lenders through their topics
and API; and the upstream facts about a person."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from deploy.stack.topics import Observed
from services.funding.settings import FundingSettings
from shared.events import (
    ConsentGranted,
    PersonalDataShared,
    PersonRegistered,
    QualificationAwarded,
    SharedPersonalData,
)
from shared.runtime import Service
from shared.topics import partner_topic
from tests.support.http import ok
from tests.support.topics import Upstream, topic_records
from tests.support.waiting import eventually, returning


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
            lambda: returning(self.processed()),
            lambda n: n >= before + sent,
            what=f"funding consumed {sent} upstream events",
        )

    async def referrals(self, **params: Any) -> list[dict[str, Any]]:
        return ok(await self.client.get("/referrals", params=params), 200)  # type: ignore[no-any-return]

    async def partner_topic(self, lender: str) -> list[Observed]:
        return await topic_records(self.bootstrap, partner_topic(lender))


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
