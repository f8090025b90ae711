"""`skillbridge bench-training`: selection and completion at district scale, measured and checked.

Training runs in this process (services.training.__main__.build) on a Tansu broker of its own,
on SQLite and then on a fresh PostgreSQL database when one is reachable. Registry events
(organisation, people, household membership, income band) are produced to the registry topic
with a plain Kafka producer, as the registry would publish them; training builds its replica
from them. Then one cohort with a 20-seat cap per village takes every applicant: batch
applications, selection, withdrawals with promotion, bulk attendance, closure, and the relay
publishing every event. Each phase prints its time; the seats are checked against an
independent computation of "the 20 lowest incomes per village" and the achievement against
the number of TrainingCompleted rows staged.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from sqlmodel import col, func, select

from deploy.bench.harness import RESULTS_DIR, Figures, bench_env, prepare, recording
from deploy.clients.base import auth_headers
from services.training.__main__ import build
from services.training.settings import TrainingSettings
from services.training.tables import Outbox
from shared.envelope import encode, source_of
from shared.events import (
    Event,
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    OrganisationRegistered,
    PersonRegistered,
    TrainingCompleted,
)
from shared.topics import REGISTRY

SEED = 2019
SEATS_PER_VILLAGE = 20
BAND_EDGES = [0, 2_000, 4_000, 6_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000]
# A week that is over: training takes attendance and closes a cohort only once its days came.
START = date.today() - timedelta(days=14)
T = TypeVar("T")


@dataclass(frozen=True)
class Applicant:
    person_id: str
    household_id: str
    village: str
    income: int

    @property
    def floor(self) -> int:
        return max(edge for edge in BAND_EDGES if edge <= self.income)


def make_applicants(count: int, villages: int) -> list[Applicant]:
    rng = random.Random(SEED)
    return [
        Applicant(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            f"bench-village-{i % villages:04d}",
            rng.randrange(0, 30_000, 250),
        )
        for i in range(count)
    ]


def registry_events(people: list[Applicant]) -> Iterator[Event]:
    now = datetime.now(UTC)
    yield OrganisationRegistered(code="cdd", kind="programme-owner", name="CDD", registered_at=now)
    for p in people:
        yield PersonRegistered(
            person_id=p.person_id, province_code="34", village_code=p.village, registered_at=now
        )
        yield HouseholdMemberJoined(
            household_id=p.household_id, person_id=p.person_id, joined_at=now
        )
        index = BAND_EDGES.index(p.floor)
        ceiling = BAND_EDGES[index + 1] if index + 1 < len(BAND_EDGES) else None
        yield HouseholdIncomeRecorded(
            household_id=p.household_id,
            income_band=f"B{index + 1:02d}",
            band_floor=p.floor,
            band_ceiling=ceiling,
            low_income=p.income < 10_000,
            recorded_at=now,
        )


async def produce(bootstrap: str, events: Iterator[Event]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        pending = []
        for event in events:
            record = encode(event, source=source_of("registry"))
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            pending.append(
                await producer.send(REGISTRY, record.value, key=record.key, headers=headers)
            )
            sent += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def until(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    deadline = time.monotonic() + 600
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached in 600 s (last: {value})")
        await asyncio.sleep(0.2)


def ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.url} -> {response.status_code}: {response.text[:300]}"
        )
    return response.json()


class Phases:
    """Times each phase on one database: printed as a row, recorded as `<key>_s` (and with
    items, `<key>_n` and `<key>_per_s`) under the database's target."""

    def __init__(self, database: str, out: TextIO, figures: Figures) -> None:
        self.database, self.out, self.figures = database, out, figures
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, key: str, items: int) -> Iterator[None]:
        started = time.perf_counter()
        yield
        took = time.perf_counter() - started
        self.seconds[name] = took
        if items:
            self.figures.rate(self.database, key, items, took)
        else:
            self.figures.record(self.database, **{f"{key}_s": took})
        rate = f"{items / took:,.0f}/s" if items else ""
        self.out.write(f"  {self.database:<11}{name:<34}{items:>8,}{took:>9.2f} s{rate:>12}\n")
        self.out.flush()


