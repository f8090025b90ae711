"""Transactional outbox: events are written with the state change and published by a relay.

A service's tables.py declares `class Outbox(Base, OutboxColumns, table=True): ...` (the mixin
names the table, the same in every service). `stage` adds a row inside the caller's
transaction; `OutboxRelay` publishes unsent rows in batches, waits for the broker's
acknowledgements and only then marks them sent, so a crash at any point re-publishes
(at-least-once) and never loses an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, delete, func, insert, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import STAGED_EVENTS, Database, UtcDateTime
from shared.envelope import encode
from shared.events import Event
from shared.telemetry import current_carrier, producer_span

log = logging.getLogger(__name__)


class OutboxColumns(SQLModel):
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    topic: str = Field(max_length=255)
    key: str = Field(max_length=255)
    ce_type: str = Field(max_length=255)
    headers: str = Field(sa_type=Text)
    value: str = Field(sa_type=Text)
    trace_carrier: str = Field(sa_type=Text, default="{}")
    created_at: datetime = Field(sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)


def outbox_row(
    event: Event,
    *,
    source: str,
    topic: str | None = None,
    carrier: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The event's outbox row as plain values: for `stage`, and for bulk inserts (the registry's
    CSV import) that must write exactly what a single command writes."""
    record = encode(event, source=source)
    return {
        "event_id": record.headers["ce_id"],
        "topic": topic or event.topic(),
        "key": record.key.decode(),
        "ce_type": event.ce_type(),
        "headers": json.dumps(record.headers),
        "value": record.value.decode(),
        "trace_carrier": carrier if carrier is not None else json.dumps(current_carrier()),
        "created_at": at or datetime.now(UTC),
        "published_at": None,
    }


def stage(
    session: AsyncSession,
    outbox: type[OutboxColumns],
    event: Event,
    *,
    source: str,
    topic: str | None = None,
) -> str:
    """Add the event to the outbox in the caller's transaction; returns its CloudEvents id."""
    values = outbox_row(event, source=source, topic=topic)
    bulk: list[tuple[type[OutboxColumns], dict[str, Any]]] | None = session.info.get(_BULK)
    if bulk is not None:
        bulk.append((outbox, values))
    else:
        session.add(outbox(**values))
    session.info[STAGED_EVENTS] = True  # wakes the outbox relay after the commit
    return str(values["event_id"])


_BULK = "skillbridge.outbox_bulk"


@asynccontextmanager
async def staged_in_bulk(session: AsyncSession) -> AsyncIterator[None]:
    """Rows `stage`d inside the block are written when it ends, in one INSERT per outbox
    table, after whatever was staged before it (ids keep the staging order, and so the
    relay's publishing order). Not written if the block raises: the transaction is lost."""
    if _BULK in session.info:  # nested: the outer block writes
        yield
        return
    session.info[_BULK] = []
    try:
        yield
        pending: list[tuple[type[OutboxColumns], dict[str, Any]]] = session.info[_BULK]
    finally:
        del session.info[_BULK]
    for table in dict.fromkeys(t for t, _ in pending):
        await session.exec(insert(table), params=[row for t, row in pending if t is table])


