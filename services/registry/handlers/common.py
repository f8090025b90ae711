"""What the registry's handlers share: the events' source, and the one way an event becomes
an outbox row (for a single command as an ORM row, for a CSV import batch as a bulk insert)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit
from services.registry.tables import Outbox
from shared.db import STAGED_EVENTS
from shared.envelope import encode, source_of
from shared.events import Event
from shared.telemetry import current_carrier

SOURCE = source_of("registry")


def outbox_row(event: Event, *, carrier: str, at: datetime) -> dict[str, Any]:
    """The event's outbox row as plain values, as shared.outbox.stage writes it."""
    record = encode(event, source=SOURCE)
    return {
        "event_id": record.headers["ce_id"],
        "topic": event.topic(),
        "key": record.key.decode(),
        "ce_type": event.ce_type(),
        "headers": json.dumps(record.headers),
        "value": record.value.decode(),
        "trace_carrier": carrier,
        "created_at": at,
        "published_at": None,
    }


def stage(session: AsyncSession, event: Event) -> str:
    """Add the event to the outbox in the caller's transaction; returns its CloudEvents id."""
    row = outbox_row(event, carrier=json.dumps(current_carrier()), at=datetime.now(UTC))
    session.add(Outbox(**row))
    session.info[STAGED_EVENTS] = True  # wakes the outbox relay after the commit
    return str(row["event_id"])


@dataclass(frozen=True)
class Change:
    """An event and its audit entry, decided but not yet written: a single command stages
    them (`record_change`), the CSV importer adds them to its batch's bulk inserts."""

    event: Event
    audit: dict[str, Any]  # keyword arguments of audit.entry, less the actor


def record_change(session: AsyncSession, actor: str, change: Change) -> None:
    """Stage the change's event and add its audit entry."""
    stage(session, change.event)
    audit.record(session, actor=actor, **change.audit)
