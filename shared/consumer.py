"""The shared event consumer: batches, one transaction per batch, inbox, DLQ, retries.

Offsets are committed (FastStream's ack) only after the batch's transaction commits.
A record that cannot be parsed goes straight to its dead-letter topic; a handler that
fails is retried per record with backoff, then dead-lettered; a database outage is not
the records' fault, so the batch is left uncommitted and redelivered (docs/decisions/0005).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import ConsumerRecord
from aiokafka.errors import IllegalStateError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.batch import Delivered, batch_form, runs
from shared.batch import run as run_batch
from shared.db import Database
from shared.envelope import Envelope, PoisonMessage, decode, peek_type
from shared.events import EVENT_TYPES, Event
from shared.inbox import InboxColumns, claim
from shared.kafka import DeadLetters
from shared.metrics import Metrics
from shared.settings import ServiceSettings
from shared.signing import PublicKeys

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[object]]  # what it returns is ignored
Record: TypeAlias = ConsumerRecord  # aiokafka's record (bytes key and value)

# Distinct unknown types counted by name; past this they add to one "(other)" entry, so a
# stream of made-up types cannot grow the counter without bound.
MAX_UNKNOWN_TYPES = 100
OTHER_UNKNOWN = "(other)"


def is_transient(error: BaseException) -> bool:
    """Errors of the infrastructure, not of the record: retrying later may succeed."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, ConnectionError | TimeoutError)


@dataclass(frozen=True)
class _Item:
    record: Record
    envelope: Envelope


