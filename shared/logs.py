"""Log records that carry the current trace: readable lines for the demo, JSON for collectors.

`configure` (called by `Service.run`) puts one handler on the root logger. Its filter stamps
every record with the `trace_id` and `span_id` of the span current when it was logged (empty
outside a span), so a line can be looked up beside its trace. LOG_FORMAT=json writes one JSON
object a line; the default `text` keeps the readable lines and appends the ids when there are
some. `AccessLog` writes one line per HTTP request, inside the request's server span.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

access_log = logging.getLogger("skillbridge.access")


class TraceIds(logging.Filter):
    """Adds `trace_id` and `span_id` (hex, as OTLP and the W3C traceparent write them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            line += f" trace_id={trace_id} span_id={getattr(record, 'span_id', '')}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, service, logger, message,
    trace_id, span_id, and the exception's traceback when there is one."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler(service: str, log_format: LogFormat, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) in that format, stamping trace ids."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(TraceIds())
    out.setFormatter(JsonFormatter(service) if log_format == "json" else TextFormatter(service))
    return out


def configure(service: str, log_format: LogFormat = "text", level: str = "INFO") -> None:
    """The process's logging: one handler on the root logger (replacing any)."""
    logging.basicConfig(level=level, handlers=[handler(service, log_format)], force=True)


# Polled by probes and Prometheus: a line each would drown the log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLog:
    """ASGI middleware: `METHOD path status ms` at INFO when the response starts. Mounted
    inside the OpenTelemetry middleware, so the line carries the request's trace id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in QUIET_PATHS
            or not access_log.isEnabledFor(logging.INFO)
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                access_log.info(
                    "%s %s %d %.1fms",
                    scope.get("method", "?"),
                    path,
                    message["status"],
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        await self.app(scope, receive, logged)
