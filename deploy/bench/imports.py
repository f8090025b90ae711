"""`skillbridge bench-import`: the registry's CSV import, measured and checked.

The registry runs in this process (services.registry.__main__.build) on a Tansu broker of its
own, first on SQLite, then on a fresh PostgreSQL database when one is reachable at
127.0.0.1:5432. A generated file (2% invalid national IDs, 1% duplicate rows) is imported,
then imported again; the counts and the rejection report must match the expectation exactly
and the re-import must create nothing. The outbox relay publishes to the broker meanwhile, as
it would in production, so the figures include it.
"""

from __future__ import annotations

import asyncio
import csv
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx
from sqlmodel import func, select

from deploy.bench.harness import RESULTS_DIR, Figures, bench_env, prepare, recording
from deploy.clients.registry import Outcome, RegistryClient
from deploy.scenarios.people_csv import Expectation, write_csv
from services.registry.__main__ import build
from services.registry.settings import RegistrySettings
from services.registry.tables import Household, IncomeRecord, Outbox, Person

INVALID = 0.02
DUPLICATES = 0.01
SEED = 2024


@dataclass(frozen=True)
class Run:
    database: str
    name: str  # first or again
    outcome: Outcome

    @property
    def worker_rate(self) -> float:
        return float(self.outcome.job["rows_per_second"] or 0)

    @property
    def end_to_end_rate(self) -> float:
        return float(self.outcome.job["rows_done"]) / self.outcome.total_seconds


def report_lines(path: Path) -> dict[int, list[str]]:
    """line -> fields rejected on it, from a rejection report."""
    lines: dict[int, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            lines.setdefault(int(row["line"]), []).append(row["field"])
    return lines


def check(run: Run, expected: Expectation, first_created: int) -> list[str]:
    job, problems = run.outcome.job, []
    want = {
        "status": "done",
        "rows_done": expected.rows,
        "created": expected.created if run.name == "first" else 0,
        "unchanged": 0 if run.name == "first" else first_created,
        "rejected": len(expected.rejected),
    }
    for name, value in want.items():
        if job[name] != value:
            problems.append(f"{run.database} {run.name}: {name} = {job[name]}, expected {value}")
    reported = report_lines(run.outcome.report)
    wanted = {line: [field] for line, field in expected.rejected.items()}
    if reported != wanted:
        extra = sorted(set(reported) - set(wanted))[:10]
        missing = sorted(set(wanted) - set(reported))[:10]
        problems.append(
            f"{run.database} {run.name}: report differs (extra lines {extra}, missing {missing})"
        )
    return problems


async def _database_counts(settings: RegistrySettings) -> dict[str, int]:
    from shared.db import Database

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return {
                "people": (await session.exec(select(func.count()).select_from(Person))).one(),
                "households": (
                    await session.exec(select(func.count()).select_from(Household))
                ).one(),
                "income_records": (
                    await session.exec(select(func.count()).select_from(IncomeRecord))
                ).one(),
                "person_registered": (
                    await session.exec(
                        select(func.count())
                        .select_from(Outbox)
                        .where(Outbox.ce_type == "skillbridge.registry.PersonRegistered.v1")
                    )
                ).one(),
            }
    finally:
        await db.dispose()


async def bench_database(
    database: str, url: str, bootstrap: str, csv_path: Path, expected: Expectation, out: TextIO
) -> tuple[list[Run], list[str]]:
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    settings = RegistrySettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId (docs/decisions/0003)
        admin_key=admin_key,
    )
    service = build(settings)
    await service.start()
    runs: list[Run] = []
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app),
            base_url="http://registry",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=300,
        ) as client:
            for name in ("first", "again"):
                out.write(f"\n{database}: {name} import\n")
                report = csv_path.with_name(f"{database.lower()}-{name}.rejections.csv")
                outcome = await RegistryClient(client).import_file(
                    csv_path, report=report, out=out, poll_seconds=0.25
                )
                runs.append(Run(database, name, outcome))
    finally:
        await service.stop()
    problems = []
    for run in runs:
        problems += check(run, expected, runs[0].outcome.job["created"])
    counts = await _database_counts(settings)
    want = {
        "people": expected.created,
        "households": len(expected.households),
        "income_records": len(expected.incomes),
        "person_registered": expected.created,
    }
    for name, value in want.items():
        if counts[name] != value:
            problems.append(f"{database}: {counts[name]} {name} in the database, expected {value}")
    return runs, problems


