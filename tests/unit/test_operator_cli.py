"""The pure parts of the operator commands: lag, dead-letter depth, the verdict, --since,
the topic table, problems shown readably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from aiokafka import TopicPartition

from deploy.cli.options import stack_key
from deploy.cli.outbox import parse_since
from deploy.clients.base import Problem
from deploy.stack.lag import PartitionLag, dlq_depths, lags, total_by_group
from deploy.stack.status import ServiceStatus, Status, verdict
from deploy.stack.topic_admin import TopicState, compare
from shared.topics import BROADCAST_TOPICS, TopicSpec, dlq_topic, partner_topic, topic_specs

A0, A1 = TopicPartition("a", 0), TopicPartition("a", 1)
B0 = TopicPartition("b", 0)


def test_lag_is_end_minus_committed_and_an_expected_groups_uncommitted_partitions_count() -> None:
    ends = {A0: 10, A1: 4, B0: 7}
    rows = lags(ends, {"g": {A0: 6}, "other": {B0: 7}}, {"g": ["a"]})
    assert [(r.group, r.topic, r.partition, r.committed, r.lag) for r in rows] == [
        ("g", "a", 0, 6, 4),
        ("g", "a", 1, None, 4),  # never committed: all of it is behind
        ("other", "b", 0, 7, 0),
    ]
    assert total_by_group(rows) == {"g": 8, "other": 0}


def test_a_group_nobody_expects_shows_only_what_it_committed() -> None:
    rows = lags({A0: 3, B0: 3}, {"lender": {B0: 1}}, {})
    assert [(r.topic, r.lag) for r in rows] == [("b", 2)]


def test_dlq_depth_counts_records_and_those_not_re_driven() -> None:
    d0, d1 = TopicPartition("a.dlq", 0), TopicPartition("a.dlq", 1)
    depths = dlq_depths({d0: 5, d1: 2, A0: 100}, {d0: 5})
    assert [(d.topic, d.records, d.pending) for d in depths] == [("a.dlq", 7, 2)]


def _service(name: str, ready: bool = True, database_ok: bool = True) -> ServiceStatus:
    return ServiceStatus(
        name, "http://x", healthy=True, ready=ready, stats={"database_ok": database_ok}
    )


def test_verdict_names_what_is_wrong() -> None:
    lagging = [PartitionLag("g", "a", 0, 0, 50)]
    assert verdict(Status([_service("registry")], lagging, []), max_lag=50) == []
    assert verdict(Status([_service("registry")], lagging, []), max_lag=49) == ["g: lag 50 > 49"]
    down = Status([_service("training", ready=False, database_ok=False)], [], [], "no broker")
    assert verdict(down, 10) == [
        "training: not ready ()",
        "training: database unreachable",
        "broker: no broker",
    ]


def test_since_takes_an_instant_or_a_duration_ago() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90s", now) == now - timedelta(seconds=90)
    assert parse_since("2026-01-01T08:00:00+07:00", now) == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert parse_since("2026-01-01T08:00:00", now) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(typer.BadParameter):
        parse_since("yesterday", now)


def test_the_topic_table_has_every_kind_of_topic_once() -> None:
    specs = topic_specs(["gsb", "smed", "gsb"])
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    for topic in BROADCAST_TOPICS:
        assert topic in names and dlq_topic(topic) in names
    assert partner_topic("gsb") in names and partner_topic("smed") in names
    assert any(s.kind == "private" for s in specs)
    assert all(s.replication_factor == 3 and s.min_insync_replicas == 2 for s in specs)
    broadcast = next(s for s in specs if s.kind == "broadcast")
    assert broadcast.configs() == {"retention.ms": "-1", "min.insync.replicas": "2"}
    with pytest.raises(ValueError):
        topic_specs(["Not A Code"])


def test_a_single_broker_gets_the_table_it_can_hold() -> None:
    spec = TopicSpec("t", "dlq")
    assert (spec.on(1).replication_factor, spec.on(1).min_insync_replicas) == (1, 1)
    assert (spec.on(5).replication_factor, spec.on(5).min_insync_replicas) == (3, 2)


def test_describe_names_the_differences() -> None:
    spec = TopicSpec("t", "partner", partitions=3)
    same = TopicState("t", True, 3, 3, spec.retention_ms, 2)
    [ok] = compare([spec], [same])
    assert ok.differences == []
    [short] = compare([spec], [TopicState("t", True, 1, 3, None, 1)])
    assert short.differences == ["partitions 1 (table: 3)", "min_insync_replicas 1 (table: 2)"]
    [missing] = compare([spec], [])
    assert missing.differences == ["missing"]


def test_a_problem_reads_as_status_title_detail_and_fields() -> None:
    problem = Problem(
        "raw",
        422,
        {
            "title": "The request is invalid",
            "detail": "role: not one of read, write, admin",
            "errors": [{"field": "role", "message": "not one of read, write, admin"}],
        },
    )
    assert problem.lines() == [
        "422 The request is invalid: role: not one of read, write, admin",
        "  - role: not one of read, write, admin",
    ]


def test_without_a_key_the_command_takes_the_local_stacks_admin_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(typer.BadParameter, match=r"var/up/admin\.key"):
        stack_key("")
    (tmp_path / "var" / "demo").mkdir(parents=True)
    (tmp_path / "var" / "demo" / "admin.key").write_text("sbk_demo\n")
    assert stack_key("") == "sbk_demo"
    assert stack_key("given") == "given"
