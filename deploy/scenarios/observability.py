"""The smoke's look at `/metrics`: after the demo every service has counted the events it
consumed and published (shared/metrics.py), as Prometheus would scrape them."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.events import CATALOGUE

CONSUMED = "skillbridge_events_consumed_total"
PUBLISHED = "skillbridge_events_published_total"


def expected_counters(service: str) -> list[str]:
    """The counters `service` must show above 0: consumed if it handles events, published if
    it publishes any."""
    handlers = importlib.import_module(f"services.{service}.consumers").HANDLERS
    publishes = any(cls.service == service for cls in CATALOGUE)
    return [name for name, due in ((CONSUMED, bool(handlers)), (PUBLISHED, publishes)) if due]


def totals(exposition: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


async def metrics_problems(urls: Mapping[str, str]) -> list[str]:
    problems = []
    async with httpx.AsyncClient(timeout=10) as client:
        for service, url in urls.items():
            response = await client.get(f"{url}/metrics")
            if response.status_code != 200:
                problems.append(f"{service}: GET /metrics answered {response.status_code}")
                continue
            found = totals(response.text)
            problems += [
                f"{service}: /metrics shows no {name}"
                for name in expected_counters(service)
                if not found.get(name)
            ]
    return problems
