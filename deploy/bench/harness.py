"""What the benchmarks share: a fresh data directory and their log, a Tansu broker of their
own and the databases to run on (SQLite always; a fresh PostgreSQL database when one is
reachable, dropped after), and how a rate is printed."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from deploy.stack.databases import create_databases, drop_databases, postgres_reachable
from deploy.stack.launcher import free_port, start_tansu

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def prepare(data_dir: Path, log_file: str | None = None) -> None:
    """Start from an empty data directory (the broker and databases start empty too). With
    `log_file`, the service's own INFO lines go there, away from the figures; without, only
    warnings reach the terminal."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if log_file is None:
        logging.basicConfig(level=logging.WARNING)
    else:
        logging.basicConfig(filename=data_dir / log_file, level=logging.INFO, format=LOG_FORMAT)


def rate(count: int, seconds: float) -> str:
    """`count in seconds = per second`, as the figures print it."""
    return f"{count:,} in {seconds:.2f} s = {count / max(seconds, 1e-9):,.0f}/s"


async def fresh_postgres(services: Iterable[str], prefix: str) -> dict[str, str]:
    """Service -> URL of a throwaway PostgreSQL database, or {} when none is reachable."""
    if not await postgres_reachable():
        return {}
    return await create_databases(services, prefix)


@dataclass(frozen=True)
class BenchEnv:
    bootstrap: str
    targets: list[tuple[str, str]]  # (label, database URL)


@asynccontextmanager
async def bench_env(
    service: str, data_dir: Path, db_prefix: str, out: TextIO
) -> AsyncIterator[BenchEnv]:
    # The service and the events the bench publishes as its upstream sign with one keys dir.
    os.environ.setdefault("EVENT_KEYS_DIR", str(data_dir / "keys"))
    port = free_port()
    broker = start_tansu(port, data_dir / "broker.log")
    pg_urls: dict[str, str] = {}
    try:
        targets = [("SQLite", f"sqlite+aiosqlite:///{data_dir / f'{service}.db'}")]
        pg_urls = await fresh_postgres([service], db_prefix)
        if pg_urls:
            targets.append(("PostgreSQL", pg_urls[service]))
        else:
            out.write("PostgreSQL at 127.0.0.1:5432 not reachable: SQLite only\n")
        yield BenchEnv(f"127.0.0.1:{port}", targets)
    finally:
        if pg_urls:
            await drop_databases(pg_urls.values())
        broker.terminate()
        broker.wait(5)
