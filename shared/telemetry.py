"""OpenTelemetry set-up and W3C trace-context propagation through Kafka headers and the outbox.

Exporters are chosen by the standard OTEL_TRACES_EXPORTER (otlp, console, none; none by
default); spans are always recorded so a trace id exists for the outbox to carry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind

_TRACER_NAME = "skillbridge"


def setup_telemetry(service_name: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "none").split(","):
        match name.strip():
            case "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            case "console":
                provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
            case "none" | "":
                pass
            case other:
                raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {other!r}")
    trace.set_tracer_provider(provider)
    return provider


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C headers, to store beside an outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def consumer_span(name: str, carrier: Mapping[str, str], **attributes: str) -> Iterator[Span]:
    """A CONSUMER span continuing the trace of the record that caused it."""
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(
        name, context=propagate.extract(dict(carrier)), kind=SpanKind.CONSUMER
    ) as span:
        for key, value in attributes.items():
            span.set_attribute(key, value)
        yield span


@contextmanager
def producer_span(
    name: str, carrier: Mapping[str, str], **attributes: str
) -> Iterator[dict[str, str]]:
    """A PRODUCER span child of the staged context; yields the headers that continue it."""
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(
        name, context=propagate.extract(dict(carrier)), kind=SpanKind.PRODUCER
    ) as span:
        for key, value in attributes.items():
            span.set_attribute(key, value)
        headers: dict[str, str] = {}
        propagate.inject(headers)
        yield headers
