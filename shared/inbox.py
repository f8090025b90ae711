"""Idempotent consumer: (consumer, event id) recorded in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UtcDateTime


class InboxColumns(SQLModel):
    """`class Inbox(Base, InboxColumns, table=True): ...` in each service's tables.py."""

    __tablename__ = "inbox"
    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(sa_type=UtcDateTime)


async def claim(
    session: AsyncSession,
    inbox: type[InboxColumns],
    consumer: str,
    event_ids: Iterable[str],
) -> set[str]:
    """Record the ids not seen before and return them; the caller processes only those."""
    wanted = set(event_ids)
    if not wanted:
        return set()
    seen = await session.exec(
        select(inbox.event_id).where(inbox.consumer == consumer, col(inbox.event_id).in_(wanted))
    )
    fresh = wanted - set(seen.all())
    if fresh:  # one bulk INSERT, no ORM objects to track
        now = datetime.now(UTC)
        rows = [{"consumer": consumer, "event_id": eid, "processed_at": now} for eid in fresh]
        await session.exec(insert(inbox), params=rows)
    return fresh