async def _no_decode(*_: Any) -> None:
    # The consumer parses records itself, so a malformed body cannot fail inside FastStream.
    return None


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        inbox: type[InboxColumns],
        handlers: Mapping[type[Event], Handler],
        settings: ServiceSettings,
        metrics: Metrics | None = None,
    ) -> None:
        self.name = name
        self._metrics = metrics
        self._db = db
        self._inbox = inbox
        self._handlers = {cls.ce_type(): handler for cls, handler in handlers.items()}
        # Handlers made with shared.batch.batched are given whole runs of their events.
        self._batch_forms = {
            ce_type: form
            for ce_type, handler in self._handlers.items()
            if (form := batch_form(handler)) is not None
        }
        self._topics = sorted({cls.topic() for cls in handlers})
        self._settings = settings
        self._dead_letters: DeadLetters | None = None
        self._subscriber: Any = None  # FastStream's; its aiokafka consumer once started
        self._keys = PublicKeys.from_settings(settings)
        self.processed = 0
        self.duplicates = 0
        # Called with how many events a committed batch took in (e.g. a page's live view).
        self.on_applied: list[Callable[[int], None]] = []
        # Held while live batches must wait (a read model's rebuild, `paused`).
        self._gate = asyncio.Lock()
        # Types not in the catalogue (e.g. a producer's next major version): skipped, counted.
        self.unknown_types: dict[str, int] = {}

    @property
    def topics(self) -> list[str]:
        return self._topics

    @property
    def group_id(self) -> str:
        return f"{self._settings.consumer_group_prefix}.{self.name}"

    @property
    def dead_lettered(self) -> int:
        return self._dead_letters.sent if self._dead_letters else 0

    def subscribe(self, broker: KafkaBroker) -> None:
        self._dead_letters = DeadLetters(broker, self.group_id)
        subscriber = broker.subscriber(
            *self._topics,
            group_id=self.group_id,
            batch=True,
            max_records=self._settings.consumer_batch_size,
            # No hop waits on a fixed poll when work is there (docs/decisions/0016).
            batch_timeout_ms=self._settings.consumer_batch_wait_ms,
            fetch_max_wait_ms=self._settings.consumer_fetch_max_wait_ms,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            session_timeout_ms=self._settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=max(self._settings.consumer_session_timeout_ms // 3, 500),
            max_poll_interval_ms=self._settings.consumer_max_poll_interval_ms,
            decoder=_no_decode,
        )

        async def on_batch(message: KafkaMessage) -> None:
            raw = message.raw_message
            await self.process(raw if isinstance(raw, tuple) else (raw,))

        subscriber(on_batch)
        self._subscriber = subscriber

    def assignment(self) -> list[str]:
        """The partitions this member holds now, as `topic:partition`: replicas in one
        group split them (`/stats`, `skillbridge status`)."""
        consumer = getattr(self._subscriber, "consumer", None)
        if consumer is None:
            return []
        return sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())

    async def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the end, per assigned (topic, partition), from the consumer's own
        state (no broker request): the high watermark of its last fetch minus the position
        of the next record it hands over (the batch being worked counts as consumed)."""
        consumer = getattr(self._subscriber, "consumer", None)
        if consumer is None:
            return {}
        lags: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:  # not fetched yet
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=0.5)
            except (TimeoutError, IllegalStateError):  # being reset or reassigned
                continue
            lags[tp.topic, tp.partition] = max(end - position, 0)
        return lags

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Live batches wait while inside (a batch being worked finishes first); records
        handed to `apply_records` meanwhile are worked at once."""
        async with self._gate:
            yield

    async def process(self, records: tuple[Record, ...]) -> None:
        async with self._gate:
            await self.apply_records(records)

    async def apply_records(self, records: tuple[Record, ...]) -> None:
        """Work these records now (as `process`, without waiting for a pause to end)."""
        items: list[_Item] = []
        for record in records:
            ce_type = peek_type(record.headers or ())
            if ce_type is not None and ce_type not in self._handlers:
                if ce_type not in EVENT_TYPES:
                    self._count_unknown(ce_type)
                continue  # another consumer's event on a shared topic: not ours to handle
            try:
                envelope = decode(record.headers or (), record.key, record.value, keys=self._keys)
                items.append(_Item(record, envelope))
            except PoisonMessage as error:
                await self._dead_letter(record, error)
        if not items:
            return
        try:
            await self._apply(items)
        except Exception as error:
            if is_transient(error):
                log.warning(
                    "%s: database unavailable (%s); batch will be redelivered", self.name, error
                )
                await asyncio.sleep(self._settings.consumer_retry_base_seconds * 10)
                raise
            log.warning(
                "%s: batch failed (%s); processing its records one by one", self.name, error
            )
            for item in items:
                await self._apply_alone(item)

    def _count_unknown(self, ce_type: str) -> None:
        if ce_type not in self.unknown_types and len(self.unknown_types) >= MAX_UNKNOWN_TYPES:
            ce_type = OTHER_UNKNOWN
        self.unknown_types[ce_type] = self.unknown_types.get(ce_type, 0) + 1

    async def _apply(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        # Per event type: events applied, duplicates skipped, seconds in handlers (metrics,
        # counted per run and added once per batch: shared.metrics keeps the hot path cheap).
        applied: dict[str, int] = {}
        skipped: dict[str, int] = {}
        seconds: dict[str, float] = {}
        async with self._db.transaction() as session:
            fresh = await claim(session, self._inbox, self.name, (i.envelope.id for i in items))
            todo = []
            for item in items:
                if item.envelope.id in fresh:
                    fresh.discard(item.envelope.id)  # a duplicate inside one batch counts once
                    todo.append(item)
                else:
                    ce_type = item.envelope.type
                    skipped[ce_type] = skipped.get(ce_type, 0) + 1
            for run in self._runs(todo):
                run_started = time.perf_counter()
                await self._apply_run(session, run)
                ce_type = run[0].envelope.type  # a run is of one type (shared.batch.runs)
                applied[ce_type] = applied.get(ce_type, 0) + len(run)
                seconds[ce_type] = seconds.get(ce_type, 0.0) + time.perf_counter() - run_started
        # Counted once committed: a batch that rolls back is retried record by record.
        self.processed += len(todo)
        self.duplicates += len(items) - len(todo)
        if self._metrics is not None:
            self._metrics.count_consumed(applied, skipped)
            self._metrics.record_handlers(seconds)
            self._metrics.batch_duration.record(time.perf_counter() - started)
        for listener in self.on_applied:
            listener(len(todo))

    def _runs(self, items: list[_Item]) -> list[list[_Item]]:
        """Each batch handler's events in as few runs as order allows (shared.batch.runs);
        every other event alone, in its place."""
        return runs(
            items,
            kind=lambda i: i.envelope.type if i.envelope.type in self._batch_forms else None,
            person=lambda i: getattr(i.envelope.event, "person_id", None),
        )

    async def _apply_run(self, session: AsyncSession, run: list[_Item]) -> None:
        delivered = [_delivered(i) for i in run]
        form = self._batch_forms.get(run[0].envelope.type)
        if form is not None:
            await run_batch(form, session, delivered)
            for each in delivered:  # every record has its consumer span, as one at a time
                if not each.spanned:
                    with each.traced():
                        pass
            return
        for item, each in zip(run, delivered, strict=True):
            with each.traced():
                await self._handlers[item.envelope.type](session, item.envelope.event)

    async def _apply_alone(self, item: _Item) -> None:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                await self._apply([item])
                return
            except Exception as error:
                if is_transient(error):
                    raise
                if attempt == attempts:
                    await self._dead_letter(item.record, error)
                    return
                await asyncio.sleep(self._settings.consumer_retry_base_seconds * 2**attempt)

    async def _dead_letter(self, record: Record, error: BaseException) -> None:
        assert self._dead_letters is not None, "subscribe() first"
        await self._dead_letters.send(record, error)
        if self._metrics is not None:
            self._metrics.count_dead_letter(record.topic)


def _delivered(item: _Item) -> Delivered[Event]:
    """The record's event with what its consumer span needs (shared.batch.Delivered.traced)."""
    return Delivered(
        item.envelope.event,
        topic=item.record.topic,
        event_id=item.envelope.id,
        carrier=dict(item.envelope.trace_carrier),
        traced_span=True,
    )
