"""OpenTelemetry metrics: every instrument a service records, created once, here.

Each `Service` owns one `Metrics` (its own MeterProvider, so five services in one test process
keep their numbers apart). Two readers: Prometheus pulls `GET /metrics` (the OTel Prometheus
exporter on a registry of this service's own), and OTLP pushes when OTEL_METRICS_EXPORTER=otlp
(the standard OTEL_EXPORTER_OTLP_* variables name the endpoint; none by default, as traces).

The hot path stays cheap: one `add`/`record` costs tens of microseconds on this machine, so
the consumer and the relay count a whole batch per event type and add once
(`count_consumed`, `count_published`), never once per event. The gauges (consumer lag, outbox
backlog and age) report values `Service.refresh_metrics` cached: refreshed on a scrape (at
most once a second: one indexed COUNT/MIN on the outbox, and the consumer's in-memory
positions) and, when pushing over OTLP, by a background job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import Attributes
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.events import CATALOGUE, ReferralEvent

# Seconds; handler and batch times run from well under a millisecond to a slow database's
# seconds.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# The referral's step each broadcast referral event records (its status after the step):
# LoanReferralCreated -> created, LoanApproved -> approved, ...
REFERRAL_OUTCOMES: dict[str, str] = {
    cls.ce_type(): cls.__name__.removeprefix("LoanReferral").removeprefix("Loan").lower()
    for cls in CATALOGUE
    if issubclass(cls, ReferralEvent) and cls.is_broadcast()
}


class PublishedRow(Protocol):
    """What `count_published` reads of an outbox row (shared.outbox.OutboxColumns)."""

    topic: str
    ce_type: str
    value: str


def push_readers() -> list[MetricReader]:
    """The readers OTEL_METRICS_EXPORTER asks for (otlp, console, none; none by default)."""
    readers: list[MetricReader] = []
    for name in os.environ.get("OTEL_METRICS_EXPORTER", "none").split(","):
        match name.strip():
            case "otlp":
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )

                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
            case "console":
                readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
            case "none" | "prometheus" | "":  # Prometheus is always served on /metrics
                pass
            case other:
                raise ValueError(f"OTEL_METRICS_EXPORTER: unsupported exporter {other!r}")
    return readers


class Metrics:
    def __init__(self, service: str, readers: Sequence[MetricReader] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        # service.name as a label on every series: dashboards filter on it whether Prometheus
        # scraped the service or the collector forwarded its OTLP.
        prometheus = PrometheusMetricReader(
            registry=self.registry, resource_attribute_filter=lambda key: key == "service.name"
        )
        self.pushing = list(push_readers() if readers is None else readers)
        self.provider = MeterProvider(
            resource=Resource.create({"service.name": f"skillbridge-{service}"}),
            metric_readers=[prometheus, *self.pushing],
        )
        meter = self.provider.get_meter("skillbridge")
        self.consumed = meter.create_counter(
            "skillbridge.events.consumed",
            unit="{event}",
            description="Events applied by this service's consumer (committed), by type",
        )
        self.duplicates = meter.create_counter(
            "skillbridge.events.duplicates",
            unit="{event}",
            description="Events the inbox skipped as already applied, by type",
        )
        self.published = meter.create_counter(
            "skillbridge.events.published",
            unit="{event}",
            description="Outbox rows the broker acknowledged, by topic and type",
        )
        self.dead_lettered = meter.create_counter(
            "skillbridge.events.dead_lettered",
            unit="{event}",
            description="Records sent to <topic>.dlq, by original topic",
        )
        self.handler_duration = meter.create_histogram(
            "skillbridge.handler.duration",
            unit="s",
            description="Time one batch's handlers of one event type took",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.batch_duration = meter.create_histogram(
            "skillbridge.consumer.batch.duration",
            unit="s",
            description="Time one consumer batch took, transaction and commit included",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.referral_outcomes = meter.create_counter(
            "skillbridge.referral.outcomes",
            unit="{referral}",
            description="Referral steps published (created, held, approved, ...), by lender",
        )
        # Cached by Service.refresh_metrics; read at collection.
        self.lag: dict[tuple[str, int], int] = {}
        self.outbox_backlog = 0
        self.outbox_oldest: datetime | None = None
        meter.create_observable_gauge(
            "skillbridge.consumer.lag",
            callbacks=[self._observe_lag],
            unit="{record}",
            description="Records on the broker not yet consumed, by topic and partition",
        )
        meter.create_observable_gauge(
            "skillbridge.outbox.backlog",
            callbacks=[self._observe_backlog],
            unit="{row}",
            description="Outbox rows not yet published",
        )
        meter.create_observable_gauge(
            "skillbridge.outbox.oldest_age",
            callbacks=[self._observe_oldest],
            unit="s",
            description="Age of the oldest unpublished outbox row (0 when none)",
        )
        # One attributes dict per key, built once: the SDK hashes the dict on every add.
        self._attributes: dict[object, Attributes] = {}

    # --- the hot path: called once per batch ---------------------------------------------

    def count_consumed(self, applied: Mapping[str, int], duplicates: Mapping[str, int]) -> None:
        for ce_type, n in applied.items():
            self.consumed.add(n, self._type(ce_type))
        for ce_type, n in duplicates.items():
            self.duplicates.add(n, self._type(ce_type))

    def record_handlers(self, seconds_by_type: Mapping[str, float]) -> None:
        for ce_type, seconds in seconds_by_type.items():
            self.handler_duration.record(seconds, self._type(ce_type))

    def count_dead_letter(self, topic: str) -> None:
        self.dead_lettered.add(1, self._cached(("topic", topic), {"topic": topic}))

    def count_published(self, rows: Iterable[PublishedRow]) -> None:
        counts: dict[tuple[str, str], int] = {}
        outcomes: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row.topic, row.ce_type)
            counts[key] = counts.get(key, 0) + 1
            outcome = REFERRAL_OUTCOMES.get(row.ce_type)
            if outcome is not None and row.topic == _BROADCAST_TOPIC.get(row.ce_type):
                # Only referral events read their body, and only for the lender's code (the
                # same step also goes to the lender's own topic: counted once, here).
                lender = str(json.loads(row.value).get("lender_code", ""))
                outcomes[lender, outcome] = outcomes.get((lender, outcome), 0) + 1
        for (topic, ce_type), n in counts.items():
            attributes = {"topic": topic, "event_type": ce_type}
            self.published.add(n, self._cached(("published", topic, ce_type), attributes))
        for (lender, outcome), n in outcomes.items():
            self.referral_outcomes.add(
                n,
                self._cached(("outcome", lender, outcome), {"lender": lender, "outcome": outcome}),
            )

    def _type(self, ce_type: str) -> Attributes:
        return self._cached(ce_type, {"event_type": ce_type})

    def _cached(self, key: object, attributes: Attributes) -> Attributes:
        found = self._attributes.get(key)
        if found is None:
            found = self._attributes[key] = attributes
        return found

    # --- gauges ---------------------------------------------------------------------------

    def _observe_lag(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(n, {"topic": topic, "partition": partition})
            for (topic, partition), n in self.lag.items()
        ]

    def _observe_backlog(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.outbox_backlog)]

    def _observe_oldest(self, _: CallbackOptions) -> Iterable[Observation]:
        oldest = self.outbox_oldest
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        return [Observation(max(age, 0.0))]

    # --- reading ------------------------------------------------------------------------

    def prometheus_text(self) -> bytes:
        """The Prometheus exposition of every instrument (runs the gauges' callbacks)."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        """Flush the push readers (a last OTLP export) and stop them."""
        self.provider.shutdown()


_BROADCAST_TOPIC = {cls.ce_type(): cls.topic() for cls in CATALOGUE if cls.is_broadcast()}