def print_table(runs: list[Run], rows: int, out: TextIO) -> None:
    out.write(f"\nSkillBridge import bench: {rows:,} rows, {INVALID:.0%} invalid IDs, ")
    out.write(f"{DUPLICATES:.0%} duplicate rows\n")
    out.write("-" * 96 + "\n")
    out.write(
        f"{'database':<12}{'run':<7}{'upload s':>9}{'total s':>9}{'rows/s worker':>15}"
        f"{'rows/s e2e':>12}{'created':>9}{'unchanged':>10}{'rejected':>9}{'flagged':>8}\n"
    )
    for run in runs:
        job = run.outcome.job
        out.write(
            f"{run.database:<12}{run.name:<7}{run.outcome.upload_seconds:>9.1f}"
            f"{run.outcome.total_seconds:>9.1f}{run.worker_rate:>15,.0f}"
            f"{run.end_to_end_rate:>12,.0f}{job['created']:>9,}{job['unchanged']:>10,}"
            f"{job['rejected']:>9,}{job['flagged']:>8,}\n"
        )
    out.write(
        "rows/s worker: rows / (job finished - job started), from GET /imports/{id};\n"
        "rows/s e2e: rows / (upload start -> done seen by the client, polling every 0.25 s).\n"
    )


def record(runs: list[Run], figures: Figures) -> None:
    """Each run as a target of its own ("SQLite first", "SQLite again", ...)."""
    for run in runs:
        job = run.outcome.job
        figures.record(
            f"{run.database} {run.name}",
            rows_n=job["rows_done"],
            upload_s=run.outcome.upload_seconds,
            total_s=run.outcome.total_seconds,
            worker_rows_per_s=run.worker_rate,
            end_to_end_rows_per_s=run.end_to_end_rate,
            created_n=job["created"],
            unchanged_n=job["unchanged"],
            rejected_n=job["rejected"],
            flagged_n=job["flagged"],
        )


async def main(rows: int, data_dir: Path, out: TextIO, figures: Figures) -> int:
    csv_path = data_dir / f"people-{rows}.csv"
    started = time.perf_counter()
    expected = write_csv(csv_path, rows, invalid=INVALID, duplicates=DUPLICATES, seed=SEED)
    out.write(
        f"generated {csv_path} in {time.perf_counter() - started:.1f} s: {rows:,} rows, "
        f"{len(expected.invalid):,} invalid IDs, {len(expected.duplicate_of):,} duplicates, "
        f"{len(expected.households):,} households\n"
    )
    runs: list[Run] = []
    problems: list[str] = []
    async with bench_env("registry", data_dir, "sb_bench_import", out) as env:
        for database, url in env.targets:
            done, found = await bench_database(
                database, url, env.bootstrap, csv_path, expected, out
            )
            runs += done
            problems += found
    print_table(runs, rows, out)
    record(runs, figures)
    figures.problems += problems
    if problems:
        out.write("CHECK FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write(
        "check: every run reported exactly the invalid and duplicate lines; the database holds "
        "exactly the expected people, households, income records and PersonRegistered events\n"
    )
    return 0


def run(*, rows: int, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    # The worker's own progress lines go to the log; the terminal shows the client's line.
    prepare(data_dir, "registry.log")
    parameters = {"rows": rows, "invalid": INVALID, "duplicates": DUPLICATES, "seed": SEED}
    with recording("import", parameters, out_dir) as figures:
        return asyncio.run(main(rows, data_dir, sys.stdout, figures))
