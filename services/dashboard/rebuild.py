"""Rebuilding the read model from the topics: drop it, replay every consumed topic from
the beginning, and go on live where the replay ended.

While it runs the live consumer waits (`EventConsumer.paused`), so nothing is taken in
twice or missed: the replay reads each partition up to its true end as it was when the
pause began, and the live consumer then resumes from its own offsets (anything both read
is skipped by the inbox, which the replay fills again). Erasures are worked last, so a
person erased early in one topic is not split from their rows in the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import BaseModel
from sqlalchemy import delete

from services.dashboard.tables import READ_MODEL, Base, Inbox
from shared.consumer import EventConsumer
from shared.db import Database
from shared.envelope import peek_type
from shared.errors import Conflict
from shared.events import PersonErased
from shared.kafka import client_options, partition_ends
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
ERASED = PersonErased.ce_type()
FETCH_RECORDS = 2000


class RebuildStatus(BaseModel):
    state: Literal["idle", "running", "done", "failed"] = "idle"
    read: int = 0
    total: int = 0
    events_per_second: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class Rebuild:
    def __init__(
        self,
        db: Database,
        consumer: EventConsumer,
        settings: ServiceSettings,
        done: Callable[[int], None],
    ) -> None:
        self._db = db
        self._consumer = consumer
        self._settings = settings
        self._done = done  # told how many events the new model took in (the live page)
        self.status = RebuildStatus()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RebuildStatus:
        if self.status.state == "running":
            raise Conflict("a rebuild is running; GET /admin/rebuild follows it")
        self.status = RebuildStatus(state="running", started_at=datetime.now(UTC))
        self._task = asyncio.create_task(self._run(), name="dashboard rebuild")
        return self.status

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        began = time.monotonic()
        try:
            async with self._consumer.paused():
                await self._replay()
            self.status.state = "done"
        except asyncio.CancelledError:
            self.status.state, self.status.error = "failed", "stopped with the service"
            raise
        except Exception as error:  # the status tells the operator; the service goes on
            log.exception("dashboard rebuild failed")
            self.status.state, self.status.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            seconds = time.monotonic() - began
            self.status.finished_at = datetime.now(UTC)
            if seconds > 0:
                self.status.events_per_second = round(self.status.read / seconds, 1)
            self._done(self.status.read)

    async def _replay(self) -> None:
        settings = self._settings
        bootstrap = settings.kafka_bootstrap_servers
        ends = await partition_ends(bootstrap, self._consumer.topics, settings)
        async with self._db.transaction() as session:
            tables: tuple[type[Base], ...] = (*READ_MODEL, Inbox)
            for table in tables:
                await session.exec(delete(table))
        todo = {tp: end for tp, end in ends.items() if end > 0}
        reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="skillbridge-dashboard-rebuild",
            **client_options(settings),
        )
        await reader.start()
        try:
            if not todo:
                return
            reader.assign(list(todo))
            starts = await reader.beginning_offsets(list(todo))
            self.status.total = sum(end - starts[tp] for tp, end in todo.items())
            for tp in todo:
                reader.seek(tp, starts[tp])
            erasures: list[ConsumerRecord[Any, Any]] = []
            while todo:
                fetched = await reader.getmany(*todo, timeout_ms=500, max_records=FETCH_RECORDS)
                batch: list[ConsumerRecord[Any, Any]] = []
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset >= todo.get(tp, 0):
                            continue  # written after the pause began: the live consumer's
                        if peek_type(record.headers or ()) == ERASED:
                            erasures.append(record)
                        else:
                            batch.append(record)
                    self.status.read += sum(1 for r in records if r.offset < ends[tp])
                if batch:
                    await self._consumer.apply_records(tuple(batch))
                for tp in list(todo):
                    if await reader.position(tp) >= todo[tp]:
                        del todo[tp]
            if erasures:
                await self._consumer.apply_records(tuple(erasures))
        finally:
            await reader.stop()
