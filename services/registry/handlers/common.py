"""What the registry's handlers share: the events' source, staging an event, and a change (an
event with its audit entry) as both a single command and a CSV import batch record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry import audit
from services.registry.tables import Outbox
from shared import outbox
from shared.envelope import source_of
from shared.events import Event

SOURCE = source_of("registry")


def stage(session: AsyncSession, event: Event) -> str:
    """Add the event to the registry's outbox in the caller's transaction."""
    return outbox.stage(session, Outbox, event, source=SOURCE)


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
