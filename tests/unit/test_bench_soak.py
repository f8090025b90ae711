"""The soak's fault schedule and its lost/doubled arithmetic (deploy/bench/soak.py)."""

from __future__ import annotations

import random

from deploy.bench.soak import BROKER, BROKER_SPAN, KILL_SPAN, OnTopic, outcome, schedule

SERVICES = ["registry", "training", "certification", "funding", "dashboard"]


def test_every_service_is_killed_n_times_and_the_broker_once_reproducibly() -> None:
    faults = schedule(random.Random(17), SERVICES, 3)
    assert faults == schedule(random.Random(17), SERVICES, 3)
    assert faults == sorted(faults)
    targets = [f.target for f in faults]
    assert {s: targets.count(s) for s in SERVICES} == dict.fromkeys(SERVICES, 3)
    assert targets.count(BROKER) == 1
    broker = next(f for f in faults if f.target == BROKER)
    assert BROKER_SPAN[0] <= broker.at <= BROKER_SPAN[1]
    assert all(KILL_SPAN[0] <= f.at <= KILL_SPAN[1] for f in faults if f.target != BROKER)


def test_nothing_lost_nothing_doubled() -> None:
    want = {("p1", "a"), ("p2", "a")}
    topic = OnTopic({("p1", "a"): {"r1"}, ("p2", "a"): {"r2"}}, records=3, distinct_events=2)
    got = outcome(want, [("p1", "a"), ("p2", "a")], topic)
    assert (got.lost, got.doubled, got.extra) == (0, 0, 0)
    assert got.redelivered == 1  # one CloudEvent twice: at-least-once, not doubled


def test_lost_doubled_and_extra_are_counted_on_each_side() -> None:
    want = {("p1", "a"), ("p2", "a"), ("p3", "a")}
    rows = [("p1", "a"), ("p1", "a"), ("p2", "a"), ("p9", "a")]  # p1 twice, p3 missing
    topic = OnTopic({("p1", "a"): {"r1"}, ("p3", "a"): {"r3", "r3b"}}, records=3, distinct_events=3)
    got = outcome(want, rows, topic)
    assert (got.lost_database, got.lost_topic, got.lost) == (1, 1, 2)
    assert (got.doubled_database, got.doubled_topic, got.doubled) == (1, 1, 2)
    assert got.extra == 1 and got.redelivered == 0
