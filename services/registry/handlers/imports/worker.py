"""The background job: runs queued imports and resumes interrupted ones, a batch per commit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager, suppress
from datetime import UTC, datetime

from opentelemetry import trace
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.handlers.imports.batch import Batch, Counts, FileState
from services.registry.handlers.imports.jobs import ACTIVE, stored_records, wake_event
from services.registry.handlers.imports.rows import check_header
from services.registry.settings import RegistrySettings
from services.registry.tables import (
    ImportJob,
    ImportRejection,
)
from shared.db import Database, is_sqlite
from shared.errors import DomainError

log = logging.getLogger(__name__)

_ATTEMPTS = 3  # a batch that loses a race on a unique key is redone; a job fails after 3 tries
_tracer = trace.get_tracer("skillbridge")


class LostJob(RuntimeError):
    """Another worker advanced the job: this one's batch is rolled back and it lets go."""


class ImportWorker:
    """Runs queued jobs and resumes interrupted ones (status running), one batch per commit."""

    def __init__(
        self,
        db: Database,
        settings: RegistrySettings,
        wake: asyncio.Event | None = None,
        *,
        poll_seconds: float = 5.0,
    ) -> None:
        self.db, self.settings = db, settings
        self.wake = wake or wake_event(db)
        self.poll_seconds = poll_seconds  # jobs queued on another replica are found this way
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                for import_id in await self._active():
                    try:
                        await self.process(import_id)
                    except LostJob:
                        log.info("import %s: another worker took it over", import_id)
                    except Exception as error:
                        log.exception("import %s: attempt failed", import_id)
                        await self._failed(import_id, error)
            except Exception:  # e.g. the database is down: try again later
                log.exception("import worker: could not look for jobs")
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)

    async def _active(self) -> list[str]:
        async with self.db.transaction() as session:
            query = (
                select(ImportJob.import_id)
                .where(col(ImportJob.status).in_(ACTIVE))
                .order_by(col(ImportJob.created_at))
            )
            return list((await session.exec(query)).all())

    async def process(self, import_id: str) -> None:
        async with self._lease(import_id) as held:
            if not held:
                return
            job = await self._start(import_id)
            if job is not None:
                await self._resume(job)

    @asynccontextmanager
    async def _lease(self, import_id: str) -> AsyncIterator[bool]:
        """PostgreSQL: one worker per job across replicas, released if its process dies.

        A session advisory lock on a connection of its own; the connection is discarded at
        the end, never pooled, so the lock cannot outlive the job. SQLite: one process.
        """
        if is_sqlite(self.db.url):
            yield True
            return
        key = func.hashtextextended(f"registry:import:{import_id}", 0)
        conn = await self.db.engine.connect()
        try:
            held = bool((await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar())
            await conn.commit()
            yield held
        finally:
            await conn.invalidate()
            await conn.close()

    async def _start(self, import_id: str) -> ImportJob | None:
        async with self.db.transaction() as session:
            job = await session.get(ImportJob, import_id)
            if job is None or job.status not in ACTIVE:
                return None
            if job.status == "queued":
                job.status, job.started_at = "running", datetime.now(UTC)
                session.add(job)
            return job

    async def _resume(self, job: ImportJob) -> None:
        async with aclosing(stored_records(self.db, job.import_id)) as records:
            await self._run(job, records)

    async def _run(self, job: ImportJob, records: AsyncIterator[tuple[int, list[str]]]) -> None:
        header = await anext(records, None)
        if header is None:
            raise DomainError("the stored file has no header", field="header")
        state = FileState(check_header(header[1]))
        done = job.rows_done
        if done:
            rejected = await self._rejected_lines(job.import_id)
            for _ in range(done):
                record = await anext(records, None)
                if record is None:
                    break
                if record[0] not in rejected:
                    state.replay(*record)
            log.info("import %s: resuming after %d of %s rows", job.import_id, done, job.rows_total)
        started, since = time.monotonic(), done
        while batch := await _take(records, self.settings.import_batch_rows):
            counts = await self._commit(job, state, batch, done)
            done += counts.rows
            self._failures.pop(job.import_id, None)
            job.rows_done = done
            for name in ("created", "unchanged", "rejected", "flagged"):
                setattr(job, name, getattr(job, name) + getattr(counts, name))
            rate = (done - since) / max(time.monotonic() - started, 1e-9)
            total = job.rows_total or done
            log.info(
                "import %s: %d/%d rows (%.1f%%), %.0f rows/s; created %d, unchanged %d, "
                "rejected %d, flagged %d",
                job.import_id,
                done,
                total,
                100 * done / max(total, 1),
                rate,
                job.created,
                job.unchanged,
                job.rejected,
                job.flagged,
            )
        async with self.db.transaction() as session:
            await session.exec(
                update(ImportJob)
                .where(col(ImportJob.import_id) == job.import_id)
                .values(status="done", finished_at=datetime.now(UTC))
            )
        log.info(
            "import %s done: %d rows; created %d, unchanged %d, rejected %d, flagged %d",
            job.import_id,
            done,
            job.created,
            job.unchanged,
            job.rejected,
            job.flagged,
        )

    async def _rejected_lines(self, import_id: str) -> set[int]:
        async with self.db.transaction() as session:
            query = select(ImportRejection.line).where(ImportRejection.import_id == import_id)
            return set((await session.exec(query)).all())

    async def _commit(
        self, job: ImportJob, state: FileState, records: list[tuple[int, list[str]]], done: int
    ) -> Counts:
        for attempt in range(1, _ATTEMPTS + 1):
            batch = Batch(
                actor=job.actor,
                import_id=job.import_id,
                state=state,
                settings=self.settings,
                now=datetime.now(UTC),
            )
            try:
                async with self.db.transaction() as session:
                    with _tracer.start_as_current_span(
                        "registry import batch",
                        attributes={"import.id": job.import_id, "import.first_row": done + 1},
                    ):
                        await batch.run(session, records)
                        # Counters first: a second worker fails here, before any insert.
                        await _advance(session, job.import_id, done, batch.counts)
                        await batch.write(session)
            except IntegrityError:
                # Someone registered one of these people or households meanwhile: read again.
                if attempt == _ATTEMPTS:
                    raise
                log.info(
                    "import %s: batch at row %d raced a writer; redoing it", job.import_id, done
                )
                continue
            batch.merge_into(state)
            return batch.counts
        raise AssertionError("unreachable")

    async def _failed(self, import_id: str, error: Exception) -> None:
        tries = self._failures[import_id] = self._failures.get(import_id, 0) + 1
        if tries < _ATTEMPTS:
            return  # the next pass retries from the last committed batch
        self._failures.pop(import_id, None)
        try:
            async with self.db.transaction() as session:
                await session.exec(
                    update(ImportJob)
                    .where(col(ImportJob.import_id) == import_id)
                    .values(
                        status="failed",
                        finished_at=datetime.now(UTC),
                        error=f"{type(error).__name__}: {error}"[:2000],
                    )
                )
        except Exception:
            log.exception("import %s: could not record the failure", import_id)


async def _advance(session: AsyncSession, import_id: str, done: int, counts: Counts) -> None:
    """The job's counters move in the batch's transaction, only from where this worker read."""
    result = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.import_id) == import_id, col(ImportJob.rows_done) == done)
        .values(
            rows_done=col(ImportJob.rows_done) + counts.rows,
            created=col(ImportJob.created) + counts.created,
            unchanged=col(ImportJob.unchanged) + counts.unchanged,
            rejected=col(ImportJob.rejected) + counts.rejected,
            flagged=col(ImportJob.flagged) + counts.flagged,
        )
    )
    if result.rowcount != 1:
        raise LostJob(import_id)


async def _take(
    records: AsyncIterator[tuple[int, list[str]]], size: int
) -> list[tuple[int, list[str]]]:
    batch = []
    async for record in records:
        batch.append(record)
        if len(batch) >= size:
            break
    return batch


async def run_worker(
    db: Database,
    settings: RegistrySettings,
    wake: asyncio.Event | None = None,
    *,
    poll_seconds: float = 5.0,
) -> None:
    """The long-running job for Service.background."""
    await ImportWorker(db, settings, wake, poll_seconds=poll_seconds).run()
