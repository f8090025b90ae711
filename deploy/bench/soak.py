"""`skillbridge bench --soak`: N learners through the whole journey while every service is
SIGKILLed and restarted a few times and the embedded broker is lost once; then lost, doubled
and the time to settle, printed and written to `<out>/soak-<UTC start>.json`.

Faults (seeded RNG, `SEED`): each of the five services is killed `kills` times, and the
broker once, at random points of the run. A point is a fraction of the certifications
funding is expected to see (its `/counts` `qualifications` over the hand-computed
`funnel_expectation`), so the faults fall inside the journey at any size. A kill is the
launcher's `Managed.kill` (SIGKILL, no shutdown hook) followed by a start and readiness.
The broker loss: SIGKILL of the memory-only broker, a new empty one on the same port, every
service restarted (as an operator does after a broker loss: each ensures its topics), then
`outbox replay` (`POST /admin/outbox/replay`, what `skillbridge outbox replay` calls) of
every service since the soak began, so the new broker carries the whole history again.

The driver is the throughput bench's bulk path (`run_journeys`: one CSV import, bulk
applications and attendance); its HTTP calls retry while a service restarts.

Figures, against the expectation `E` = `expected_referrals(scenario)` mapped to person ids:
- `lost` = pairs (person, product) in E that are not both a sent referral in funding's
  database (`GET /referrals`, held ones excluded) and a LoanReferralCreated on the funding
  topic. `lost_database` and `lost_topic` count each side alone.
- `doubled` = `doubled_database` + `doubled_topic`: in funding's database, sent referral rows
  beyond the first for one (person, product); on the topic, distinct referral ids beyond the
  first for one (person, product) (a second referral made for the same pair). The same
  CloudEvent (one `ce_id`) delivered twice is at-least-once delivery that consumers drop by
  id, so it is not doubled: it is counted as `redelivered`.
- `extra` = referrals (database or topic) for a pair not in E.
- `settle_s` = seconds from the later of (the driver's last call returned, the last fault
  recovered) until funding counts every expected certification and referral and the topic
  carries every expected referral. Restarts are sequential and slow on a small machine, so
  the last fault often lands after the journeys settled; `settle_after_driver_s`, from the
  driver's last call alone, is printed too.

Memory stays flat in the size: the topic is read once, streaming, keeping one small tuple per
LoanReferralCreated; the driver holds national id -> person id only.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.bench.harness import RESULTS_DIR, Figures, fresh_postgres, recording
from deploy.bench.journey import CONCURRENCY, settle_timeout
from deploy.clients.funding import FundingClient, sent
from deploy.clients.ops import OpsClient
from deploy.scenarios.demo import wait_settled
from deploy.scenarios.pilot import Scenario, expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import SeedError, run_journeys
from deploy.stack import topics as topic_reader
from deploy.stack.databases import drop_databases
from deploy.stack.launcher import SERVICES, Stack, free_port, running
from shared.events import LoanReferralCreated
from shared.kafka import client_options
from shared.topics import FUNDING

SEED = 17
KILLS = 3  # per service
BROKER = "broker"
KILL_SPAN = (0.02, 0.9)  # of the expected certifications: inside the journey
BROKER_SPAN = (0.3, 0.7)
POLL_S = 0.5


@dataclass(frozen=True, order=True)
class Fault:
    at: float  # fraction of the expected certifications funding has counted
    target: str  # a service, or BROKER


def schedule(rng: random.Random, services: list[str], kills: int) -> list[Fault]:
    """Every service `kills` times and the broker once, at seeded random points, in order."""
    faults = [Fault(rng.uniform(*KILL_SPAN), s) for s in services for _ in range(kills)]
    faults.append(Fault(rng.uniform(*BROKER_SPAN), BROKER))
    return sorted(faults)


@dataclass(eq=False)  # a thread: hashed by identity
class Injector(threading.Thread):
    """Fires the faults as funding's certifications reach each point (a thread: the launcher's
    restarts block while the driver's event loop keeps running)."""

    stack: Stack
    faults: list[Fault]
    certified: int
    since: datetime
    applied: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, target)
    error: BaseException | None = None
    done_at: float | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, name="soak-faults", daemon=True)

    def progress(self, client: httpx.Client) -> float | None:
        try:
            response = client.get(f"{self.stack.url('funding')}/counts")
        except httpx.HTTPError:
            return None  # funding is restarting
        if response.status_code != 200:
            return None
        return int(response.json()["qualifications"]) / max(self.certified, 1)

    def run(self) -> None:
        pending = list(self.faults)
        auth = {"Authorization": f"Bearer {self.stack.admin_key}"}
        try:
            with httpx.Client(timeout=5, headers=auth) as client:
                while pending and not self.stopping.is_set():
                    reached = self.progress(client)
                    while pending and reached is not None and pending[0].at <= reached:
                        self.fire(pending.pop(0).target)
                    self.stopping.wait(POLL_S)
        except BaseException as error:  # surfaced by the caller
            self.error = error
        self.done_at = time.monotonic()

    def fire(self, target: str) -> None:
        print(f"  fault: SIGKILL {target}", flush=True)
        if target == BROKER:
            self.lose_broker()
        else:
            self.stack.restart(target, timeout=120)  # SIGKILL, start, ready
        self.applied.append((time.monotonic(), target))

    def lose_broker(self) -> None:
        assert self.stack.broker is not None
        self.stack.broker.kill()
        self.stack.start_broker()  # same port, memory-only: empty
        for service in self.stack.services:
            self.stack.restart(service, timeout=120)
        asyncio.run(replay_all(self.stack, self.since))


