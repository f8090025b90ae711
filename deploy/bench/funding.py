"""`skillbridge bench-funding`: referral evaluation and the partner API, measured and checked.

Funding runs in this process on a Tansu broker of its own, on SQLite and then on a fresh
PostgreSQL database when one is reachable. The IEAT pilot's people (registration, consent,
award) are produced to the registry and certification topics with a plain Kafka producer, as
those services would publish them. Printed: how fast funding consumes them and makes the
referrals; evaluations of a person against every live product per second (the rules alone,
re-run on the loaded replica); a dry run over everyone; partner API writes per second
(acknowledge, with an Idempotency-Key) and replays of the same writes. The referrals made
are checked against the hand computation in deploy/scenarios/pilot.py.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import httpx
from aiokafka import AIOKafkaProducer

from deploy.bench.harness import RESULTS_DIR, Figures, bench_env, prepare, recording
from deploy.clients.base import auth_headers
from deploy.scenarios.pilot import expected_referrals, ieat_2019_pilot
from services.funding.__main__ import build
from services.funding.handlers import catalogue, referrals
from services.funding.settings import FundingSettings
from services.funding.tables import Referral
from shared.envelope import encode, source_of
from shared.events import ConsentGranted, Event, PersonRegistered, QualificationAwarded
from shared.runtime import Service

CONCURRENCY = 8
EVALUATION_BATCH = 200  # people re-evaluated per transaction


def upstream_events(size: int) -> tuple[list[Event], dict[str, str]]:
    """The pilot's people as registry and certification events; national id -> person id."""
    scenario = ieat_2019_pilot(size=size)
    now = datetime.now(UTC)
    run = secrets.token_hex(3)  # certificates are one person's: new numbers for each run
    events: list[Event] = []
    ids = {}
    for trainee in scenario.trainees:
        person_id = str(uuid.uuid4())
        ids[trainee.national_id] = person_id
        events.append(
            PersonRegistered(
                person_id=person_id,
                province_code=trainee.province_code,
                birth_year=trainee.birth_date.year,
                registered_at=now,
            )
        )
        if trainee.consents_to_lenders:
            events.append(
                ConsentGranted(
                    person_id=person_id,
                    consent_id=str(uuid.uuid4()),
                    purpose="loan-referral",
                    granted_at=now,
                )
            )
        if trainee.passes:
            events.append(
                QualificationAwarded(
                    person_id=person_id,
                    certificate_number=f"SB-{run}-{trainee.national_id}",
                    occupation=trainee.occupation,
                    level=trainee.level,
                    valid_until=date(2030, 1, 1),
                    awarded_at=now,
                )
            )
    return events, ids


