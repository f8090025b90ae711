"""The events a use case staged: its service's outbox rows, read back in order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.outbox import OutboxColumns


@dataclass(frozen=True)
class Staged:
    name: str  # the event's class name: "PersonRegistered"
    topic: str
    key: str
    data: dict[str, Any]


async def staged(session: AsyncSession, outbox: type[OutboxColumns]) -> list[Staged]:
    """Every row of the outbox, oldest first (ce_type is skillbridge.<service>.<Name>.v<n>)."""
    rows = (await session.exec(select(outbox).order_by(col(outbox.id)))).all()
    return [
        Staged(row.ce_type.split(".")[-2], row.topic, row.key, json.loads(row.value))
        for row in rows
    ]


def names(events: list[Staged]) -> list[str]:
    return [e.name for e in events]