async def replay_all(stack: Stack, since: datetime) -> int:
    """`skillbridge outbox replay --since <soak start>` for every service; rows requeued."""
    rows = 0
    for service in stack.services:
        async with OpsClient.connect(stack.url(service), stack.admin_key, timeout=120) as ops:
            rows += int(str((await ops.replay(since, dry_run=False))["rows"]))
    print(f"  outbox replay: {rows:,} rows requeued across {len(stack.services)} services")
    return rows


@dataclass(frozen=True)
class OnTopic:
    """LoanReferralCreated on the funding topic: pair -> referral ids, and the records."""

    referrals: dict[tuple[str, str], set[str]]
    records: int
    distinct_events: int


async def referrals_on_topic(bootstrap: str) -> OnTopic:
    """One streaming pass over the funding topic, keeping only what the figures need."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options()
    )
    wanted = LoanReferralCreated.ce_type()
    pairs: dict[tuple[str, str], set[str]] = defaultdict(set)
    ids: set[str] = set()
    records = 0
    await consumer.start()
    try:
        partitions = [
            TopicPartition(FUNDING, p)
            for p in sorted(await topic_reader.partitions_of(consumer, FUNDING))
        ]
        if not partitions:
            return OnTopic({}, 0, 0)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, got in batch.items():
                for record in got:
                    headers = dict(record.headers)
                    if headers.get("ce_type", b"").decode() != wanted:
                        continue
                    data = topic_reader._json_object(record.value)
                    records += 1
                    ids.add(headers.get("ce_id", b"").decode())
                    key = ((record.key or b"").decode(), str(data.get("product_code")))
                    pairs[key].add(str(data.get("referral_id")))
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return OnTopic(dict(pairs), records, len(ids))
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Outcome:
    lost_database: int
    lost_topic: int
    lost: int
    doubled_database: int
    doubled_topic: int
    redelivered: int
    extra: int

    @property
    def doubled(self) -> int:
        return self.doubled_database + self.doubled_topic


def outcome(want: set[tuple[str, str]], rows: list[tuple[str, str]], topic: OnTopic) -> Outcome:
    """The figures the module docstring defines, from funding's rows and the topic."""
    in_db = set(rows)
    on_topic = set(topic.referrals)
    return Outcome(
        lost_database=len(want - in_db),
        lost_topic=len(want - on_topic),
        lost=len(want - (in_db & on_topic)),
        doubled_database=len(rows) - len(in_db),
        doubled_topic=sum(len(ids) - 1 for ids in topic.referrals.values()),
        redelivered=topic.records - topic.distinct_events,
        extra=len((in_db | on_topic) - want),
    )


async def funding_pairs(stack: Stack) -> list[tuple[str, str]]:
    async with FundingClient.connect(stack.url("funding"), stack.admin_key, timeout=300) as f:
        return [(r["person_id"], r["product_code"]) for r in sent(await f.referrals())]


async def settle(
    stack: Stack, scenario: Scenario, want: set[tuple[str, str]], timeout: float
) -> OnTopic:
    """Funding counts everything, then the topic carries every expected referral."""
    deadline = time.monotonic() + timeout
    await wait_settled(stack, scenario, timeout)
    while True:
        topic = await referrals_on_topic(stack.bootstrap)
        if want <= topic.referrals.keys() or time.monotonic() > deadline:
            return topic
        await asyncio.sleep(2)


