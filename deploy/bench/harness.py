"""What the benchmarks share: a fresh data directory and their log, a Tansu broker of their
own and the databases to run on (SQLite always; a fresh PostgreSQL database when one is
reachable, dropped after), how a rate is printed, and how a run's figures are recorded: as
JSON in `<out>/<name>-<UTC timestamp>.json` (default out: var/bench), besides printed."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from deploy.stack.databases import create_databases, drop_databases, postgres_reachable
from deploy.stack.launcher import free_port, start_tansu

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RESULTS_DIR = Path("var/bench")  # where figures go unless --out (or SKILLBRIDGE_BENCH_OUT) says
REPO = Path(__file__).resolve().parents[2]


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


def git_commit(repo: Path = REPO) -> str | None:
    """The checked-out commit (with "-dirty" when files differ from it), or None outside a
    git checkout: figures are only comparable knowing what code made them."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if changed else head


@dataclass
class Figures:
    """One run's figures: per target (a database, or e.g. the raw broker baseline) a flat
    mapping of figure name to number, e.g. {"learners_per_s": 41.2, "latency_ms_p95": 850}.
    Names end in their unit: _s seconds, _per_s per second, _ms milliseconds, _n counts."""

    name: str
    parameters: dict[str, Any]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what the run's checks found
    files: dict[str, str] = field(default_factory=dict)  # e.g. flame graphs written beside it

    def record(self, target: str, **figures: float) -> None:
        self.targets.setdefault(target, {}).update(figures)

    def rate(self, target: str, key: str, count: int, seconds: float) -> str:
        """Records `<key>_n`, `<key>_s` and `<key>_per_s`; returns them as `rate` prints."""
        per_s = count / max(seconds, 1e-9)
        self.record(target, **{f"{key}_n": count, f"{key}_s": seconds, f"{key}_per_s": per_s})
        return rate(count, seconds)

    def document(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "parameters": self.parameters,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "git_commit": git_commit(),
            "host": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "passed": not self.problems,
            "problems": self.problems,
            "targets": self.targets,
            **({"files": self.files} if self.files else {}),
        }

    @property
    def stem(self) -> str:
        """`<name>-<started, UTC>`: the JSON file's name and the prefix of files beside it."""
        return f"{self.name}-{self.started_at.strftime('%Y%m%dT%H%M%SZ')}"

    def write(self, out_dir: Path) -> Path:
        """`<out_dir>/<name>-<started, UTC>.json`; a second run in the same second gets -2."""
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = self.stem
        text = json.dumps(self.document(), indent=2, ensure_ascii=False) + "\n"
        for attempt in range(1, 100):
            path = out_dir / (f"{stem}.json" if attempt == 1 else f"{stem}-{attempt}.json")
            try:
                with path.open("x", encoding="utf-8") as file:
                    file.write(text)
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"{out_dir / stem}.json and 98 more exist")


@contextmanager
def recording(
    name: str, parameters: dict[str, Any], out_dir: Path, out: TextIO = sys.stdout
) -> Iterator[Figures]:
    """The one way a benchmark records: it fills the Figures it is given; when it returns
    (checks failed or not) they are written and the path printed. A run that raised leaves
    no file: its figures would be partial."""
    figures = Figures(name, parameters)
    yield figures
    path = figures.write(out_dir)
    out.write(f"\nfigures written to {path}\n")


def check_out_dir(out_dir: Path, data_dir: Path) -> None:
    """ValueError when the figures would go inside the data directory, which every run
    empties first (so earlier runs' figures would be lost)."""
    out, data = out_dir.resolve(), data_dir.resolve()
    if out == data or data in out.parents:
        raise ValueError(f"{out_dir} is inside the data directory {data_dir}, emptied by each run")
