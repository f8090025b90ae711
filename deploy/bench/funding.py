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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import httpx
from aiokafka import AIOKafkaProducer

from deploy.bench.harness import bench_env, prepare, rate
from deploy.clients.base import auth_headers
from deploy.scenarios.pilot import expected_referrals, ieat_2019_pilot
from services.funding.__main__ import build
from services.funding.handlers import catalogue, referrals
from services.funding.settings import FundingSettings
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


async def bench_target(
    label: str, url: str, bootstrap: str, size: int, on_broker: int, out: TextIO
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
    problems: list[str] = []
    try:
        events, ids = upstream_events(size)
        out.write(f"\n{label}: {size:,} people, {len(events):,} upstream events\n")
        started = time.perf_counter()
        await produce(bootstrap, events)
        on_broker += len(events)
        await _consumed(service, on_broker, timeout=60 + size * 0.2)
        consumed = time.perf_counter() - started
        earlier = on_broker - len(events)  # on a shared broker the earlier runs' too
        note = f" ({earlier:,} of them an earlier target's)" if earlier else ""
        out.write(f"  consume + refer        {rate(on_broker, consumed)} events{note}\n")

        async with service.db.transaction() as session:
            every = await referrals.search(session, exclude_held=True, limit=10**7)
            live = len(await catalogue.live_products(session))
        to_nid = {pid: nid for nid, pid in ids.items()}
        made = [r for r in every if r.person_id in to_nid]  # not an earlier target's people
        got = {(to_nid[r.person_id], r.product_code) for r in made}
        want = expected_referrals(ieat_2019_pilot(size=size))
        if got != want:
            problems.append(f"{label}: {len(got ^ want)} referrals differ from the expectation")
        out.write(f"  referrals              {len(made):,} (expected {len(want):,})\n")

        # The rules alone: everyone re-evaluated against every live product (nothing new
        # to create, so this is the evaluation cost on a loaded replica).
        people = list(ids.values())
        started = time.perf_counter()
        for first in range(0, len(people), EVALUATION_BATCH):
            async with service.db.transaction() as session:
                for person_id in people[first : first + EVALUATION_BATCH]:
                    if await referrals.refer(session, person_id):
                        problems.append(f"{label}: re-evaluation created a referral")
        evaluated = time.perf_counter() - started
        out.write(
            f"  evaluations            {rate(len(people) * live, evaluated)} "
            f"(person x product, {live} live products)\n"
        )

        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app),
            base_url="http://funding",
            headers=auth_headers(admin),
            timeout=120,
        )
        async with client:
            started = time.perf_counter()
            dry = (await client.post("/products/gsb-occupation-loan/rules/1/dry-run")).json()
            out.write(
                f"  dry run                {dry['evaluated']:,} people in "
                f"{time.perf_counter() - started:.2f} s "
                f"({dry['would_refer']:,} would be referred)\n"
            )
            key = (await client.post("/lenders/gsb/keys", json={"name": "bench"})).json()["token"]
            gsb = [r.referral_id for r in made if r.lender_code == "gsb"]
            partner = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=service.app),
                base_url="http://funding",
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
            )
            async with partner:
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
                    codes = await asyncio.gather(*(acknowledge(r) for r in gsb))
                    took = time.perf_counter() - started
                    if set(codes) != {200}:
                        problems.append(f"{label}: {phase} answered {sorted(set(codes))}")
                    figure = rate(len(gsb), took)
                    out.write(f"  {phase:<22} {figure} (acknowledge, {CONCURRENCY} at once)\n")
    finally:
        await service.stop()
    return problems, on_broker


async def run_all(size: int, data_dir: Path, out: TextIO) -> int:
    problems: list[str] = []
    async with bench_env("funding", data_dir, "sb_bench_funding", out) as env:
        on_broker = 0
        for label, url in env.targets:
            found, on_broker = await bench_target(label, url, env.bootstrap, size, on_broker, out)
            problems += found
    if problems:
        out.write("\nBENCH FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write("\ncheck: referrals equal the hand computation; partner writes and replays all 200\n")
    return 0


def run(*, people: int, data_dir: Path) -> int:
    prepare(data_dir)
    return asyncio.run(run_all(people, data_dir, sys.stdout))
