"""Database helpers: async SQLModel engine, unit of work and Alembic at start-up.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is chosen by URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event, func, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeDecorator
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import NotFound

STAGED_EVENTS = "skillbridge.staged_events"
T = TypeVar("T")
Q = TypeVar("Q", bound=Select[Any])


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection: SQLite has one writer anyway, and a deferred transaction that
    # upgrades to a write lock fails at once with SQLITE_BUSY (docs/decisions/0004).
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


async def lock_aggregate(session: AsyncSession, key: str) -> None:
    """Serialise transactions about one aggregate (e.g. a person) until this one ends.

    Needed where a decision reads one table and another transaction writes it (write skew
    under READ COMMITTED). PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing
    to do, each service has one connection, so its transactions are already serial.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def lock_aggregates(session: AsyncSession, keys: Iterable[str]) -> None:
    """`lock_aggregate` for many keys in one statement, taken in sorted key order, the order
    every caller that holds several uses (so two batches cannot deadlock). The subquery's
    ORDER BY keeps PostgreSQL from flattening it: the locks are taken in that order."""
    wanted = sorted(set(keys))
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return
    if len(wanted) == 1:
        await lock_aggregate(session, wanted[0])
        return
    connection = await session.connection()
    await connection.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM "
            "(SELECT k FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) "
            "ORDER BY n) AS ordered"
        ),
        {"keys": wanted},
    )


async def get_or_404(
    session: AsyncSession,
    table: type[T],
    key: object,
    *,
    what: str,
    field: str,
    quoted: bool = True,
) -> T:
    """The row with this primary key, or a 404 naming the field: `no <what> '<key>'`, or
    `no <what> <key>` with `quoted=False` (the registry's and funding's older messages)."""
    row = await session.get(table, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}" if quoted else f"no {what} {key}", field=field)
    return row


async def count(session: AsyncSession, table: type[Any], *where: Any) -> int:
    """How many rows `table` holds (that meet every `where` clause)."""
    query = select(func.count()).select_from(table)
    for clause in where:
        query = query.where(clause)
    return int((await session.exec(query)).one())


def where_equal(query: Q, filters: Mapping[Any, object], *, blank_is_unset: bool = False) -> Q:
    """`query` narrowed to the rows whose column (each key, e.g. `Place.kind`) equals its
    value; a value of None is no filter (a list route's optional query parameter). With
    `blank_is_unset` an empty string is none either (routes where `?actor=` lists all)."""
    for column, value in filters.items():
        if value is None or (blank_is_unset and value == ""):
            continue
        query = query.where(column == value)
    return query


class Database:
    """Owns the engine; `transaction()` is the unit of work every handler runs in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._after_commit: list[Callable[[], None]] = []

    def on_events_committed(self, callback: Callable[[], None]) -> None:
        """Called after a transaction that staged outbox events commits (wakes the relay)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            async with session.begin():
                yield session
            if session.info.pop(STAGED_EVENTS, False):
                for callback in self._after_commit:
                    callback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, migrations_dir: Path) -> None:
        """Bring the schema to Alembic head (cookbook: programmatic use with asyncio)."""
        config = Config()
        config.set_main_option("script_location", str(migrations_dir))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))

        def upgrade(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()
