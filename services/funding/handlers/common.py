"""What several funding use cases share: the event source, telling a lender, locks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import webhooks
from services.funding.tables import Outbox, SharedData, WebhookDelivery, WebhookEndpoint
from shared.batch import Delivered, rounds
from shared.db import lock_aggregate, lock_aggregates
from shared.envelope import source_of
from shared.events import LoanReferralHeld, ReferralEvent
from shared.outbox import stage
from shared.topics import partner_topic

SOURCE = source_of("funding")


async def lock_person(session: AsyncSession, person_id: str) -> None:
    """Everything about one person's referrals is decided under this lock: facts arrive on
    several topics and partners write at the same time (write skew otherwise)."""
    await lock_aggregate(session, f"funding:{person_id}")


async def lock_people(session: AsyncSession, person_ids: Iterable[str]) -> None:
    """`lock_person` for a batch's people, in one statement and one order."""
    await lock_aggregates(session, (f"funding:{p}" for p in person_ids))


class _OfAPerson(Protocol):
    @property
    def person_id(self) -> str: ...


P = TypeVar("P", bound=_OfAPerson)


async def locked_rounds(
    session: AsyncSession, batch: Sequence[Delivered[P]]
) -> AsyncIterator[tuple[list[P], dict[str, Delivered[P]]]]:
    """A batch's events in rounds (one person's in offset order), each round under its
    people's locks; with each round, the delivery per person that continues its trace."""
    for round_ in rounds(batch, lambda d: d.event.person_id):
        await lock_people(session, [d.event.person_id for d in round_])
        yield [d.event for d in round_], {d.event.person_id: d for d in round_}


async def stage_referral_event(session: AsyncSession, event: ReferralEvent) -> str | None:
    """Stage a referral event for everyone allowed to see it; returns the lender-topic id.

    Broadcast events (no personal data) go to the funding topic; everything the lender may
    see goes to its own topic and to its webhooks. A held referral is not the lender's
    business until the person consents: LoanReferralHeld is broadcast only.
    """
    if event.is_broadcast():
        stage(session, Outbox, event, source=SOURCE)
    if isinstance(event, LoanReferralHeld):
        return None
    event_id = stage(session, Outbox, event, source=SOURCE, topic=partner_topic(event.lender_code))
    await enqueue_webhooks(session, event, event_id)
    return event_id


async def enqueue_webhooks(session: AsyncSession, event: ReferralEvent, event_id: str) -> int:
    """One persisted delivery per live endpoint of the lender, in the event's transaction."""
    endpoints = await live_endpoints(session, event.lender_code)
    now = datetime.now(UTC)
    for endpoint_id in endpoints:
        session.add(
            WebhookDelivery(
                delivery_id=str(uuid.uuid4()),
                endpoint_id=endpoint_id,
                lender_code=event.lender_code,
                referral_id=event.referral_id,
                event_id=event_id,
                ce_type=event.ce_type(),
                body=webhooks.structured(event, event_id=event_id, source=SOURCE, time=now),
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(endpoints)


_ENDPOINTS = "funding.webhook_endpoints"


async def live_endpoints(session: AsyncSession, lender_code: str) -> list[str]:
    """The lender's live webhook endpoints, looked up once per transaction (a consumer batch
    stages many events for few lenders)."""
    cache: dict[str, list[str]] = session.info.setdefault(_ENDPOINTS, {})
    if lender_code not in cache:
        rows = await session.exec(
            select(WebhookEndpoint.endpoint_id).where(
                WebhookEndpoint.lender_code == lender_code,
                col(WebhookEndpoint.disabled_at).is_(None),
            )
        )
        cache[lender_code] = list(rows.all())
    return cache[lender_code]


async def read_endpoints(session: AsyncSession, lender_codes: Iterable[str]) -> None:
    """`live_endpoints` of these lenders read ahead in one query (a batch's decisions then
    stage their events without a query between them)."""
    cache: dict[str, list[str]] = session.info.setdefault(_ENDPOINTS, {})
    wanted = sorted(set(lender_codes) - set(cache))
    if not wanted:
        return
    rows = await session.exec(
        select(WebhookEndpoint.lender_code, WebhookEndpoint.endpoint_id).where(
            col(WebhookEndpoint.lender_code).in_(wanted),
            col(WebhookEndpoint.disabled_at).is_(None),
        )
    )
    for code in wanted:
        cache[code] = []
    for code, endpoint_id in rows.all():
        cache[code].append(endpoint_id)


async def has_webhooks(session: AsyncSession, lender_code: str) -> bool:
    return bool(await live_endpoints(session, lender_code))


async def drop_rows(session: AsyncSession, table: type[SharedData], *where: object) -> None:
    for row in (await session.exec(select(table).where(*where))).all():  # type: ignore[arg-type]
        await session.delete(row)