# (topic, key, value, headers) -> a future that resolves when the broker acknowledged it.
Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        outbox: type[OutboxColumns],
        publish: Publish,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        retention: timedelta = timedelta(days=7),
        on_published: Callable[[Sequence[OutboxColumns]], None] | None = None,
    ) -> None:
        self._db = db
        self._on_published = on_published  # e.g. shared.metrics.Metrics.count_published
        self._outbox = outbox
        self._publish = publish
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retention = retention
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published_total = 0
        db.on_events_committed(self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is pending (bounded by the caller's grace period), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were published.

        On PostgreSQL the batch is locked (`FOR UPDATE`) and marked sent in the same
        transaction: replicas of a service share one outbox, and two relays must not publish
        the same row. Not `SKIP LOCKED`: a second relay would publish later rows while the
        first still holds earlier ones, and a person's events could reach the broker out of
        order; it waits instead, then finds those rows sent. A crash before the commit
        unlocks the rows, which are published again (at-least-once still). SQLite has one
        writer and no row locks: the rows are read, published, then marked in a second
        transaction, as before.
        """
        if self._db.engine.dialect.name == "postgresql":
            async with self._db.transaction() as session:
                rows = await self._unsent(session, lock=True)
                if rows:
                    await self._send(rows)
                    await self._mark_sent(session, rows)
        else:
            async with self._db.transaction() as session:
                rows = await self._unsent(session, lock=False)
            if rows:
                await self._send(rows)
                async with self._db.transaction() as session:
                    await self._mark_sent(session, rows)
        if not rows:
            return 0
        self.published_total += len(rows)
        if self._on_published is not None:
            self._on_published(rows)
        return len(rows)

    async def _unsent(self, session: AsyncSession, *, lock: bool) -> list[OutboxColumns]:
        query = (
            select(self._outbox)
            .where(col(self._outbox.published_at).is_(None))
            .order_by(col(self._outbox.id))
            .limit(self._batch_size)
        )
        if lock:
            query = query.with_for_update()
        return list((await session.exec(query)).all())

    async def _mark_sent(self, session: AsyncSession, rows: Sequence[OutboxColumns]) -> None:
        await session.exec(
            update(self._outbox)
            .where(col(self._outbox.id).in_([row.id for row in rows]))
            .values(published_at=datetime.now(UTC))
        )

    async def _send(self, rows: Sequence[OutboxColumns]) -> None:
        """Hand every row to the producer, then wait for all the broker's acknowledgements."""
        acks = []
        for row in rows:
            headers = json.loads(row.headers)
            with producer_span(
                f"{row.topic} publish",
                json.loads(row.trace_carrier),
                **{"messaging.destination.name": row.topic, "messaging.message.id": row.event_id},
            ) as trace_headers:
                headers.update(trace_headers)
                acks.append(
                    await self._publish(row.topic, row.key.encode(), row.value.encode(), headers)
                )
        await asyncio.gather(*acks)

    async def purge_published(self) -> int:
        """Delete published rows past retention (kept until then for replay)."""
        cutoff = datetime.now(UTC) - self._retention
        async with self._db.transaction() as session:
            result = await session.exec(
                delete(self._outbox).where(col(self._outbox.published_at) < cutoff)
            )
            return int(result.rowcount or 0)

    async def _run(self) -> None:
        backoff = self._poll_seconds
        last_purge = datetime.min.replace(tzinfo=UTC)
        while True:
            self._wakeup.clear()
            try:
                published = await self.publish_pending()
                backoff = self._poll_seconds
                if datetime.now(UTC) - last_purge > timedelta(hours=1):
                    await self.purge_published()
                    last_purge = datetime.now(UTC)
            except Exception:
                if self._stopping:
                    log.exception("outbox relay: giving up at shutdown; rows stay for next start")
                    return
                log.exception("outbox relay: publish failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if published:
                continue  # drain without waiting
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)


async def requeue(
    db: Database,
    outbox: type[OutboxColumns],
    since: datetime,
    also: Callable[[AsyncSession, int], None] | None = None,
) -> int:
    """Mark rows created since `since` unsent, so the relay replays them to the broker.
    `also(session, rows)` runs in the same transaction (the operator's audit entry)."""
    async with db.transaction() as session:
        result = await session.exec(
            update(outbox).where(col(outbox.created_at) >= since).values(published_at=None)
        )
        session.info[STAGED_EVENTS] = True
        rows = int(result.rowcount or 0)
        if also is not None:
            also(session, rows)
        return rows


# topics -> how many records each ever received on the broker (shared.kafka.records_on_broker)
CountOnBroker = Callable[[Sequence[str]], Awaitable[Mapping[str, int]]]


async def requeue_if_broker_lost(
    db: Database, outbox: type[OutboxColumns], on_broker: CountOnBroker
) -> tuple[int, list[str]]:
    """Requeue the retained published rows of every topic the broker lost; call it before
    the relay starts. Returns (rows requeued, topics lost).

    The embedded broker keeps nothing across a restart. A topic holding fewer records than
    the rows this outbox published to it has lost some (end offsets never go down, even
    under retention, and each topic has one producing service), so every retained row for
    it is published again, in order; consumers' inboxes drop what they already applied.
    """
    async with db.transaction() as session:
        result = await session.exec(
            select(outbox.topic, func.count())
            .where(col(outbox.published_at).is_not(None))
            .group_by(col(outbox.topic))
        )
        published = {topic: int(n) for topic, n in result.all()}
    if not published:
        return 0, []
    on_topics = await on_broker(sorted(published))
    lost = sorted(t for t, n in published.items() if on_topics.get(t, 0) < n)
    if not lost:
        return 0, []
    async with db.transaction() as session:
        requeued = await session.exec(
            update(outbox)
            .where(col(outbox.topic).in_(lost), col(outbox.published_at).is_not(None))
            .values(published_at=None)
        )
        session.info[STAGED_EVENTS] = True
        return int(requeued.rowcount or 0), lost


async def backlog(db: Database, outbox: type[OutboxColumns]) -> tuple[int, datetime | None]:
    """How many rows wait to be published, and when the oldest of them was staged: one
    query on the `published_at` index (`/stats` and the metrics' gauges read it)."""
    async with db.transaction() as session:
        result = await session.exec(
            select(func.count(), func.min(outbox.created_at)).where(
                col(outbox.published_at).is_(None)
            )
        )
        unsent, oldest = result.one()
    if isinstance(oldest, str):  # SQLite's MIN() hands back the stored text, not the type
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(unsent), oldest


async def retained_since(
    db: Database, outbox: type[OutboxColumns], since: datetime
) -> dict[str, int]:
    """Rows created since `since`, by topic: what `requeue` would publish again."""
    async with db.transaction() as session:
        result = await session.exec(
            select(outbox.topic, func.count())
            .where(col(outbox.created_at) >= since)
            .group_by(col(outbox.topic))
        )
        return {topic: int(n) for topic, n in result.all()}
