"""shared/metrics.py and shared/logs.py without a broker: what the exposition says, which
referral steps count, the dashboard's queries, and the trace ids on log records."""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families

from services.funding.domain import Status
from shared import logs
from shared.events import LoanApproved, LoanDeclined, LoanReferralCreated, PersonRegistered
from shared.metrics import REFERRAL_OUTCOMES, Metrics
from shared.topics import partner_topic

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "skillbridge.json"


@dataclass
class Row:
    topic: str
    ce_type: str
    value: str


def referral_row(cls: type, lender: str, topic: str | None = None) -> Row:
    return Row(topic or cls.topic(), cls.ce_type(), json.dumps({"lender_code": lender}))


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.prometheus_text().decode()
    return {
        (
            s.name,
            frozenset((k, v) for k, v in s.labels.items() if not k.startswith("otel_")),
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, have), v in samples(metrics).items() if n == name and want <= have)


def test_every_referral_outcome_is_a_referral_status() -> None:
    assert set(REFERRAL_OUTCOMES.values()) <= {s.value for s in Status}
    assert {"created", "held", "approved", "declined", "disbursed"} <= set(
        REFERRAL_OUTCOMES.values()
    )


def test_published_rows_count_by_type_and_referral_steps_once_by_lender() -> None:
    metrics = Metrics("funding", readers=[])
    metrics.count_published(
        [
            referral_row(LoanReferralCreated, "gsb"),
            referral_row(LoanReferralCreated, "baac"),
            referral_row(LoanApproved, "gsb"),
            # The same step on the lender's own topic: published, but one outcome only.
            referral_row(LoanApproved, "gsb", partner_topic("gsb")),
            referral_row(LoanDeclined, "baac"),
        ]
    )
    approved = LoanApproved.ce_type()
    assert value(metrics, "skillbridge_events_published_total", event_type=approved) == 2
    assert (
        value(
            metrics,
            "skillbridge_events_published_total",
            event_type=approved,
            topic=partner_topic("gsb"),
        )
        == 1
    )
    outcomes = "skillbridge_referral_outcomes_total"
    assert value(metrics, outcomes, lender="gsb", outcome="approved") == 1
    assert value(metrics, outcomes, lender="gsb", outcome="created") == 1
    assert value(metrics, outcomes, lender="baac", outcome="declined") == 1
    assert value(metrics, outcomes) == 4
    assert value(metrics, "skillbridge_events_published_total", service_name="skillbridge-funding")


def test_consumed_batches_and_gauges_in_the_exposition() -> None:
    metrics = Metrics("training", readers=[])
    registered = PersonRegistered.ce_type()
    metrics.count_consumed({registered: 3}, {registered: 1})
    metrics.count_consumed({registered: 2}, {})
    metrics.record_handlers({registered: 0.004})
    metrics.count_dead_letter("skillbridge.registry.v1")
    metrics.lag = {("skillbridge.registry.v1", 0): 7, ("skillbridge.registry.v1", 1): 0}
    metrics.outbox_backlog = 4
    metrics.outbox_oldest = datetime.now(UTC) - timedelta(seconds=90)

    assert value(metrics, "skillbridge_events_consumed_total", event_type=registered) == 5
    assert value(metrics, "skillbridge_events_duplicates_total", event_type=registered) == 1
    assert value(metrics, "skillbridge_handler_duration_seconds_count") == 1
    assert value(metrics, "skillbridge_events_dead_lettered_total") == 1
    assert value(metrics, "skillbridge_consumer_lag", partition="0") == 7
    assert value(metrics, "skillbridge_outbox_backlog") == 4
    assert 90 <= value(metrics, "skillbridge_outbox_oldest_age_seconds") < 150


async def emitted_names() -> set[str]:
    """Every sample name the services emit: each instrument recorded once, and the HTTP
    server metrics of an app instrumented as Service.instrument does."""
    metrics = Metrics("any", readers=[])
    registered = PersonRegistered.ce_type()
    metrics.count_consumed({registered: 1}, {registered: 1})
    metrics.record_handlers({registered: 0.001})
    metrics.batch_duration.record(0.002)
    metrics.count_dead_letter("t")
    metrics.count_published([referral_row(LoanApproved, "gsb")])
    metrics.lag = {("t", 0): 1}
    app = FastAPI()
    app.get("/x")(lambda: {})
    FastAPIInstrumentor.instrument_app(app, meter_provider=metrics.provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/x")).status_code == 200
    text = metrics.prometheus_text().decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def test_the_grafana_dashboard_queries_only_emitted_metrics_and_shows_every_family() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs
    queried = set(re.findall(r"\b(?:skillbridge|http_server)_[a-z0-9_]+", " ".join(exprs)))
    emitted = await emitted_names()
    assert queried - emitted == set(), "the dashboard queries metrics no service emits"
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in emitted}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in queried}
    skillbridge = {f for f in families if f.startswith("skillbridge_")}
    assert skillbridge - shown == set(), "a metric family without a panel"
    assert {"http_server_duration_milliseconds", "http_server_active_requests"} <= shown
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_log_records_carry_the_current_span_ids_in_both_formats() -> None:
    tracer = TracerProvider().get_tracer("test")
    log = logging.getLogger("skillbridge.test_logs")
    log.setLevel(logging.INFO)
    log.propagate = False
    out_json, out_text = io.StringIO(), io.StringIO()
    handlers = [
        logs.handler("registry", "json", out_json),
        logs.handler("registry", "text", out_text),
    ]
    for handler in handlers:
        log.addHandler(handler)
    try:
        log.info("outside")
        with tracer.start_as_current_span("request") as span:
            log.info("inside %d", 1)
            context = span.get_span_context()
    finally:
        for handler in handlers:
            log.removeHandler(handler)
    trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
    outside, inside = (json.loads(line) for line in out_json.getvalue().splitlines())
    assert (outside["trace_id"], outside["span_id"]) == ("", "")
    assert (inside["trace_id"], inside["span_id"]) == (trace_id, span_id)
    assert inside["message"] == "inside 1" and inside["service"] == "registry"
    assert inside["level"] == "INFO" and inside["logger"] == "skillbridge.test_logs"
    text_outside, text_inside = out_text.getvalue().splitlines()
    assert "trace_id" not in text_outside and text_outside.endswith("outside")
    assert text_inside.endswith(f"inside 1 trace_id={trace_id} span_id={span_id}")
