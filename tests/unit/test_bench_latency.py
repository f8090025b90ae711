"""The bench's pure computations: percentiles, the open-loop closing schedule, the offer
loop's timing, and CPU seconds read from /proc/<pid>/stat."""

from __future__ import annotations

import asyncio
import os

import pytest

from deploy.bench.cpu import cpu_seconds, parse_stat
from deploy.bench.latency import closing_schedule, offer, percentile, summary


def test_percentile_is_the_nearest_rank_an_observed_value() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0  # ceil(1.5) = 2nd


def test_summary_sorts_and_is_empty_without_values() -> None:
    got = summary([30.0, 10.0, 20.0])
    assert got == {"p50": 20.0, "p95": 30.0, "p99": 30.0, "max": 30.0, "n": 3.0}
    assert summary([]) == {}


def test_cohorts_close_when_the_learners_before_them_have_had_their_time() -> None:
    # 20 learners/s: a cohort of 10 takes half a second of the offer.
    assert closing_schedule([10, 5, 20, 1], 20) == [0.0, 0.5, 0.75, 1.75]
    assert closing_schedule([], 20) == []
    sizes = [3, 7, 2, 8] * 25  # 500 learners
    schedule = closing_schedule(sizes, 100)
    # The offered rate is the one asked for: the last cohort starts after all but its own.
    assert schedule[-1] == pytest.approx((500 - sizes[-1]) / 100)
    assert schedule == sorted(schedule)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        closing_schedule([1], 0)


async def test_offer_is_open_loop_a_slow_closure_does_not_delay_the_next() -> None:
    loop = asyncio.get_running_loop()
    started: list[float] = []
    start = loop.time()

    async def close(index: int) -> None:
        started.append(loop.time() - start)
        await asyncio.sleep(0.3)  # slower than the gap between closures

    late = await offer([0.0, 0.05, 0.1], close)
    assert len(started) == 3
    assert started[2] < 0.25  # not after the first closure finished (0.3 s)
    assert late < 0.1


def test_cpu_seconds_from_a_stat_line_with_a_awkward_command_name() -> None:
    # Fields 14 and 15 (utime, stime) in clock ticks; the name holds ") (" and spaces.
    line = "4242 (py (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 0 0"
    assert parse_stat(line, ticks=100) == 3.0


def test_cpu_seconds_of_this_process_and_of_none() -> None:
    mine = cpu_seconds(os.getpid())
    if mine is None:
        pytest.skip("no /proc here")
    assert mine >= 0
    assert cpu_seconds(2**31 - 1) is None
