"""Training as tests drive it: a running instance and its counts."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from services.training.handlers import reports
from shared.runtime import Service


@dataclass
class RunningTraining:
    service: Service
    client: httpx.AsyncClient  # authenticated with the bootstrap admin key


async def training_counts(service: Service) -> dict[str, int]:
    async with service.db.transaction() as session:
        return await reports.counts(session)
