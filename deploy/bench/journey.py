"""`skillbridge bench`: one run, four parts, every figure printed and written to one JSON file.

(a) throughput: N learners through the whole journey, every journey checked, with the
    driver's own share of the CPU; (b) latency at fixed open-loop offered rates
    (deploy/bench/latency.py); (c) each consuming service's drain rate alone, from a
    pre-filled topic (deploy/bench/drain.py); (d) raw aiokafka on the same broker: the
    ceiling the broker and client allow on this machine, so the system's rates can be read as
    a fraction of it rather than as bare numbers. Figures are recorded by
    deploy/bench/harness.py as `<out>/journey-<UTC start>.json`; with `--profile`, a flame
    graph per service goes beside it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.bench import dashboard, latency
from deploy.bench.cpu import CpuMeter
from deploy.bench.drain import drain
from deploy.bench.harness import RESULTS_DIR, Figures, fresh_postgres, recording
from deploy.bench.latency import PartnerObserver, summary
from deploy.bench.profile import profiling
from deploy.scenarios.demo import achievement, check, observe, wait_settled
from deploy.scenarios.pilot import Scenario, expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import SeedError, run_journeys
from deploy.stack import topics as topic_reader
from deploy.stack.databases import drop_databases
from deploy.stack.launcher import SERVICES, Stack, free_port, running
from shared.kafka import ensure_topics

SEED = 7
CONCURRENCY = 32
RAW_MESSAGES = 100_000
RAW_PARTITIONS = 3
RAW_CHUNK = 5_000  # futures gathered per chunk: bounds memory, keeps batches full
DRAINED = ["funding", "certification"]  # the consuming services on the hot path


@dataclass(frozen=True)
class Options:
    """What a run was asked for (also its JSON's parameters)."""

    learners: int
    latency_seconds: float  # per offered rate; 0 skips part (b)
    drain_events: int  # per drained service; 0 skips part (c)
    profile: bool = False


def settle_timeout(learners: int) -> float:
    return 60 + 0.05 * learners


@dataclass(frozen=True)
class Driven:
    started_at: float  # wall clock just before the first HTTP call
    by_id: dict[str, str]
    observer: PartnerObserver
    cpu: CpuMeter


def stack_pids(stack: Stack) -> dict[str, int]:
    """The services' and the broker's process ids (for the CPU shares and the profiler)."""
    managed = [*stack.services.values(), *([stack.broker] if stack.broker else [])]
    return {m.name: m.process.pid for m in managed if m.process is not None}


async def drive(stack: Stack, scenario: Scenario, expected: int) -> Driven:
    """Run the journeys with the observer listening; TimeoutError if they do not settle."""
    observer = PartnerObserver(stack.bootstrap, expected)
    task: asyncio.Task[None] | None = None
    try:
        await observer.start()  # assigned before the first request, so receipt times are honest
        task = asyncio.create_task(observer.consume())
        cpu = CpuMeter(stack_pids(stack))
        cpu.start()
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
        cpu.stop()
        return Driven(started_at, by_id, observer, cpu)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await observer.stop()


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


def print_latency(label: str, values: dict[str, float]) -> None:
    if values:
        print(
            f"  {label + ' ->':<22} p50 {values['p50']:>6.0f}  p95 {values['p95']:>6.0f}  "
            f"p99 {values['p99']:>6.0f}  max {values['max']:>6.0f} ms  (n={values['n']:.0f})"
        )


def report_cpu(cpu: CpuMeter, figures: Figures, target: str) -> None:
    """The driver's own part of the CPU: the throughput means little if it was the limit."""
    shares = cpu.shares()
    others = "  ".join(f"{name} {share:.0%}" for name, share in shares.items() if name != "driver")
    print(
        f"driver CPU              {cpu.used.get('driver', 0):.1f} s = "
        f"{shares.get('driver', 0):.0%} of the run's CPU, {cpu.of_machine('driver'):.0%} of "
        f"the machine\n  (the rest: {others})"
    )
    figures.record(
        target,
        driver_cpu_s=cpu.used.get("driver", 0.0),
        driver_cpu_share=shares.get("driver", 0.0),
        driver_machine_share=cpu.of_machine("driver"),
        **{f"cpu_s_{name}": seconds for name, seconds in cpu.used.items() if name != "driver"},
    )


def report(
    scenario: Scenario,
    driven: Driven,
    observed: list[topic_reader.Observed],
    database: str,
    reported: dict[str, object],
    figures: Figures,
    target: str,
) -> float:
    """Print and record part (a); returns events/s for the comparison with raw Kafka."""
    observer = driven.observer
    wall = observer.last_seen - driven.started_at
    distinct = topic_reader.distinct(observed)
    learners = len(scenario.trainees)
    events_per_s = len(distinct) / wall
    print("\n(a) throughput")
    print("-" * 72)
    print(f"database                {database}")
    print(f"partitions per topic    {observer.partitions} (skillbridge.funding.v1)")
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
    report_cpu(driven.cpu, figures, target)
    report_latency(observer, figures, target)
    problems = check(scenario, driven.by_id, observed, [reported])
    figures.problems += problems
    if problems:
        print("WARNING, journeys differ from the expectation:\n  " + "\n  ".join(problems))
    else:
        print("check                   every journey reached its expected end state")
    return events_per_s


def report_latency(observer: PartnerObserver, figures: Figures, target: str) -> None:
    completed = summary(observer.latencies_ms(observer.completed))
    awarded = summary(observer.latencies_ms(observer.awarded))
    print("latency (closed loop: every cohort as fast as the driver can)")
    print_latency("TrainingCompleted", completed)
    print_latency("QualificationAwarded", awarded)
    figures.record(target, **{f"latency_ms_{k}": v for k, v in completed.items()})
    figures.record(target, **{f"awarded_latency_ms_{k}": v for k, v in awarded.items()})
    print(
        f"  event ce_time -> partner observer receives the person's first LoanReferralCreated;"
        f"\n  {CONCURRENCY} cohorts are driven at once, so this includes queueing behind all "
        "concurrent work."
    )


def raw_part(stack: Stack, figures: Figures) -> None:
    """Part (d): raw aiokafka on the same broker, and the system's rates as a part of it."""
    print(
        f"\n(d) raw aiokafka ({RAW_MESSAGES:,} x {len(raw_payload())} B JSON, "
        f"{RAW_PARTITIONS} partitions, acks=all, linger_ms=5, same broker)"
    )
    print("-" * 72)
    produce, consume = asyncio.run(raw_baseline(stack.bootstrap))
    produce_rate = RAW_MESSAGES / produce
    print(f"raw produce             {produce_rate:,.0f} msg/s ({produce:.2f} s)")
    print(f"raw consume             {RAW_MESSAGES / consume:,.0f} msg/s ({consume:.2f} s)")
    figures.rate("raw aiokafka", "produce", RAW_MESSAGES, produce)
    figures.rate("raw aiokafka", "consume", RAW_MESSAGES, consume)


def throughput(
    stack: Stack, scenario: Scenario, expected: int, database: str, figures: Figures
) -> bool:
    """Part (a); False (with the reason recorded) when the journeys did not settle."""
    target = database.split(" ", 1)[0]  # "PostgreSQL" or "SQLite"
    print(f"(a) driving {len(scenario.trainees):,} learners ({expected:,} referrals expected)")
    try:
        driven = asyncio.run(drive(stack, scenario, expected))
    except (TimeoutError, SeedError) as exc:
        want = funnel_expectation(scenario)
        print(
            f"\nBENCH FAILED ({type(exc).__name__}): {exc}\n"
            f"expected: qualifications {want['certified']}, referrals {expected}; "
            f"logs in {stack.data_dir / 'logs'}"
        )
        figures.problems.append(f"{type(exc).__name__}: {exc}")
        return False
    observed, _ = asyncio.run(observe(stack, scenario))
    reported = asyncio.run(achievement(stack, scenario))
    report(scenario, driven, observed, database, reported, figures, target)
    return True


def latency_part(stack: Stack, scenario: Scenario, options: Options, figures: Figures) -> None:
    """Part (b), on the same stack once part (a) has settled."""
    print(f"\n(b) latency at fixed open-loop offered rates ({options.latency_seconds:g} s each)")
    print("-" * 72)
    taken = {t.national_id for t in scenario.trainees}
    figures.problems += asyncio.run(
        latency.measure(stack, options.latency_seconds, SEED, taken, figures, CONCURRENCY)
    )


def on_stack(
    stack: Stack,
    scenario: Scenario,
    database: str,
    options: Options,
    figures: Figures,
    out_dir: Path,
) -> bool:
    """Parts (a), (b) and (d) on the running stack (profiled during (a) and (b))."""
    expected = len(expected_referrals(scenario))
    pids = stack_pids(stack) if options.profile else {}
    pids.pop("broker", None)  # py-spy samples Python; the broker is not
    stem = out_dir / figures.stem  # beside the JSON
    with profiling(pids, stem) as flame_graphs:
        settled = throughput(stack, scenario, expected, database, figures)
        if settled:
            dashboard.measure(stack, figures)
        if settled and options.latency_seconds > 0:
            latency_part(stack, scenario, options, figures)
    figures.files.update({f"flame graph {k}": str(v) for k, v in flame_graphs.items()})
    raw_part(stack, figures)
    return settled


def drain_part(options: Options, data_dir: Path, figures: Figures) -> None:
    """Part (c): each consuming service alone, on a broker and database of its own."""
    print(f"\n(c) drain rate of each consuming service alone ({options.drain_events:,} each)")
    print("-" * 72)
    drain(
        people=options.drain_events,
        services=DRAINED,
        data_dir=data_dir,
        figures=figures,
        out=sys.stdout,
    )


def summarise(figures: Figures) -> None:
    """The four parts' headline figures together, in order, from this run alone."""
    targets = figures.targets
    raw = targets.get("raw aiokafka", {})
    produce = raw.get("produce_per_s", 0.0)
    print("\nsummary (one run)")
    print("-" * 72)
    for name, got in targets.items():
        if "learners_per_s" in got:
            share = got["events_per_s"] / produce if produce else 0.0
            print(
                f"(a) {name:<20} {got['learners_per_s']:,.1f} learners/s, "
                f"{got['events_per_s']:,.0f} events/s = {share:.2%} of raw produce; "
                f"driver {got.get('driver_cpu_share', 0):.0%} of the CPU"
            )
    for name, got in targets.items():
        if name.startswith("latency ") and "completed_ms_p99" in got:
            print(
                f"(b) {name:<20} TrainingCompleted -> partner p50 {got['completed_ms_p50']:.0f}"
                f"  p95 {got['completed_ms_p95']:.0f}  p99 {got['completed_ms_p99']:.0f} ms"
            )
    for name, got in targets.items():
        if "drain_per_s" in got:
            print(f"(c) {name:<20} {got['drain_per_s']:,.0f} events/s drained alone")
    if raw:
        print(
            f"(d) raw aiokafka          produce {produce:,.0f} msg/s, "
            f"consume {raw.get('consume_per_s', 0):,.0f} msg/s"
        )


def measure(
    stack: Stack,
    scenario: Scenario,
    database: str,
    options: Options,
    figures: Figures,
    out_dir: Path,
) -> int:
    """All four parts: (a), (b), (d) on the stack, then (c) once the stack is stopped (each
    drained service runs alone); the summary last."""
    with running(stack):
        settled = on_stack(stack, scenario, database, options, figures, out_dir)
    if settled and options.drain_events > 0:
        drain_part(options, stack.data_dir / "drain", figures)
    summarise(figures)
    if figures.problems:
        print("\nproblems:\n  " + "\n  ".join(figures.problems))
    return 0 if settled and not figures.problems else 1


def run(*, options: Options, data_dir: Path, out_dir: Path = RESULTS_DIR) -> int:
    shutil.rmtree(data_dir, ignore_errors=True)  # the embedded broker starts empty, so must we
    scenario = ieat_2019_pilot(seed=SEED, size=options.learners)
    database_urls = asyncio.run(fresh_postgres(SERVICES, "sb_bench"))
    names = [url.rsplit("/", 1)[-1] for url in database_urls.values()]
    database = (
        f"PostgreSQL 127.0.0.1:5432, 4 fresh databases ({names[0].rsplit('_', 1)[-1]})"
        if names
        else "SQLite (no PostgreSQL reachable at 127.0.0.1:5432)"
    )
    print(f"database: {database}" + (f": {', '.join(names)}" if names else ""))
    parameters = {
        "learners": options.learners,
        "seed": SEED,
        "concurrency": CONCURRENCY,
        "latency_seconds": options.latency_seconds,
        "latency_rates_per_s": list(latency.RATES),
        "drain_events": options.drain_events,
        "profile": options.profile,
    }
    try:
        # Free ports: a bench must not collide with a demo someone left running.
        stack = Stack(
            data_dir=data_dir,
            kafka_port=free_port(),
            ports={service: free_port() for service in SERVICES},
            database_urls=database_urls,
        )
        print(f"starting broker ({stack.bootstrap}) and services; logs in {data_dir / 'logs'}")
        with recording("journey", parameters, out_dir) as figures:
            return measure(stack, scenario, database, options, figures, out_dir)
    finally:
        if database_urls:
            asyncio.run(drop_databases(database_urls.values()))
