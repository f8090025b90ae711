"""`skillbridge bench-drain`: how fast funding and certification each drain a pre-filled topic.

Each service runs alone, in this process, on a Tansu broker of its own and a fresh
PostgreSQL database (SQLite when none is reachable). Its upstream's events are produced,
signed, before the service (re)starts; the figure is events/s from the first event consumed
to the last, so the consumer group's join is not counted.

- funding: the IEAT pilot's people as the registry and certification publish them
  (PersonRegistered, ConsentGranted, QualificationAwarded); the referrals made are checked
  against the hand computation.
- certification: N candidates on the training route pass their assessment (they wait for
  training), then N TrainingCompleted are produced; each awards one certificate (checked).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import httpx
from sqlmodel import col, func, select

from deploy.bench.funding import produce, upstream_events
from deploy.bench.harness import RESULTS_DIR, Figures, bench_env, prepare, recording
from deploy.clients.base import auth_headers
from deploy.clients.certification import ASSESSOR, Candidate, CertificationClient, unit_results
from deploy.scenarios.pilot import expected_referrals, ieat_2019_pilot
from services.certification.__main__ import build as build_certification
from services.certification.settings import CertificationSettings
from services.certification.tables import Certificate
from services.funding.__main__ import build as build_funding
from services.funding.handlers import referrals
from services.funding.settings import FundingSettings
from shared.events import Event, OrganisationRegistered, TrainingCompleted
from shared.runtime import Service

STANDARD = "electrician-l1"
TIMEOUT_S = 600.0


async def drained(service: Service, count: int) -> tuple[int, float]:
    """Wait until `count` events were consumed; (events, seconds) from the first to the last."""
    consumer = service.consumer
    assert consumer is not None
    deadline = time.monotonic() + TIMEOUT_S
    began = time.perf_counter()
    first: tuple[int, float] | None = None
    while (done := consumer.processed + consumer.duplicates) < count:
        if first is None and done:
            first = (done, time.perf_counter())
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service.name} consumed {done} of {count} in {TIMEOUT_S}s")
        await asyncio.sleep(0.005)
    end = time.perf_counter()
    if first is None:  # all in one batch: timed from the wait's start (the join included)
        return count, end - began
    return count - first[0], end - first[1]


async def run_service(service: Service, work: Callable[[Service], Awaitable[None]]) -> None:
    await service.start()
    try:
        await work(service)
    finally:
        await service.stop()


def _funding_settings(url: str, bootstrap: str, group: str) -> FundingSettings:
    return FundingSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key="sbk_" + secrets.token_urlsafe(24),
        consumer_group_prefix=group,
    )


async def drain_funding(
    label: str, url: str, bootstrap: str, people: int, out: TextIO, figures: Figures
) -> list[str]:
    events, ids = upstream_events(people)
    await produce(bootstrap, events)
    out.write(f"\nfunding on {label}: {len(events):,} upstream events for {people:,} people\n")
    service = build_funding(_funding_settings(url, bootstrap, f"drain-{secrets.token_hex(3)}"))
    problems: list[str] = []

    async def work(service: Service) -> None:
        n, seconds = await drained(service, len(events))
        out.write(
            f"  drained                {figures.rate(f'funding {label}', 'drain', n, seconds)}\n"
        )
        async with service.db.transaction() as session:
            made = await referrals.search(session, exclude_held=True, limit=10**7)
        to_nid = {pid: nid for nid, pid in ids.items()}
        got = {(to_nid[r.person_id], r.product_code) for r in made if r.person_id in to_nid}
        want = expected_referrals(ieat_2019_pilot(size=people))
        if got != want:
            problems.append(f"funding {label}: {len(got ^ want)} referrals differ")
        out.write(f"  referrals              {len(got):,} (expected {len(want):,})\n")

    await run_service(service, work)
    return problems


def _certification_settings(
    url: str, bootstrap: str, group: str, admin: str
) -> CertificationSettings:
    return CertificationSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin,
        consumer_group_prefix=group,
        public_url="https://certs.bench.test",
    )


async def _waiting_passes(service: Service, admin: str, bootstrap: str, people: int) -> list[str]:
    """`people` candidates on the training route whose passes wait for their training."""
    assessor = OrganisationRegistered(
        code=ASSESSOR, kind="assessor", name="TPQI", registered_at=datetime.now(UTC)
    )
    await produce(bootstrap, [assessor])
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://cert", headers=auth_headers(admin), timeout=300
    ) as http:
        client = CertificationClient(http)
        code = f"drain-{secrets.token_hex(3)}"
        await client.ensure_session(
            code=code, standard_code=STANDARD, held_on=date.today(), retry_for=60
        )
        ids = [str(uuid.uuid4()) for _ in range(people)]
        await client.register_candidates(code, [Candidate(p, "สมชาย ใจดี") for p in ids])
        units = unit_results(await client.standard(STANDARD), True)
        await client.record_results(code, {p: units for p in ids})
        occupation = str((await client.standard(STANDARD))["occupation"])
    return [f"{p}|{occupation}" for p in ids]


def _completions(waiting: list[str]) -> list[Event]:
    now = datetime.now(UTC)
    return [
        TrainingCompleted(
            person_id=person_id,
            enrolment_id=str(uuid.uuid4()),
            programme_code="drain",
            cohort_code="drain-1",
            occupation=occupation,
            hours=120,
            completed_at=now,
        )
        for person_id, occupation in (w.split("|") for w in waiting)
    ]


async def drain_certification(
    label: str, url: str, bootstrap: str, people: int, out: TextIO, figures: Figures
) -> list[str]:
    admin = "sbk_" + secrets.token_urlsafe(24)
    settings = _certification_settings(url, bootstrap, f"drain-{secrets.token_hex(3)}", admin)
    waiting: list[str] = []

    async def setup(service: Service) -> None:
        waiting.extend(await _waiting_passes(service, admin, bootstrap, people))

    await run_service(build_certification(settings), setup)
    events = _completions(waiting)
    await produce(bootstrap, events)
    out.write(f"\ncertification on {label}: {len(events):,} TrainingCompleted, each awards\n")
    problems: list[str] = []

    async def work(service: Service) -> None:
        n, seconds = await drained(service, len(events))
        target = f"certification {label}"
        out.write(f"  drained                {figures.rate(target, 'drain', n, seconds)}\n")
        async with service.db.transaction() as session:
            issued = (await session.exec(select(func.count(col(Certificate.person_id))))).one()
        if issued != people:
            problems.append(f"{target}: {issued} certificates for {people} completions")
        out.write(f"  certificates           {issued:,} (expected {people:,})\n")

    # The same consumer group: the assessor's event is behind it, the completions ahead.
    await run_service(build_certification(settings), work)
    return problems


async def _run(
    services: list[str], people: int, data_dir: Path, out: TextIO, figures: Figures
) -> int:
    problems: list[str] = []
    drains = {"funding": drain_funding, "certification": drain_certification}
    for name in services:
        (data_dir / name).mkdir(parents=True, exist_ok=True)
        async with bench_env(name, data_dir / name, f"sb_bench_drain_{name}", out) as env:
            label, url = env.targets[-1]  # PostgreSQL when reachable
            problems += await drains[name](label, url, env.bootstrap, people, out, figures)
    figures.problems += problems
    if problems:
        out.write("\nCHECK FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write("\ncheck: referrals equal the hand computation; one certificate per completion\n")
    return 0


def run(
    *,
    people: int,
    services: list[str],
    data_dir: Path,
    out_dir: Path = RESULTS_DIR,
    out: TextIO = sys.stdout,
) -> int:
    parameters = {"people": people, "services": services}
    with recording("drain", parameters, out_dir, out) as figures:
        return drain(people=people, services=services, data_dir=data_dir, figures=figures, out=out)


def drain(
    *, people: int, services: list[str], data_dir: Path, figures: Figures, out: TextIO
) -> int:
    """Every service's drain into `figures` (also part (c) of `skillbridge bench`)."""
    prepare(data_dir, "drain.log")
    return asyncio.run(_run(services, people, data_dir, out, figures))
