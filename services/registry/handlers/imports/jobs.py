"""Uploads stored as chunks and queued as jobs; reading jobs and their rejection reports."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.handlers.imports.rows import COLUMNS, Records, check_header
from services.registry.tables import ImportChunk, ImportJob, ImportPerson, ImportRejection
from shared.db import Database, get_or_404
from shared.errors import DomainError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
MAX_HEADER_BYTES = 64 << 10  # the header is checked before the first chunk is stored
MAX_FILE_BYTES = 1 << 30
ACTIVE = ("queued", "running")
_wakers: weakref.WeakKeyDictionary[Database, asyncio.Event] = weakref.WeakKeyDictionary()


def wake_event(db: Database) -> asyncio.Event:
    """Set when a job is queued on `db`, so this process's worker starts it at once."""
    return _wakers.setdefault(db, asyncio.Event())


async def create_job(
    db: Database, actor: str, file_name: str, stream: AsyncIterator[bytes]
) -> ImportJob:
    """Store an uploaded CSV as chunks and queue its import; 422 on a bad header or encoding.

    Each chunk commits on its own, so a slow upload never holds a transaction (SQLite has one
    connection per service); the job row comes last, so a job is never seen half uploaded.
    """
    import_id = str(uuid.uuid4())
    records = Records()
    digest = hashlib.sha256()
    size = rows = stored = 0
    columns: list[str] | None = None
    pending = bytearray()

    def count(found: list[tuple[int, list[str]]]) -> None:
        nonlocal columns, rows
        for _, cells in found:
            if columns is None:
                columns = check_header(cells)
            else:
                rows += 1

    try:
        async for piece in stream:
            if not piece:
                continue
            size += len(piece)
            if size > MAX_FILE_BYTES:
                raise DomainError(
                    f"the file is larger than {MAX_FILE_BYTES >> 20} MiB; split it", field="body"
                )
            digest.update(piece)
            count(records.feed(piece))
            if columns is None and records.buffered > MAX_HEADER_BYTES:
                raise DomainError(
                    f"no header line in the first {MAX_HEADER_BYTES >> 10} KiB", field="header"
                )
            pending += piece
            while len(pending) >= CHUNK_BYTES:
                await _store_chunk(db, import_id, stored, bytes(pending[:CHUNK_BYTES]))
                del pending[:CHUNK_BYTES]
                stored += 1
        count(records.feed(b"", final=True))
        if columns is None:
            raise DomainError(
                f"the file is empty: expected a header row ({', '.join(COLUMNS)})",
                field="header",
            )
        job = ImportJob(
            import_id=import_id,
            file_name=file_name,
            sha256=digest.hexdigest(),
            size_bytes=size,
            status="queued",
            actor=actor,
            created_at=datetime.now(UTC),
            rows_total=rows,
        )
        async with db.transaction() as session:
            if pending:
                session.add(ImportChunk(import_id=import_id, seq=stored, data=bytes(pending)))
            session.add(job)
    except BaseException:
        if stored:
            await _discard_chunks(db, import_id)
        raise
    log.info("import %s queued: %s, %d rows, %d bytes", import_id, file_name, rows, size)
    wake_event(db).set()
    return job


async def _store_chunk(db: Database, import_id: str, seq: int, data: bytes) -> None:
    async with db.transaction() as session:
        session.add(ImportChunk(import_id=import_id, seq=seq, data=data))


async def _discard_chunks(db: Database, import_id: str) -> None:
    try:
        async with db.transaction() as session:
            await session.exec(delete(ImportChunk).where(col(ImportChunk.import_id) == import_id))
    except Exception:  # best effort: orphan chunks are only wasted space
        log.exception("import %s: could not discard the chunks of a failed upload", import_id)


async def stored_records(db: Database, import_id: str) -> AsyncGenerator[tuple[int, list[str]]]:
    """The job's records in order, one chunk read (in its own short transaction) at a time."""
    records = Records()
    seq = 0
    while True:
        async with db.transaction() as session:
            data = (
                await session.exec(
                    select(ImportChunk.data).where(
                        ImportChunk.import_id == import_id, ImportChunk.seq == seq
                    )
                )
            ).first()
        if data is None:
            break
        for record in records.feed(data):
            yield record
        seq += 1
    for record in records.feed(b"", final=True):
        yield record


async def get_job(session: AsyncSession, import_id: str) -> ImportJob:
    return await get_or_404(
        session, ImportJob, import_id, what="import", field="import_id", quoted=False
    )


async def list_jobs(
    session: AsyncSession, *, status: str | None = None, limit: int = 50
) -> list[ImportJob]:
    """Newest first."""
    query = select(ImportJob)
    if status:
        query = query.where(ImportJob.status == status)
    query = query.order_by(col(ImportJob.created_at).desc()).limit(limit)
    return list((await session.exec(query)).all())


@dataclass(frozen=True)
class RejectionPage:
    rejections: list[ImportRejection]
    next_after_line: int | None  # None: this was the last page


async def rejections(
    session: AsyncSession, import_id: str, *, after_line: int = 0, limit: int = 1000
) -> RejectionPage:
    """Up to `limit` rejected lines after `after_line`, each with all its entries."""
    await get_job(session, import_id)
    lines = (
        await session.exec(
            select(ImportRejection.line)
            .where(ImportRejection.import_id == import_id, col(ImportRejection.line) > after_line)
            .distinct()
            .order_by(col(ImportRejection.line))
            .limit(limit)
        )
    ).all()
    if not lines:
        return RejectionPage([], None)
    found = await session.exec(
        select(ImportRejection)
        .where(
            ImportRejection.import_id == import_id,
            col(ImportRejection.line) > after_line,
            col(ImportRejection.line) <= lines[-1],
        )
        .order_by(col(ImportRejection.line), col(ImportRejection.id))
    )
    return RejectionPage(list(found.all()), lines[-1] if len(lines) == limit else None)


@dataclass(frozen=True)
class PeoplePage:
    status: str  # the job's: queued or running means later lines may still come
    people: list[ImportPerson]
    next_after_line: int | None  # None: this was the last page (so far, if still running)


async def row_people(
    session: AsyncSession, import_id: str, *, after_line: int = 0, limit: int = 1000
) -> PeoplePage:
    """Accepted rows after `after_line` with their person ids, by line. Batches commit in line
    order, so pages read while the job runs never skip a line that commits later."""
    job = await get_job(session, import_id)
    found = await session.exec(
        select(ImportPerson)
        .where(ImportPerson.import_id == import_id, col(ImportPerson.line) > after_line)
        .order_by(col(ImportPerson.line))
        .limit(limit)
    )
    people = list(found.all())
    more = len(people) == limit
    return PeoplePage(job.status, people, people[-1].line if more else None)
