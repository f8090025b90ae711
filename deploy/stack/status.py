"""`skillbridge status`, gathered: each service's probes and `/stats`, and the broker's lag
and dead letters. Presentation is deploy/cli/status.py's; `verdict` decides the exit."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from deploy.clients.base import ApiError
from deploy.clients.ops import OpsClient
from deploy.stack import lag as broker_lag
from deploy.stack.lag import DlqDepth, PartitionLag


@dataclass
class ServiceStatus:
    name: str
    url: str
    healthy: bool = False
    ready: bool = False
    detail: str = ""  # why not healthy or ready, or why no stats
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def database_ok(self) -> bool | None:
        value = self.stats.get("database_ok")
        return bool(value) if value is not None else None


@dataclass
class Status:
    services: list[ServiceStatus]
    lag: list[PartitionLag]
    dlq: list[DlqDepth]
    broker_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "services": [asdict(s) | {"database_ok": s.database_ok} for s in self.services],
            "lag": [row.as_json() for row in self.lag],
            "lag_by_group": broker_lag.total_by_group(self.lag),
            "dlq": [d.as_json() for d in self.dlq],
            "broker_error": self.broker_error,
        }


def verdict(status: Status, max_lag: int) -> list[str]:
    """What is wrong, one line each; empty when all is well (exit 0)."""
    wrong = [
        f"{s.name}: not ready ({s.detail})" for s in status.services if not (s.healthy and s.ready)
    ]
    wrong += [f"{s.name}: database unreachable" for s in status.services if s.database_ok is False]
    if status.broker_error:
        wrong.append(f"broker: {status.broker_error}")
    for group, total in broker_lag.total_by_group(status.lag).items():
        if total > max_lag:
            wrong.append(f"{group}: lag {total} > {max_lag}")
    return wrong


async def _service(name: str, url: str, key: str) -> ServiceStatus:
    status = ServiceStatus(name, url)
    async with OpsClient.connect(url, key, timeout=5) as client:
        health, ready = await client.probe("/healthz"), await client.probe("/readyz")
        status.healthy, status.ready = health.ok, ready.ok
        status.detail = "" if ready.ok else (ready.detail if health.ok else health.detail)
        if health.ok:
            try:
                status.stats = await client.stats()
            except ApiError as error:
                status.detail = status.detail or f"stats: {error}"
    return status


async def gather(urls: Mapping[str, str], key: str, bootstrap: str) -> Status:
    services = list(await asyncio.gather(*(_service(n, u, key) for n, u in urls.items())))
    # The groups services say they run: their never-committed partitions count as lag too.
    expected = {
        str(s.stats["consumer_group"]): list(s.stats.get("consumed_topics") or [])
        for s in services
        if s.stats.get("consumer_group")
    }
    try:
        lag, dlq = await asyncio.wait_for(broker_lag.read(bootstrap, expected), timeout=30)
    except Exception as error:  # a broker down is a finding, not a crash
        return Status(services, [], [], f"{type(error).__name__}: {error}")
    return Status(services, lag, dlq)