@dataclass
class Run:
    """One database's run: the in-process service, its client and what the checks found."""

    database: str
    service: Any
    client: httpx.AsyncClient
    phases: Phases
    people: list[Applicant]
    villages: int
    code: str = field(default_factory=lambda: f"bench-{secrets.token_hex(3)}")
    problems: list[str] = field(default_factory=list)

    @property
    def cohort(self) -> str:
        return f"{self.code}-1"

    async def set_up(self) -> None:
        """Wait for the replica, then the programme, course and cohort."""
        client, people, code = self.client, self.people, self.code
        with self.phases.phase("replica from registry events", "replica", len(people)):
            await until(
                lambda: client.get("/replica"),
                lambda r: (
                    r.json()["households"] >= len(people)
                    and r.json()["people"] >= len(people)
                    and r.json()["memberships"] >= len(people)
                ),
                "replica",
            )
        ok(
            await client.post(
                "/programmes",
                json={
                    "code": code,
                    "name": "bench",
                    "owner_code": "cdd",
                    "year": 2026,
                    "occupations": ["community-enterprise-product-processing"],
                    "target_total": self.villages * SEATS_PER_VILLAGE,
                },
            )
        )
        ok(
            await client.post(
                "/courses",
                json={
                    "code": f"{code}-c",
                    "programme_code": code,
                    "occupation": "community-enterprise-product-processing",
                    "title": "Soap",
                    "days": 5,
                    "hours": 30,
                    "day_plan": [{"from_day": 1, "to_day": 5, "activity": "workshop-practice"}],
                    "completion": {"min_attendance_days": 4},
                },
            )
        )
        ok(
            await client.post(
                "/cohorts",
                json={
                    "code": self.cohort,
                    "course_code": f"{code}-c",
                    "starts_on": START.isoformat(),
                    "venue": {"kind": "learning-centre", "code": "bench-centre"},
                    "capacity": self.villages * SEATS_PER_VILLAGE,
                },
            )
        )

    async def select(self) -> dict[str, Any]:
        """Everyone applies, selection runs, the ranking is read and checked; 100 withdraw."""
        client, people, cohort, phase = self.client, self.people, self.cohort, self.phases.phase
        with phase("apply (batches of 5,000)", "apply", len(people)):
            for i in range(0, len(people), 5_000):
                chunk = [p.person_id for p in people[i : i + 5_000]]
                path = f"/cohorts/{cohort}/applications/batch"
                body = ok(await client.post(path, json={"person_ids": chunk}))
                if body["created"] != len(chunk):
                    self.problems.append(
                        f"{self.database}: batch created {body['created']} of {len(chunk)}"
                    )
        with phase("selection", "selection", len(people)):
            selection: dict[str, Any] = ok(await client.post(f"/cohorts/{cohort}/selection"))
        with phase("ranking read with explanations", "ranking_read", len(people)):
            ranked = ok(await client.get(f"/cohorts/{cohort}/applications"))
        self.problems += check_seats(self.database, people, ranked)
        seated = [a for a in ranked if a["status"] == "enrolled"]
        leaving = seated[:: max(1, len(seated) // 100)][:100]
        with phase("withdrawals with promotion", "withdrawals", len(leaving)):
            for a in leaving:
                path = f"/applications/{a['application_id']}/withdrawal"
                ok(await client.post(path, json={"reason": "bench"}))
        return selection

    async def complete(self, selection: dict[str, Any]) -> None:
        """Attendance (every tenth seated person misses two days), closure, the relay; the
        completions checked three ways."""
        client, cohort, phase = self.client, self.cohort, self.phases.phase
        params = {"status": "enrolled"}
        seated = ok(await client.get(f"/cohorts/{cohort}/applications", params=params))
        marks = [
            {
                "person_id": a["person_id"],
                "date": (START + timedelta(days=d)).isoformat(),
                "present": d < 3 or i % 10 != 0,
            }
            for i, a in enumerate(seated)
            for d in range(5)
        ]
        with phase("attendance (batches of 10,000)", "attendance", len(marks)):
            for i in range(0, len(marks), 10_000):
                body = {"records": marks[i : i + 10_000]}
                ok(await client.post(f"/cohorts/{cohort}/attendance", json=body))
        with phase("closure (completion rule)", "closure", len(seated)):
            closure = ok(await client.post(f"/cohorts/{cohort}/closure"))
        with phase("relay: outbox published", "relay", 0):
            await until(lambda: unsent(self.service), lambda n: n == 0, "relay")
        achievement = ok(await client.get(f"/programmes/{self.code}/achievement"))
        staged = await completed_rows(self.service)
        expected_done = sum(1 for i in range(len(seated)) if i % 10 != 0)
        if not (closure["completed"] == achievement["completed"] == staged == expected_done):
            self.problems.append(
                f"{self.database}: completed {closure['completed']}, achievement "
                f"{achievement['completed']}, TrainingCompleted rows {staged}, "
                f"expected {expected_done}"
            )
        self.phases.figures.record(
            self.database,
            seated_n=selection["enrolled"],
            waitlisted_n=selection["waitlisted"],
            completed_n=closure["completed"],
        )
        self.phases.out.write(
            f"  {self.database:<11}seated {selection['enrolled']:,}, waitlisted "
            f"{selection['waitlisted']:,}; completed {closure['completed']:,} "
            f"({achievement['percent']}% of target)\n"
        )


async def bench_database(
    database: str,
    url: str,
    bootstrap: str,
    people: list[Applicant],
    villages: int,
    out: TextIO,
    figures: Figures,
) -> list[str]:
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    settings = TrainingSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin_key,
        consumer_group_prefix=f"bench-{secrets.token_hex(4)}",  # each run reads from the start
    )
    service = build(settings)
    await service.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app),
            base_url="http://training",
            headers=auth_headers(admin_key),
            timeout=600,
        ) as client:
            phases = Phases(database, out, figures)
            run = Run(database, service, client, phases, people, villages)
            await run.set_up()
            await run.complete(await run.select())
    finally:
        await service.stop()
    return run.problems


