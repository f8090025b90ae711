"""Part (b) of `skillbridge bench`: latency at a fixed, open-loop offered rate.

Each rate gets a programme of its own with `rate x seconds` learners, seeded up to the point
where every cohort is assessed and only its closure is left. Then the cohorts close on a
schedule fixed in advance (open loop: a slow system does not slow the offer down), and the
partner's-eye observer times each person's first `LoanReferralCreated` against the
`TrainingCompleted` and `QualificationAwarded` that led to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.bench.harness import Figures
from deploy.clients.training import TrainingClient
from deploy.scenarios.pilot import Scenario, Trainee, expected_referrals, ieat_2019_pilot
from deploy.scenarios.seed import cohort_of, run_journeys
from deploy.stack import topics as topic_reader
from deploy.stack.launcher import Stack
from shared import events
from shared.topics import CERTIFICATION, FUNDING, TRAINING

RATES = (20, 100, 200)  # learners/s offered
REFERRAL_TYPE = events.LoanReferralCreated.ce_type()
COMPLETED_TYPE = events.TrainingCompleted.ce_type()
AWARDED_TYPE = events.QualificationAwarded.ce_type()
# The observer is the partner's consumer: it asks the broker not to hold an empty fetch for
# long, so what it measures is the system's delay, not its own (docs/decisions/0016).
OBSERVER_FETCH_WAIT_MS = 10


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest rank: an observed value, never an interpolation."""
    rank = max(math.ceil(p / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def summary(values: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99, max and n of the values (empty when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {}
    figures = {f"p{p}": percentile(ordered, p) for p in (50, 95, 99)}
    return {**figures, "max": ordered[-1], "n": float(len(ordered))}


def closing_schedule(sizes: Sequence[int], rate: float) -> list[float]:
    """Seconds from the start at which each cohort closes so that learners are offered at
    `rate` per second: a cohort closes once the learners before it have had their time."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    offsets: list[float] = []
    before = 0
    for size in sizes:
        offsets.append(before / rate)
        before += size
    return offsets


async def offer(schedule: Sequence[float], close: Callable[[int], Awaitable[object]]) -> float:
    """Start `close(i)` at each scheduled offset, without waiting for earlier ones (open
    loop), then wait for all; returns how late the latest start was, in seconds (the
    driver's own lag)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks: list[asyncio.Task[object]] = []
    late = 0.0
    for index, at in enumerate(schedule):
        delay = start + at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        late = max(late, loop.time() - start - at)
        tasks.append(asyncio.create_task(_call(close, index)))
    await asyncio.gather(*tasks)
    return late


async def _call(close: Callable[[int], Awaitable[object]], index: int) -> object:
    return await close(index)


def _ce_time(headers: dict[str, bytes]) -> float | None:
    raw = headers.get("ce_time")
    return datetime.fromisoformat(raw.decode()).timestamp() if raw else None


@dataclass
class PartnerObserver:
    """A lender's-eye view of the funding topic: when did each referral become visible? It
    also notes when each person's training completed and qualification was awarded (the
    events' ce_time), for the latencies. No consumer group: assignment is immediate.
    """

    bootstrap: str
    target: int  # distinct referrals to see before `consume` returns
    from_end: bool = False  # only what is published after `start` (a latency phase)
    people: set[str] | None = None  # only these persons' events (a latency phase's own)
    first_seen: dict[str, float] = field(default_factory=dict)  # person_id -> wall clock
    completed: dict[str, float] = field(default_factory=dict)  # person_id -> ce_time
    awarded: dict[str, float] = field(default_factory=dict)  # person_id -> first ce_time
    seen_ids: set[str] = field(default_factory=set)
    last_seen: float = 0.0
    partitions: int = 0
    consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=OBSERVER_FETCH_WAIT_MS,
        )
        await consumer.start()
        self.consumer = consumer
        partitions: list[TopicPartition] = []
        for topic in (FUNDING, TRAINING, CERTIFICATION):
            numbers = consumer.partitions_for_topic(topic) or await topic_reader.partitions_of(
                consumer, topic
            )
            if topic == FUNDING and not numbers:
                raise RuntimeError(f"{FUNDING} has no partitions; did funding start?")
            if topic == FUNDING:
                self.partitions = len(numbers)
            partitions += [TopicPartition(topic, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        if self.from_end:
            await consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end now, before anything new is published
                await consumer.position(tp)
        else:
            await consumer.seek_to_beginning(*partitions)

    async def consume(self) -> None:
        assert self.consumer is not None
        while len(self.seen_ids) < self.target:
            batch = await self.consumer.getmany(timeout_ms=200)
            received = time.time()  # one stamp per fetch: the partner sees the batch at once
            for records in batch.values():
                for record in records:
                    self._note(dict(record.headers), (record.key or b"").decode(), received)

    def _note(self, headers: dict[str, bytes], person: str, received: float) -> None:
        if self.people is not None and person not in self.people:
            return
        ce_type = headers.get("ce_type", b"").decode()
        if ce_type == COMPLETED_TYPE:
            self.completed.setdefault(person, _ce_time(headers) or received)
        elif ce_type == AWARDED_TYPE:
            self.awarded.setdefault(person, _ce_time(headers) or received)
        elif ce_type == REFERRAL_TYPE:
            ce_id = headers.get("ce_id", b"").decode()
            if ce_id in self.seen_ids:
                return  # at-least-once: a redelivered copy is not a new referral
            self.seen_ids.add(ce_id)
            self.first_seen.setdefault(person, received)
            self.last_seen = received

    def latencies_ms(self, since: dict[str, float]) -> list[float]:
        """Per referred person: first referral seen - `since` (completed or awarded), in ms."""
        return [
            (seen - since[person]) * 1000
            for person, seen in self.first_seen.items()
            if person in since
        ]

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


@dataclass(frozen=True)
class Phase:
    """One offered rate: its learners, grouped into the cohorts that close on schedule."""

    rate: int
    scenario: Scenario
    cohorts: dict[str, list[Trainee]]
    expected: int  # referrals the partner should see
    people: set[str] = field(default_factory=set)  # their person_ids, once registered

    @property
    def learners(self) -> int:
        return len(self.scenario.trainees)


def phases(seconds: float, seed: int, taken: set[str]) -> list[Phase]:
    """A programme per rate with `rate x seconds` learners none of whom is in `taken` (the
    throughput run's people, or an earlier phase's): each person's first referral is new."""
    made: list[Phase] = []
    for rate in RATES:
        drawn = ieat_2019_pilot(seed=seed + rate, size=max(int(rate * seconds), 1))
        fresh = tuple(t for t in drawn.trainees if t.national_id not in taken)
        taken.update(t.national_id for t in fresh)
        scenario = replace(drawn, programme_code=f"lat{rate}-2019", trainees=fresh)
        cohorts: dict[str, list[Trainee]] = defaultdict(list)
        for trainee in fresh:
            cohorts[cohort_of(scenario, trainee)].append(trainee)
        made.append(Phase(rate, scenario, dict(cohorts), len(expected_referrals(scenario))))
    return made


async def prepare(stack: Stack, phase: Phase, concurrency: int) -> None:
    """Everything up to the closures: registered, applied, selected, attended, assessed."""
    by_id = await run_journeys(
        stack.urls(),
        phase.scenario,
        api_key=stack.admin_key,
        concurrency=concurrency,
        close=False,
        progress=lambda _: None,
    )
    phase.people.update(by_id.values())


@dataclass(frozen=True)
class Measured:
    phase: Phase
    answered_s: float  # first closure started -> the last closure answered
    driver_late_s: float  # the latest closure started this late (open loop kept if small)
    completed_ms: dict[str, float]  # TrainingCompleted -> partner sees the referral
    awarded_ms: dict[str, float]  # QualificationAwarded -> the same
    referrals: int


async def run_phase(stack: Stack, phase: Phase, timeout: float) -> Measured:
    """Close the phase's cohorts on the open-loop schedule; wait for every referral."""
    observer = PartnerObserver(stack.bootstrap, phase.expected, True, phase.people)
    await observer.start()
    task = asyncio.create_task(observer.consume())
    codes = list(phase.cohorts)
    schedule = closing_schedule([len(phase.cohorts[code]) for code in codes], phase.rate)
    try:
        # Enough connections that closures never queue in the client (that would close the loop).
        limits = httpx.Limits(max_connections=1000)
        async with TrainingClient.connect(
            stack.url("training"), stack.admin_key, limits=limits, timeout=60
        ) as training:
            started = time.monotonic()
            late = await offer(schedule, lambda i: training.close(codes[i], retry_for=60))
            answered = time.monotonic() - started
        with contextlib.suppress(TimeoutError):  # reported as referrals missing
            await asyncio.wait_for(asyncio.shield(task), timeout)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await observer.stop()
    return Measured(
        phase,
        answered,
        late,
        summary(observer.latencies_ms(observer.completed)),
        summary(observer.latencies_ms(observer.awarded)),
        len(observer.seen_ids),
    )


def report(measured: Measured, figures: Figures) -> list[str]:
    """Print and record one phase; returns its problems (referrals missing or extra)."""
    phase = measured.phase
    target = f"latency {phase.rate}/s"
    print(
        f"{phase.rate:>4} learners/s offered: {phase.learners:,} learners in "
        f"{len(phase.cohorts):,} cohorts, closures answered within {measured.answered_s:.1f} s "
        f"(driver at most {measured.driver_late_s * 1000:.0f} ms late)"
    )
    figures.record(
        target,
        offered_per_s=phase.rate,
        learners_n=phase.learners,
        cohorts_n=len(phase.cohorts),
        driver_late_ms=measured.driver_late_s * 1000,
        closures_answered_s=measured.answered_s,
        referrals_n=measured.referrals,
        referrals_expected_n=phase.expected,
    )
    for label, key, values in (
        ("TrainingCompleted", "completed", measured.completed_ms),
        ("QualificationAwarded", "awarded", measured.awarded_ms),
    ):
        if values:
            print(
                f"     {label + ' ->':<22} p50 {values['p50']:>6.0f}  p95 {values['p95']:>6.0f}  "
                f"p99 {values['p99']:>6.0f}  max {values['max']:>6.0f} ms  (n={values['n']:.0f})"
            )
            figures.record(target, **{f"{key}_ms_{name}": v for name, v in values.items()})
    if measured.referrals != phase.expected:
        return [f"{target}: partner saw {measured.referrals} referrals of {phase.expected}"]
    return []


async def measure(
    stack: Stack, seconds: float, seed: int, taken: set[str], figures: Figures, concurrency: int
) -> list[str]:
    """Part (b): prepare every rate's cohorts, then offer each rate in turn."""
    made = phases(seconds, seed, taken)
    total = sum(p.learners for p in made)
    print(f"preparing {total:,} learners for {', '.join(f'{p.rate}/s' for p in made)}")
    prepared = time.monotonic()
    await asyncio.gather(*(prepare(stack, phase, concurrency) for phase in made))
    print(f"  prepared in {time.monotonic() - prepared:.1f} s (all but the closures)")
    problems: list[str] = []
    for phase in made:
        measured = await run_phase(stack, phase, timeout=60 + 0.05 * phase.learners)
        problems += report(measured, figures)
    print(
        "  from the event's ce_time to the partner's consumer receiving the person's first "
        "LoanReferralCreated"
    )
    return problems
