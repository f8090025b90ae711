"""Webhook endpoints per lender, and the worker that drains the persisted delivery queue.

A delivery is claimed by pushing its next attempt past a lease (so a second replica, or the
next run after a crash mid-request, leaves it alone until then), sent, and its outcome
recorded: 2xx delivered; anything else retried after base * 2**(attempts-1) seconds, capped;
dead after the last attempt, visible to operators.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding import webhooks
from services.funding.handlers import catalogue, referrals
from services.funding.settings import FundingSettings
from services.funding.tables import Referral, WebhookDelivery, WebhookEndpoint
from shared.db import Database, where_equal
from shared.errors import DomainError, NotFound
from shared.events import LoanReferralShared

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


async def add_endpoint(
    session: AsyncSession,
    lender_code: str,
    target: webhooks.Target,
    secret: str | None,
) -> WebhookEndpoint:
    """An endpoint at a destination Destinations.check allowed (it may resolve names, so it
    runs before the transaction; every delivery checks again)."""
    await catalogue.lender(session, lender_code)
    endpoint = WebhookEndpoint(
        endpoint_id=str(uuid.uuid4()),
        lender_code=lender_code,
        url=target.url,
        secret=secret or webhooks.new_secret(),
        created_at=datetime.now(UTC),
    )
    session.add(endpoint)
    return endpoint


async def endpoints(session: AsyncSession, lender_code: str) -> list[WebhookEndpoint]:
    rows = await session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.lender_code == lender_code)
        .order_by(col(WebhookEndpoint.created_at))
    )
    return list(rows.all())


async def disable_endpoint(
    session: AsyncSession, lender_code: str, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.lender_code != lender_code:
        raise NotFound(f"lender {lender_code} has no endpoint {endpoint_id}", field="endpoint_id")
    endpoint.disabled_at = endpoint.disabled_at or datetime.now(UTC)
    session.add(endpoint)
    # What was queued for it gives up now, visibly (`status=dead`), instead of still being sent.
    await session.exec(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint_id,
            col(WebhookDelivery.status) == PENDING,
        )
        .values(status=DEAD, last_error="endpoint disabled")
    )
    return endpoint


async def deliveries(
    session: AsyncSession, lender_code: str | None, status: str | None, limit: int
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.created_at)).limit(limit)
    filters = {WebhookDelivery.lender_code: lender_code, WebhookDelivery.status: status}
    return list((await session.exec(where_equal(query, filters, blank_is_unset=True))).all())


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    lender_code: str
    event_id: str
    referral_id: str
    ce_type: str
    body: str
    attempts: int
    url: str
    secret: str


async def _claim(db: Database, settings: FundingSettings, now: datetime) -> list[_Job]:
    lease = now + timedelta(seconds=settings.webhook_timeout_seconds * 2)
    async with db.transaction() as session:
        rows = (
            await session.exec(
                select(WebhookDelivery, WebhookEndpoint)
                .join(
                    WebhookEndpoint,
                    col(WebhookEndpoint.endpoint_id) == col(WebhookDelivery.endpoint_id),
                )
                .where(
                    WebhookDelivery.status == PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                )
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.created_at))
                .limit(settings.webhook_batch_size)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        jobs = []
        for delivery, endpoint in rows:
            delivery.next_attempt_at = lease
            session.add(delivery)
            jobs.append(
                _Job(
                    delivery.delivery_id,
                    delivery.lender_code,
                    delivery.event_id,
                    delivery.referral_id,
                    delivery.ce_type,
                    delivery.body,
                    delivery.attempts,
                    endpoint.url,
                    endpoint.secret,
                )
            )
        return jobs


async def _send(
    clients: webhooks.Clients, job: _Job, destinations: webhooks.Destinations
) -> tuple[int | None, str | None]:
    try:  # again: the name may resolve elsewhere now, or the rules have changed
        target = await destinations.check(job.lender_code, job.url)
    except DomainError as refused:
        return None, f"refused: {refused.message}"[:500]
    headers = webhooks.signed_headers(job.secret, job.event_id, job.body, datetime.now(UTC))
    try:
        response = await target.post(clients, job.body.encode(), headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


async def _record(
    db: Database, settings: FundingSettings, job: _Job, status: int | None, error: str | None
) -> str:
    now = datetime.now(UTC)
    async with db.transaction() as session:
        delivery = await session.get(WebhookDelivery, job.delivery_id)
        if delivery is None:
            return DEAD
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if error is None:
            delivery.status, delivery.delivered_at = DELIVERED, now
            if job.ce_type == LoanReferralShared.ce_type():
                referral = await session.get(Referral, job.referral_id)
                if referral is not None:
                    referral = await referrals.locked(session, job.referral_id)
                    await referrals.deliver(session, referral, "webhook", now)
        elif delivery.attempts >= settings.webhook_max_attempts:
            delivery.status = DEAD
        else:
            delay = webhooks.backoff_seconds(
                delivery.attempts,
                settings.webhook_backoff_base_seconds,
                settings.webhook_backoff_cap_seconds,
            )
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        session.add(delivery)
        return delivery.status


async def deliver_due(
    db: Database,
    clients: webhooks.Clients,
    settings: FundingSettings,
    destinations: webhooks.Destinations,
) -> int:
    """Send every delivery that is due; returns how many were attempted."""
    jobs = await _claim(db, settings, datetime.now(UTC))
    for job in jobs:  # in order: a lender sees a referral's events in the order they happened
        status, error = await _send(clients, job, destinations)
        await _record(db, settings, job, status, error)
    return len(jobs)
