"""An OTLP/HTTP trace collector: which services took part in a trace."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TraceCollector:
    """An OTLP/HTTP (protobuf) endpoint that keeps (service.name, trace id, span name)."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.spans: list[tuple[str, str, str]] = []
        lock = threading.Lock()
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with lock:
                    for resource_spans in request.resource_spans:
                        attrs = {
                            a.key: a.value.string_value for a in resource_spans.resource.attributes
                        }
                        service = attrs.get("service.name", "?")
                        for scope in resource_spans.scope_spans:
                            for span in scope.spans:
                                spans.append((service, span.trace_id.hex(), span.name))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def env(self) -> dict[str, str]:
        return {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{self.port}/v1/traces",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }

    def services_in_trace(self, trace_id: str) -> set[str]:
        return {service for service, tid, _ in list(self.spans) if tid == trace_id}

    def close(self) -> None:
        self._server.shutdown()