def check_seats(database: str, people: list[Applicant], ranked: list[dict[str, Any]]) -> list[str]:
    """Independently: per village, the 20 lowest bands (earlier application on a tie)."""
    applied = {a["person_id"]: (a["applied_at"], a["application_id"]) for a in ranked}
    by_village: dict[str, list[Applicant]] = defaultdict(list)
    for p in people:
        by_village[p.village].append(p)
    want = set()
    for group in by_village.values():
        group.sort(
            key=lambda p: (
                p.floor,
                datetime.fromisoformat(applied[p.person_id][0]),
                applied[p.person_id][1],
            )
        )
        want |= {p.person_id for p in group[:SEATS_PER_VILLAGE]}
    got = {a["person_id"] for a in ranked if a["status"] == "enrolled"}
    if got != want:
        return [f"{database}: {len(got ^ want)} seats differ from the 20 lowest per village"]
    return []


async def unsent(service: Any) -> int:
    async with service.db.transaction() as session:
        return int(
            (
                await session.exec(
                    select(func.count())
                    .select_from(Outbox)
                    .where(col(Outbox.published_at).is_(None))
                )
            ).one()
        )


async def completed_rows(service: Any) -> int:
    async with service.db.transaction() as session:
        return int(
            (
                await session.exec(
                    select(func.count())
                    .select_from(Outbox)
                    .where(Outbox.ce_type == TrainingCompleted.ce_type())
                )
            ).one()
        )


async def main(count: int, villages: int, data_dir: Path, out: TextIO, figures: Figures) -> int:
    people = make_applicants(count, villages)
    out.write(
        f"SkillBridge training bench: {count:,} applicants in {villages:,} villages, "
        f"{SEATS_PER_VILLAGE} seats per village, one cohort\n"
    )
    problems: list[str] = []
    async with bench_env("training", data_dir, "sb_bench_training", out) as env:
        started = time.perf_counter()
        sent = await produce(env.bootstrap, registry_events(people))
        took = time.perf_counter() - started
        out.write(f"  produced {sent:,} registry events in {took:.1f} s\n")
        figures.rate("broker", "registry_events_produced", sent, took)
        for database, url in env.targets:
            problems += await bench_database(
                database, url, env.bootstrap, people, villages, out, figures
            )
    figures.problems += problems
    if problems:
        out.write("CHECK FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write(
        "check: seats are exactly the 20 lowest income bands per village (earlier application on "
        "a tie); completed = achievement = TrainingCompleted events staged\n"
    )
    return 0


def run(*, applicants: int, villages: int, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    prepare(data_dir, "training.log")
    parameters = {"applicants": applicants, "villages": villages, "seed": SEED}
    with recording("training", parameters, out_dir) as figures:
        return asyncio.run(main(applicants, villages, data_dir, sys.stdout, figures))
