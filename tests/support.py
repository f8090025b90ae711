"""Helpers the tests share: waiting on conditions with deadlines, an OTLP trace collector."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from stdnum.th import pin

from deploy.stack.databases import create_databases
from deploy.stack.launcher import Stack, free_port
from shared.topics import SERVICES

T = TypeVar("T")


def national_id() -> str:
    """A random Thai national ID with a valid check digit."""
    body = "3" + "".join(secrets.choice("0123456789") for _ in range(11))
    return body + pin.calc_check_digit(body)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 60,
    what: str = "condition",
) -> T:
    """Poll `probe` until `done(result)`; fail with the last result after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(0.1)


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


def make_stack(
    data_dir: Path, bootstrap: str, extra_env: dict[str, str], *, postgres: bool, prefix: str
) -> Stack:
    """The four services as separate processes on the session's broker, on free ports."""
    urls = (
        asyncio.run(create_databases(SERVICES, prefix))
        if postgres
        else {s: f"sqlite+aiosqlite:///{data_dir / f'{s}.db'}" for s in SERVICES}
    )
    return Stack(
        data_dir=data_dir,
        external_bootstrap=bootstrap,
        ports={service: free_port() for service in SERVICES},
        database_urls=urls,
        # Tansu (the session broker) lacks InitProducerId; an external name keeps the default on.
        extra_env={"KAFKA_ENABLE_IDEMPOTENCE": "false", **extra_env},
    )


def error_fields(body: Any) -> list[str]:
    """The fields an error body names, in the old shape (`fields`) or RFC 9457's
    (`errors`), so tests hold across the switch."""
    return [str(e.get("field")) for e in (body.get("errors") or body.get("fields") or [])]
