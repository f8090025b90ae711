"""`/metrics` and the trace ids in log lines, on the real app, database and broker: the
registry publishes what training consumes, and each says so on its own `/metrics`."""

from __future__ import annotations

import io
import json
import logging
import secrets

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from services.registry.tables import Outbox
from shared import logs
from shared.events import PersonRegistered
from shared.telemetry import setup_telemetry
from shared.topics import REGISTRY
from tests.support import RunningRegistry, RunningTraining, eventually, ok
from tests.support.registry import person

Samples = list[tuple[str, dict[str, str], float]]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for n, have, v in samples if n == name and labels.items() <= have.items())


async def test_metrics_show_events_published_consumed_and_http_requests(
    training: RunningTraining, registry: RunningRegistry
) -> None:
    registry.service.instrument()  # as Service.run does
    registered = PersonRegistered.ce_type()
    for _ in range(3):
        ok(await registry.client.post("/people", json=person()), 201)

    consumed = await eventually(
        lambda: scrape(training.client),
        lambda s: total(s, "skillbridge_events_consumed_total", event_type=registered) >= 3,
        what="training counts the people it consumed",
    )
    assert total(consumed, "skillbridge_handler_duration_seconds_count", event_type=registered)
    assert total(consumed, "skillbridge_consumer_batch_duration_seconds_count") >= 1
    assert total(consumed, "skillbridge_events_consumed_total", service_name="skillbridge-training")
    # Caught up: every partition of the registry's topic it was given reads 0 behind.
    lags = await eventually(
        lambda: scrape(training.client),
        lambda s: (
            any(n == "skillbridge_consumer_lag" and lb["topic"] == REGISTRY for n, lb, _ in s)
            and total(s, "skillbridge_consumer_lag", topic=REGISTRY) == 0
        ),
        what="training's lag on the registry topic back to 0",
    )
    assert total(lags, "skillbridge_outbox_backlog") == 0

    published = await scrape(registry.client)
    assert (
        total(
            published, "skillbridge_events_published_total", event_type=registered, topic=REGISTRY
        )
        >= 3
    )
    assert total(published, "skillbridge_outbox_backlog") == 0
    assert total(published, "skillbridge_outbox_oldest_age_seconds") == 0
    assert (
        total(
            published,
            "http_server_duration_milliseconds_count",
            http_method="POST",
            http_target="/people",
            http_status_code="201",
        )
        == 3
    )
    # /metrics is an operations endpoint, not part of the API.
    assert "/metrics" not in (await registry.client.get("/openapi.json")).json()["paths"]


async def test_a_request_logs_a_line_with_its_trace_id_and_its_event_continues_the_trace(
    training: RunningTraining, registry: RunningRegistry
) -> None:
    setup_telemetry("skillbridge-registry")  # a recording tracer (ignored if one is set)
    registry.service.instrument()
    out = io.StringIO()
    handler = logs.handler("registry", "json", out)
    root, access = logging.getLogger(), logs.access_log
    level = access.level
    root.addHandler(handler)
    access.setLevel(logging.INFO)
    trace_id = secrets.token_hex(16)
    try:
        response = await registry.client.post(
            "/people",
            json=person(),
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
    finally:
        root.removeHandler(handler)
        access.setLevel(level)
    person_id = ok(response, 201)["person_id"]

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [line] = [e for e in lines if e["logger"] == access.name and "POST /people 201" in e["message"]]
    assert line["trace_id"] == trace_id
    assert len(line["span_id"]) == 16 and line["service"] == "registry"
    # The event the request staged carries the same trace to its consumers.
    async with registry.service.db.transaction() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.key == person_id))).all()
    assert rows and all(trace_id in row.trace_carrier for row in rows)
    # Consumed before the test ends: no stray event for the next test's consumer group.
    await eventually(
        lambda: scrape(training.client),
        lambda s: total(s, "skillbridge_events_consumed_total") >= 1,
        what="training consumed the person",
    )