async def produce(bootstrap: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    try:
        for topic in {e.topic() for e in events}:
            await producer.client.add_topic(topic)  # docs/decisions/0006
        futures = []
        for event in events:
            record = encode(event, source=source_of(event.service))
            futures.append(
                await producer.send(
                    event.topic(),
                    record.value,
                    key=record.key,
                    headers=[(k, v.encode()) for k, v in record.headers.items()],
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _consumed(service: Service, count: int, timeout: float) -> None:
    consumer = service.consumer
    assert consumer is not None
    deadline = time.monotonic() + timeout
    while consumer.processed + consumer.duplicates < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"funding consumed {consumer.processed} of {count} in {timeout}s")
        await asyncio.sleep(0.05)


@dataclass
class Target:
    """One database's run: the in-process funding service and what it is measured by."""

    label: str
    service: Service
    admin: str  # the admin key the service was built with
    out: TextIO
    figures: Figures
    problems: list[str] = field(default_factory=list)

    def client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.app),
            base_url="http://funding",
            headers=auth_headers(key),
            timeout=120,
        )

    async def consume(
        self, bootstrap: str, size: int, on_broker: int
    ) -> tuple[dict[str, str], int]:
        """The pilot's people produced upstream and consumed; national id -> person id, and
        how many upstream events are now on the broker (an earlier target's are read too)."""
        events, ids = upstream_events(size)
        self.out.write(f"\n{self.label}: {size:,} people, {len(events):,} upstream events\n")
        started = time.perf_counter()
        await produce(bootstrap, events)
        on_broker += len(events)
        await _consumed(self.service, on_broker, timeout=60 + size * 0.2)
        consumed = time.perf_counter() - started
        earlier = on_broker - len(events)  # on a shared broker the earlier runs' too
        note = f" ({earlier:,} of them an earlier target's)" if earlier else ""
        figure = self.figures.rate(self.label, "consume_and_refer_events", on_broker, consumed)
        self.out.write(f"  consume + refer        {figure} events{note}\n")
        return ids, on_broker

    async def check_referrals(self, size: int, ids: dict[str, str]) -> tuple[list[Referral], int]:
        """The referrals made for these people against the hand computation; returns them
        and the number of live products."""
        async with self.service.db.transaction() as session:
            every = await referrals.search(session, exclude_held=True, limit=10**7)
            live = len(await catalogue.live_products(session))
        to_nid = {pid: nid for nid, pid in ids.items()}
        made = [r for r in every if r.person_id in to_nid]  # not an earlier target's people
        got = {(to_nid[r.person_id], r.product_code) for r in made}
        want = expected_referrals(ieat_2019_pilot(size=size))
        if got != want:
            self.problems.append(
                f"{self.label}: {len(got ^ want)} referrals differ from the expectation"
            )
        self.out.write(f"  referrals              {len(made):,} (expected {len(want):,})\n")
        self.figures.record(self.label, referrals_n=len(made), live_products_n=live)
        return made, live

    async def evaluate(self, people: list[str], live: int) -> None:
        """The rules alone: everyone re-evaluated against every live product (nothing new
        to create, so this is the evaluation cost on a loaded replica)."""
        started = time.perf_counter()
        for first in range(0, len(people), EVALUATION_BATCH):
            async with self.service.db.transaction() as session:
                for person_id in people[first : first + EVALUATION_BATCH]:
                    if await referrals.refer(session, person_id):
                        self.problems.append(f"{self.label}: re-evaluation created a referral")
        evaluated = time.perf_counter() - started
        figure = self.figures.rate(self.label, "evaluations", len(people) * live, evaluated)
        self.out.write(
            f"  evaluations            {figure} (person x product, {live} live products)\n"
        )

    async def dry_run_and_partner_key(self) -> str:
        """A dry run of gsb's rules over everyone, timed; then a partner key for gsb."""
        async with self.client(self.admin) as client:
            started = time.perf_counter()
            dry = (await client.post("/products/gsb-occupation-loan/rules/1/dry-run")).json()
            took = time.perf_counter() - started
            self.out.write(
                f"  dry run                {dry['evaluated']:,} people in {took:.2f} s "
                f"({dry['would_refer']:,} would be referred)\n"
            )
            self.figures.rate(self.label, "dry_run_people", dry["evaluated"], took)
            self.figures.record(self.label, dry_run_would_refer_n=dry["would_refer"])
            key = (await client.post("/lenders/gsb/keys", json={"name": "bench"})).json()
        return str(key["token"])

    async def partner_writes(self, key: str, referral_ids: list[str]) -> None:
        """gsb acknowledges each of its referrals, CONCURRENCY at once; then replays them."""
        async with self.client(key) as partner:
            limit = asyncio.Semaphore(CONCURRENCY)

            async def acknowledge(referral_id: str) -> int:
                async with limit:
                    response = await partner.post(
                        f"/partner/referrals/{referral_id}/acknowledge",
                        json={},
                        headers={"Idempotency-Key": f"ack-{referral_id}"},
                    )
                    return response.status_code

            for phase in ("partner writes", "replayed writes"):
                started = time.perf_counter()
                codes = await asyncio.gather(*(acknowledge(r) for r in referral_ids))
                took = time.perf_counter() - started
                if set(codes) != {200}:
                    self.problems.append(f"{self.label}: {phase} answered {sorted(set(codes))}")
                key = phase.replace(" ", "_")
                figure = self.figures.rate(self.label, key, len(referral_ids), took)
                self.out.write(f"  {phase:<22} {figure} (acknowledge, {CONCURRENCY} at once)\n")


async def bench_target(
    label: str, url: str, bootstrap: str, size: int, on_broker: int, out: TextIO, figures: Figures
) -> tuple[list[str], int]:
    """Run every phase on one database; returns the problems found (none: as expected) and
    how many upstream events are now on the broker (an earlier target's are read too)."""
    admin = "sbk_" + secrets.token_urlsafe(24)
    settings = FundingSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin,
        consumer_group_prefix=f"bench-{secrets.token_hex(3)}",
    )
    service = build(settings)
    await service.start()
    target = Target(label, service, admin, out, figures)
    try:
        ids, on_broker = await target.consume(bootstrap, size, on_broker)
        made, live = await target.check_referrals(size, ids)
        await target.evaluate(list(ids.values()), live)
        key = await target.dry_run_and_partner_key()
        await target.partner_writes(key, [r.referral_id for r in made if r.lender_code == "gsb"])
    finally:
        await service.stop()
    return target.problems, on_broker


async def run_all(size: int, data_dir: Path, out: TextIO, figures: Figures) -> int:
    problems: list[str] = []
    async with bench_env("funding", data_dir, "sb_bench_funding", out) as env:
        on_broker = 0
        for label, url in env.targets:
            found, on_broker = await bench_target(
                label, url, env.bootstrap, size, on_broker, out, figures
            )
            problems += found
    figures.problems += problems
    if problems:
        out.write("\nBENCH FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write("\ncheck: referrals equal the hand computation; partner writes and replays all 200\n")
    return 0


def run(*, people: int, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    prepare(data_dir)
    parameters = {"people": people, "concurrency": CONCURRENCY}
    with recording("funding", parameters, out_dir) as figures:
        return asyncio.run(run_all(people, data_dir, sys.stdout, figures))
