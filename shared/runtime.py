"""One service process: FastAPI app + FastStream consumers + outbox relay, wired once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import audit_api, auth_api, ops_api
from shared.audit import AuditColumns
from shared.auth import ApiKeyColumns, ApiKeys
from shared.consumer import EventConsumer, Handler
from shared.db import Database
from shared.envelope import source_of
from shared.events import CATALOGUE, PARTNER, Event
from shared.http import install_body_limit, install_error_handlers, install_health
from shared.inbox import InboxColumns
from shared.kafka import ensure_topics, make_broker, publisher_for, records_on_broker
from shared.logs import AccessLog
from shared.logs import configure as configure_logging
from shared.metrics import PROMETHEUS_CONTENT_TYPE, Metrics
from shared.outbox import OutboxColumns, OutboxRelay, backlog, requeue_if_broker_lost
from shared.settings import ServiceSettings
from shared.signing import WELL_KNOWN_PATH, public_document
from shared.signing import install as install_signing_key
from shared.telemetry import setup_telemetry
from shared.topics import dlq_topic, service_topic

log = logging.getLogger(__name__)


class ServiceTables(Protocol):
    """A service's tables module (services/<name>/tables.py) as `Service` reads it: the
    tables every service declares from the shared mixins. Its Alembic scripts are the
    migrations/ folder beside it."""

    @property
    def __file__(self) -> str | None: ...

    @property
    def Outbox(self) -> type[OutboxColumns]: ...

    @property
    def Inbox(self) -> type[InboxColumns]: ...

    @property
    def ApiKey(self) -> type[ApiKeyColumns]: ...

    @property
    def AuditEntry(self) -> type[AuditColumns]: ...


class Service:
    def __init__(
        self,
        *,
        name: str,
        settings: ServiceSettings,
        tables: ServiceTables,
        handlers: Mapping[type[Event], Handler] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.source = source_of(name)
        self.outbox = tables.Outbox
        if tables.__file__ is None:  # a module built in memory: no folder to find migrations in
            raise ValueError(f"{name}: its tables module has no file")
        self.migrations = Path(tables.__file__).parent / "migrations"
        self.db = Database(settings.database_url)
        # Every event this service stages is signed with this key (docs/decisions/0013); a
        # service that publishes nothing (the dashboard) has none to load or keep.
        self.publishes = any(cls.service == name for cls in CATALOGUE)
        self.signing_key = install_signing_key(name, settings) if self.publishes else None
        self.broker = make_broker(settings)
        self.metrics = Metrics(name)
        self._metrics_refreshed = 0.0
        self.relay = OutboxRelay(
            self.db,
            self.outbox,
            publisher_for(self.broker),
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            retention=timedelta(days=settings.outbox_retention_days),
            on_published=self.metrics.count_published,
        )
        self.consumer: EventConsumer | None = None
        if handlers:
            self.consumer = EventConsumer(
                name=name,
                db=self.db,
                inbox=tables.Inbox,
                handlers=handlers,
                settings=settings,
                metrics=self.metrics,
            )
            self.consumer.subscribe(self.broker)
        # Run after migrations, before consumers start (e.g. funding's partner topics).
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        # Long-running jobs (schedules, import workers): started last, cancelled first.
        self.background: list[Callable[[], Awaitable[None]]] = []
        # Run at stop once the background jobs are cancelled, last added first (e.g. closing
        # an HTTP client a startup hook opened for them).
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        if self.metrics.pushing:  # no scrape refreshes the gauges for an OTLP push
            self.every(settings.metrics_refresh_seconds, self.refresh_metrics, "metrics")
        self.republished_on_start = 0  # retained outbox rows replayed to a broker that lost them
        self.app = FastAPI(title=f"SkillBridge {name}", version="0.1.0", lifespan=self._lifespan)
        self.app.state.db = self.db  # for module-level routers (shared.auth.Db)
        install_error_handlers(self.app)
        install_health(self.app, self._not_ready_reason)
        # Prometheus's scrape target; left out of the OpenAPI (an operations endpoint in the
        # exposition format, not part of the API; docs/architecture.md names it).
        self.app.get("/metrics", include_in_schema=False)(self.prometheus)
        self.app.add_middleware(AccessLog)
        if self.publishes:
            self.app.get(WELL_KNOWN_PATH, tags=["operations"])(self.event_signing_key)
        # Paths with a limit of their own (e.g. the registry's CSV upload), read per request.
        self.body_limits: dict[str, int] = {}
        install_body_limit(self.app, settings.max_body_bytes, self.body_limits)
        # Operator keys for every route; `/stats` needs a read key, so it is mounted with them.
        # Who did what: key changes, and each service's own audited actions (`GET /audit`).
        self.audit_table = tables.AuditEntry
        self.app.state.audit_table = tables.AuditEntry
        self.app.include_router(audit_api.router)
        self.api_keys = ApiKeys(self.db, tables.ApiKey, audit=tables.AuditEntry)
        auth_api.install(self, self.api_keys, settings.admin_key)
        ops_api.install(self)

    async def ensure_topics(self, extra: Sequence[str] = ()) -> None:
        consumed = self.consumer.topics if self.consumer else []
        private = [
            cls.topic()
            for cls in CATALOGUE
            if cls.service == self.name and cls.audience not in (None, PARTNER)
        ]
        # A service that publishes nothing (the dashboard) has no topic of its own.
        own = [service_topic(self.name)] if self.publishes else []
        names = [
            *own,
            *private,
            *consumed,
            *map(dlq_topic, consumed),
            *extra,
        ]
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            names,
            self.settings.topic_partitions,
            self.settings,
            self.settings.topic_replication_factor,
            self.settings.topic_min_insync_replicas,
        )

    async def start(self) -> None:
        await self.db.migrate(self.migrations)
        await self.ensure_topics()
        for hook in self.startup_hooks:
            await hook()
        await self.broker.start()
        await self._replay_if_broker_lost()
        self.relay.start()
        self._tasks = [asyncio.create_task(self._guard(job)) for job in self.background]
        self._started = True
        log.info("%s started on %s:%d", self.name, self.settings.http_host, self.settings.http_port)

    async def _replay_if_broker_lost(self) -> None:
        # The embedded broker is memory-only: after its restart our topics are empty while
        # the outbox remembers them published. Replay them before the relay runs, so counts
        # and offsets are compared at rest (shared.outbox.requeue_if_broker_lost).
        bootstrap = self.settings.kafka_bootstrap_servers
        requeued, lost = await requeue_if_broker_lost(
            self.db, self.outbox, lambda topics: records_on_broker(bootstrap, topics, self.settings)
        )
        if requeued:
            await self.ensure_topics(lost)
            log.warning(
                "%s: the broker lost records of %s; republishing %d retained outbox rows",
                self.name,
                ", ".join(lost),
                requeued,
            )
        self.republished_on_start = requeued

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run `job` on a schedule while the service runs; a failure is logged, not fatal."""

        async def loop() -> None:
            while True:
                try:
                    await job()
                except Exception:
                    log.exception(
                        "%s: scheduled job %s failed; next run in %ss", self.name, name, seconds
                    )
                await asyncio.sleep(seconds)

        self.background.append(loop)

    def sweep(
        self,
        name: str,
        seconds: float,
        page: Callable[[AsyncSession, int], Awaitable[int]],
        page_size: int = 500,
    ) -> None:
        """Every `seconds` (and at start), run `page(session, page_size)` one transaction a
        page until it handles fewer than `page_size`: one sweep never holds a huge
        transaction, and a backlog is cleared in one run."""

        async def pages() -> None:
            while True:
                async with self.db.transaction() as session:
                    if await page(session, page_size) < page_size:
                        return

        self.every(seconds, pages, name)

    async def _guard(self, job: Callable[[], Awaitable[None]]) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: background job stopped", self.name)

    async def stop(self) -> None:
        self._started = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for hook in reversed(self.shutdown_hooks):
            try:
                await hook()
            except Exception:  # the relay, broker and database are still stopped
                log.exception("%s: shutdown hook failed", self.name)
        try:
            await asyncio.wait_for(self.relay.stop(), timeout=10)
        except TimeoutError:
            log.warning(
                "%s: outbox relay did not drain in 10s; rows stay for next start", self.name
            )
        await self.broker.stop()
        await self.db.dispose()
        for reader in self.metrics.pushing:  # a last export of the counters
            reader.force_flush()

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _not_ready_reason(self) -> str | None:
        if not self._started:
            return "starting"
        try:
            await self.db.ping()
        except Exception as error:
            return f"database: {error}"
        return None

    async def stats(self) -> dict[str, Any]:
        consumer = self.consumer
        # What `skillbridge status` shows: a database that cannot be read is reported
        # here, not raised, so the rest of the figures still arrive.
        database_error: str | None = None
        unsent, oldest = 0, None
        try:
            unsent, oldest = await backlog(self.db, self.outbox)
        except Exception as error:
            database_error = f"{type(error).__name__}: {error}"[:500]
        return {
            "service": self.name,
            "version": self.app.version,
            "database_ok": database_error is None,
            "database_error": database_error,
            "outbox_unsent": unsent,
            "outbox_oldest_unsent_age_s": (
                round((datetime.now(UTC) - oldest).total_seconds(), 3) if oldest else None
            ),
            "consumer_group": consumer.group_id if consumer else None,
            "consumed_topics": consumer.topics if consumer else [],
            "assigned_partitions": consumer.assignment() if consumer else [],
            "outbox_published": self.relay.published_total,
            "outbox_republished_on_start": self.republished_on_start,
            "events_processed": consumer.processed if consumer else 0,
            "duplicates_skipped": consumer.duplicates if consumer else 0,
            "dead_lettered": consumer.dead_lettered if consumer else 0,
            "unknown_types_skipped": dict(consumer.unknown_types) if consumer else {},
        }

    async def refresh_metrics(self) -> None:
        """Cache what the gauges report (shared.metrics): the consumer's lag from its own
        state and one indexed query on the outbox; at most once a second, however often
        Prometheus scrapes."""
        now = time.monotonic()
        if not self._started or now - self._metrics_refreshed < 1.0:
            return
        self._metrics_refreshed = now
        if self.consumer is not None:
            self.metrics.lag = await self.consumer.lag()
        self.metrics.outbox_backlog, self.metrics.outbox_oldest = await backlog(
            self.db, self.outbox
        )

    async def prometheus(self) -> Response:
        """`GET /metrics`: every metric of this service in Prometheus's text format."""
        try:
            await self.refresh_metrics()
        except Exception as error:  # the counters are still worth serving
            log.warning("%s: metrics gauges not refreshed: %s", self.name, error)
        return Response(self.metrics.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    def instrument(self) -> None:
        """HTTP server spans and metrics (http.server.*) for this service's app."""
        FastAPIInstrumentor.instrument_app(
            self.app,
            excluded_urls="healthz,readyz,stats,metrics",
            meter_provider=self.metrics.provider,
        )

    async def event_signing_key(self) -> dict[str, object]:
        """The public key that verifies this service's events (partners fetch funding's)."""
        assert self.signing_key is not None, "mounted only for a service that publishes"
        return public_document(self.name, self.signing_key)

    def run(self) -> None:
        """Blocking entry point of `python -m services.<name>`."""
        configure_logging(self.name, self.settings.log_format, self.settings.log_level)
        setup_telemetry(f"skillbridge-{self.name}")
        self.instrument()
        uvicorn.run(
            self.app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            timeout_graceful_shutdown=20,
        )
        self.metrics.shutdown()