def soak(stack: Stack, scenario: Scenario, kills: int, figures: Figures) -> bool:
    """Drive, inject, settle, count; False when the run did not settle."""
    certified = funnel_expectation(scenario)["certified"]
    faults = schedule(random.Random(SEED), list(SERVICES), kills)
    since = datetime.now(UTC)
    injector = Injector(stack, faults, certified, since)
    print(
        f"driving {len(scenario.trainees):,} learners; {len(faults)} faults scheduled "
        f"({kills} kills per service, 1 broker loss)",
        flush=True,
    )
    started = time.monotonic()
    cpu_before = time.process_time()
    injector.start()
    try:
        by_id = asyncio.run(
            run_journeys(
                stack.urls(),
                scenario,
                api_key=stack.admin_key,
                concurrency=CONCURRENCY,
                progress=lambda line: print(line, flush=True),
            )
        )
    except SeedError as error:
        injector.stopping.set()
        figures.problems.append(f"driver: {error}")
        print(f"SOAK FAILED: the driver gave up: {error}")
        return False
    driven = time.monotonic()
    want = {(by_id[nid], product) for nid, product in expected_referrals(scenario)}
    timeout = settle_timeout(len(scenario.trainees)) + 120 * len(faults)
    # Every fault fires once funding's certifications pass its point; wait for the last one.
    injector.join(timeout)
    injector.stopping.set()
    injector.join(300)  # a restart under way finishes first
    if injector.error is not None:
        figures.problems.append(f"fault injection: {injector.error!r}")
        print(f"SOAK FAILED: fault injection: {injector.error!r}")
        return False
    recovered = injector.done_at or driven
    settle_from = max(driven, recovered)
    try:
        topic = asyncio.run(settle(stack, scenario, want, timeout))
    except TimeoutError as error:
        figures.problems.append(f"did not settle: {error}")
        print(f"SOAK FAILED: {error}; logs in {stack.data_dir / 'logs'}")
        topic = asyncio.run(referrals_on_topic(stack.bootstrap))
    settled = time.monotonic()
    driver_cpu = time.process_time() - cpu_before
    rows = asyncio.run(funding_pairs(stack))
    got = outcome(want, rows, topic)
    report(got, len(want), len(injector.applied), len(faults), figures)
    wall = settled - started
    figures.record(
        "soak",
        learners_n=len(scenario.trainees),
        expected_referrals_n=len(want),
        faults_n=len(injector.applied),
        wall_s=wall,
        settle_s=settled - settle_from,
        settle_after_driver_s=settled - driven,
        driver_cpu_s=driver_cpu,
        driver_machine_share=driver_cpu / (wall * _cpus()),
    )
    print(
        f"time to settle          {settled - settle_from:.1f} s "
        "(after the driver and the last fault)"
    )
    print(f"  after the driver      {settled - driven:.1f} s (its last call returned)")
    print(f"wall time               {wall:.1f} s")
    print(
        f"driver CPU              {driver_cpu:.1f} s = "
        f"{driver_cpu / (wall * _cpus()):.0%} of the machine"
    )
    if len(injector.applied) < len(faults):
        figures.problems.append(f"only {len(injector.applied)} of {len(faults)} faults fired")
    if got.lost or got.doubled or got.extra:
        figures.problems.append(f"lost {got.lost}, doubled {got.doubled}, extra {got.extra}")
    return not figures.problems


def _cpus() -> int:
    return os.cpu_count() or 1


def report(got: Outcome, expected: int, fired: int, scheduled: int, figures: Figures) -> None:
    print("\nsoak")
    print("-" * 72)
    print(f"faults                  {fired} of {scheduled} fired")
    print(f"expected referrals      {expected:,}")
    print(
        f"lost                    {got.lost:,} "
        f"(database {got.lost_database:,}, topic {got.lost_topic:,})"
    )
    print(
        f"doubled                 {got.doubled:,} "
        f"(database {got.doubled_database:,}, topic {got.doubled_topic:,})"
    )
    print(f"extra                   {got.extra:,}")
    print(f"redelivered             {got.redelivered:,} (same CloudEvent twice: dropped by id)")
    figures.record(
        "soak",
        lost_n=got.lost,
        lost_database_n=got.lost_database,
        lost_topic_n=got.lost_topic,
        doubled_n=got.doubled,
        doubled_database_n=got.doubled_database,
        doubled_topic_n=got.doubled_topic,
        extra_n=got.extra,
        redelivered_n=got.redelivered,
    )


def run(*, learners: int, kills: int, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    shutil.rmtree(data_dir, ignore_errors=True)  # the embedded broker starts empty, so must we
    scenario = ieat_2019_pilot(seed=SEED, size=learners)
    database_urls = asyncio.run(fresh_postgres(SERVICES, "sb_soak"))
    database = "PostgreSQL 127.0.0.1:5432" if database_urls else "SQLite"
    print(f"database: {database}")
    parameters = {
        "learners": learners,
        "kills_per_service": kills,
        "seed": SEED,
        "database": database,
    }
    try:
        stack = Stack(
            data_dir=data_dir,
            kafka_port=free_port(),
            ports={service: free_port() for service in SERVICES},
            database_urls=database_urls,
        )
        print(f"starting broker ({stack.bootstrap}) and services; logs in {data_dir / 'logs'}")
        with recording("soak", parameters, out_dir) as figures, running(stack):
            ok = soak(stack, scenario, kills, figures)
            if figures.problems:
                print("\nproblems:\n  " + "\n  ".join(figures.problems))
            return 0 if ok else 1
    finally:
        if database_urls:
            asyncio.run(drop_databases(database_urls.values()))
