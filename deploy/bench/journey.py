"""`skillbridge bench`: N learners through the whole system, then raw aiokafka on the same broker.

The raw figures are the ceiling the broker and client allow on this machine, so the system's
rates can be read as a fraction of it rather than as bare numbers. Figures are printed and
recorded (deploy/bench/harness.py): the database's as one target, the raw baseline as another.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.bench.harness import RESULTS_DIR, Figures, fresh_postgres, recording
from deploy.scenarios.demo import achievement, check, observe, wait_settled
from deploy.scenarios.pilot import Scenario, expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import SeedError, run_journeys
from deploy.stack import topics as topic_reader
from deploy.stack.databases import drop_databases
from deploy.stack.launcher import SERVICES, Stack, free_port, running
from shared import events
from shared.kafka import ensure_topics
from shared.topics import FUNDING, TRAINING

SEED = 7
CONCURRENCY = 32
RAW_MESSAGES = 100_000
RAW_PARTITIONS = 3
RAW_CHUNK = 5_000  # futures gathered per chunk: bounds memory, keeps batches full
REFERRAL_TYPE = events.LoanReferralCreated.ce_type()
COMPLETED_TYPE = events.TrainingCompleted.ce_type()


def settle_timeout(learners: int) -> float:
    return 60 + 0.05 * learners


@dataclass
class PartnerObserver:
    """A lender's-eye view of the funding topic: when did each referral become visible?

    No consumer group: assignment is immediate and there is no rebalance to wait for.
    """

    bootstrap: str
    target: int  # distinct referrals to see before `consume` returns
    first_seen: dict[str, float] = field(default_factory=dict)  # person_id -> wall clock
    seen_ids: set[str] = field(default_factory=set)
    last_seen: float = 0.0
    partitions: int = 0
    consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        self.consumer = consumer
        partitions = [
            TopicPartition(FUNDING, p)
            for p in sorted(
                consumer.partitions_for_topic(FUNDING)
                or await topic_reader.partitions_of(consumer, FUNDING)
            )
        ]
        if not partitions:
            raise RuntimeError(f"{FUNDING} has no partitions; did funding start?")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self.partitions = len(partitions)

    async def consume(self) -> None:
        assert self.consumer is not None
        while len(self.seen_ids) < self.target:
            batch = await self.consumer.getmany(timeout_ms=200)
            received = time.time()  # one stamp per fetch: the partner sees the batch at once
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("ce_type", b"").decode() != REFERRAL_TYPE:
                        continue
                    ce_id = headers.get("ce_id", b"").decode()
                    if ce_id in self.seen_ids:
                        continue  # at-least-once: a redelivered copy is not a new referral
                    self.seen_ids.add(ce_id)
                    self.first_seen.setdefault((record.key or b"").decode(), received)
                    self.last_seen = received

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


@dataclass(frozen=True)
class Driven:
    started_at: float  # wall clock just before the first HTTP call
    by_id: dict[str, str]
    observer: PartnerObserver


async def drive(stack: Stack, scenario: Scenario, expected: int) -> Driven:
    """Run the journeys with the observer listening; TimeoutError if they do not settle."""
    observer = PartnerObserver(stack.bootstrap, expected)
    task: asyncio.Task[None] | None = None
    try:
        await observer.start()  # assigned before the first request, so receipt times are honest
        task = asyncio.create_task(observer.consume())
        started_at = time.time()
        by_id = await run_journeys(
            stack.urls(), scenario, api_key=stack.admin_key, concurrency=CONCURRENCY
        )
        timeout = settle_timeout(len(scenario.trainees))
        deadline = time.monotonic() + timeout
        await wait_settled(stack, scenario, timeout)
        # funding's table is ahead of the topic by the outbox relay's lag; wait for the topic.
        try:
            await asyncio.wait_for(task, max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            raise TimeoutError(
                f"partner observer saw {len(observer.seen_ids)} of {expected} referrals "
                f"in {timeout:.0f}s"
            ) from None
        return Driven(started_at, by_id, observer)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await observer.stop()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: an observed value, never an interpolation."""
    rank = max(math.ceil(p / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def completion_times(observed: list[topic_reader.Observed]) -> dict[str, float]:
    return {
        o.key: o.ce_time.timestamp()
        for o in observed
        if o.topic == TRAINING and o.ce_type == COMPLETED_TYPE and o.ce_time is not None
    }


def raw_payload() -> bytes:
    """About 206 bytes of JSON, the size of the architecture note's reference figures."""
    body = {"person_id": "0" * 36, "enrolment_id": "0" * 36, "occupation": "mechanic"}
    base = len(json.dumps({**body, "pad": ""}).encode())
    return json.dumps({**body, "pad": "x" * max(206 - base, 0)}).encode()


async def raw_produce(bootstrap: str, topic: str, value: bytes) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,  # Tansu has no InitProducerId (docs/decisions/0003)
        linger_ms=5,
    )
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata fetched before the clock starts
        started = time.perf_counter()
        for first in range(0, RAW_MESSAGES, RAW_CHUNK):
            futures = [
                await producer.send(topic, value, key=str(i).encode())
                for i in range(first, min(first + RAW_CHUNK, RAW_MESSAGES))
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for p in sorted(
                consumer.partitions_for_topic(topic)
                or await topic_reader.partitions_of(consumer, topic)
            )
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        count = 0
        idle_since = time.monotonic()
        while count < RAW_MESSAGES:
            batch = await consumer.getmany(timeout_ms=1000)
            got = sum(len(records) for records in batch.values())
            count += got
            if got:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 30:
                raise RuntimeError(f"raw consumer stalled at {count} of {RAW_MESSAGES}")
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def raw_baseline(bootstrap: str) -> tuple[float, float]:
    """(produce seconds, consume seconds) for RAW_MESSAGES on a fresh topic."""
    topic = f"bench.raw.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], RAW_PARTITIONS)
    produce = await raw_produce(bootstrap, topic, raw_payload())
    consume = await raw_consume(bootstrap, topic)
    return produce, consume


def report(
    scenario: Scenario,
    driven: Driven,
    observed: list[topic_reader.Observed],
    database: str,
    reported: dict[str, object],
    figures: Figures,
    target: str,
) -> float:
    """Print and record the system figures; returns events/s for the comparison with raw
    Kafka."""
    observer = driven.observer
    wall = observer.last_seen - driven.started_at
    distinct = topic_reader.distinct(observed)
    completed = completion_times(distinct)
    latencies = sorted(
        (seen - completed[person]) * 1000
        for person, seen in observer.first_seen.items()
        if person in completed
    )
    learners = len(scenario.trainees)
    events_per_s = len(distinct) / wall
    print("\nSkillBridge bench")
    print("-" * 72)
    print(f"database                {database}")
    print(f"partitions per topic    {observer.partitions} ({FUNDING})")
    print(f"learners                {learners:,}")
    people = len(observer.first_seen)
    print(f"referrals observed      {len(observer.seen_ids):,} for {people:,} people")
    print(f"wall time               {wall:.1f} s (first HTTP call -> last referral observed)")
    print(f"learners/s              {learners / wall:.1f}")
    print(f"events                  {len(distinct):,} distinct CloudEvents (4 broadcast + partner)")
    print(f"events/s                {events_per_s:.1f}")
    figures.record(
        target,
        learners_n=learners,
        referrals_n=len(observer.seen_ids),
        referred_people_n=people,
        events_n=len(distinct),
        wall_s=wall,
        learners_per_s=learners / wall,
        events_per_s=events_per_s,
        partitions_n=observer.partitions,
    )
    if latencies:
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        print(
            f"latency ms              p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}  "
            f"max {latencies[-1]:.0f}  (n={len(latencies):,} people with a referral)"
        )
        figures.record(
            target,
            latency_ms_p50=p50,
            latency_ms_p95=p95,
            latency_ms_p99=p99,
            latency_ms_max=latencies[-1],
            latency_n=len(latencies),
        )
    print(
        "  TrainingCompleted ce_time -> partner observer receives the person's first "
        f"LoanReferralCreated;\n  {CONCURRENCY} trainees are driven at once, so this includes "
        "queueing behind all concurrent work."
    )
    problems = check(scenario, driven.by_id, observed, [reported])
    figures.problems += problems
    if problems:
        print("WARNING, journeys differ from the expectation:\n  " + "\n  ".join(problems))
    else:
        print("check                   every journey reached its expected end state")
    return events_per_s


def measure(
    stack: Stack, scenario: Scenario, expected: int, database: str, figures: Figures
) -> int:
    """Drive the journeys, then the raw baseline, on a running stack; print and record."""
    data_dir = stack.data_dir
    target = database.split(" ", 1)[0]  # "PostgreSQL" or "SQLite"
    print(f"driving {len(scenario.trainees):,} learners ({expected:,} referrals expected)")
    try:
        driven = asyncio.run(drive(stack, scenario, expected))
    except (TimeoutError, SeedError) as exc:
        want = funnel_expectation(scenario)
        print(
            f"\nBENCH FAILED ({type(exc).__name__}): {exc}\n"
            f"expected: qualifications {want['certified']}, referrals {expected}; "
            f"logs in {data_dir / 'logs'}"
        )
        figures.problems.append(f"{type(exc).__name__}: {exc}")
        return 1
    observed, _ = asyncio.run(observe(stack, scenario))
    reported = asyncio.run(achievement(stack, scenario))
    events_per_s = report(scenario, driven, observed, database, reported, figures, target)
    print(
        f"\nraw aiokafka baseline ({RAW_MESSAGES:,} x {len(raw_payload())} B JSON, "
        f"{RAW_PARTITIONS} partitions, acks=all, linger_ms=5, same broker)"
    )
    produce, consume = asyncio.run(raw_baseline(stack.bootstrap))
    produce_rate = RAW_MESSAGES / produce
    print(f"raw produce             {produce_rate:,.0f} msg/s ({produce:.2f} s)")
    print(f"raw consume             {RAW_MESSAGES / consume:,.0f} msg/s ({consume:.2f} s)")
    print(f"system events/s ÷ raw produce msg/s = {events_per_s / produce_rate:.2%}")
    wall = driven.observer.last_seen - driven.started_at
    learners = len(scenario.trainees)
    print(f"learners/s ÷ raw produce msg/s      = {learners / wall / produce_rate:.3%}")
    figures.rate("raw aiokafka", "produce", RAW_MESSAGES, produce)
    figures.rate("raw aiokafka", "consume", RAW_MESSAGES, consume)
    return 0


def run(*, learners: int, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    shutil.rmtree(data_dir, ignore_errors=True)  # the embedded broker starts empty, so must we
    scenario = ieat_2019_pilot(seed=SEED, size=learners)
    expected = len(expected_referrals(scenario))
    database_urls = asyncio.run(fresh_postgres(SERVICES, "sb_bench"))
    names = [url.rsplit("/", 1)[-1] for url in database_urls.values()]
    database = (
        f"PostgreSQL 127.0.0.1:5432, 4 fresh databases ({names[0].rsplit('_', 1)[-1]})"
        if names
        else "SQLite (no PostgreSQL reachable at 127.0.0.1:5432)"
    )
    print(f"database: {database}" + (f": {', '.join(names)}" if names else ""))
    parameters = {"learners": learners, "seed": SEED, "concurrency": CONCURRENCY}
    try:
        # Free ports: a bench must not collide with a demo someone left running.
        stack = Stack(
            data_dir=data_dir,
            kafka_port=free_port(),
            ports={service: free_port() for service in SERVICES},
            database_urls=database_urls,
        )
        print(f"starting broker ({stack.bootstrap}) and services; logs in {data_dir / 'logs'}")
        with running(stack), recording("journey", parameters, out_dir) as figures:
            return measure(stack, scenario, expected, database, figures)
    finally:
        if database_urls:
            asyncio.run(drop_databases(database_urls.values()))
