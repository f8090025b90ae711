"""`skillbridge status` and `skillbridge outbox replay` against the five services as
processes, on an embedded broker of this module's own (so it can be restarted empty) and
PostgreSQL when reachable. The CLI runs as operators run it, over HTTP and the broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack.databases import create_databases, drop_databases
from deploy.stack.launcher import SERVICES, Stack, free_port
from deploy.stack.topics import distinct, read_topics
from shared.events import PersonRegistered
from shared.topics import REGISTRY
from tests.support import POSTGRES
from tests.support.registry import person

T = TypeVar("T")
GROUP = "skillbridge.training"  # training's consumer group (the default prefix)


def until(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last: {result!r}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("ops")
    urls = (
        asyncio.run(create_databases(SERVICES, "sb_ops"))
        if POSTGRES
        else {s: f"sqlite+aiosqlite:///{data_dir / f'{s}.db'}" for s in SERVICES}
    )
    stack = Stack(
        data_dir=data_dir,
        kafka_port=free_port(),
        ports={service: free_port() for service in SERVICES},
        database_urls=urls,
    )
    try:
        stack.start(timeout=90)
        yield stack
    finally:
        stack.stop()
        for managed in stack.services.values():
            print(f"--- {managed.name} log tail\n{managed.log_tail(20)}")
        if POSTGRES:
            asyncio.run(drop_databases(urls.values()))


def cli(stack: Stack, *args: str) -> tuple[int, Any]:
    """`skillbridge <args> --json` as an operator on this stack runs it: (exit code, JSON)."""
    env = {f"SKILLBRIDGE_{s.upper()}_URL": stack.url(s) for s in SERVICES}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "SKILLBRIDGE_API_KEY": stack.admin_key}
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def register(stack: Stack, n: int) -> list[str]:
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    with httpx.Client(base_url=stack.url("registry"), headers=headers, timeout=30) as client:
        ids = []
        for _ in range(n):
            response = client.post("/people", json=person())
            assert response.status_code == 201, response.text
            ids.append(str(response.json()["person_id"]))
        return ids


def training_people(stack: Stack) -> int:
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    response = httpx.get(f"{stack.url('training')}/replica", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["people"])


def lag_of(report: Any, group: str, topic: str) -> int:
    return sum(r["lag"] for r in report["lag"] if r["group"] == group and r["topic"] == topic)


def test_status_shows_a_stopped_consumers_lag_growing_and_fails(stack: Stack) -> None:
    code, report = cli(stack, "status")
    assert code == 0, report["problems"]
    assert [s["name"] for s in report["services"]] == list(SERVICES)
    for service in report["services"]:
        assert service["ready"] and service["database_ok"], service
        assert service["stats"]["outbox_unsent"] >= 0
    consumer_groups = {r["group"] for r in report["lag"]}
    assert {f"skillbridge.{s}" for s in SERVICES if s != "registry"} <= consumer_groups
    assert {d["topic"] for d in report["dlq"]} >= {f"{REGISTRY}.dlq"}

    stack.services["training"].terminate()  # the consumer stops
    stack.services["training"].wait(20)
    register(stack, 5)
    code, first = until(
        lambda: cli(stack, "status", "--max-lag", "3"),
        lambda r: lag_of(r[1], GROUP, REGISTRY) >= 5,
        timeout=30,
        what="training's lag on the registry topic",
    )
    assert code == 1
    assert any(p.startswith("training: not ready") for p in first["problems"])
    assert any(p.startswith(f"{GROUP}: lag") for p in first["problems"]), first["problems"]
    register(stack, 4)
    code, _ = until(
        lambda: cli(stack, "status", "--max-lag", "3"),
        lambda r: lag_of(r[1], GROUP, REGISTRY) >= lag_of(first, GROUP, REGISTRY) + 4,
        timeout=30,
        what="the lag growing",
    )
    assert code == 1

    stack.start_service("training")  # back: it catches up and status passes again
    stack.wait_ready(60, only="training")
    code, report = until(
        lambda: cli(stack, "status", "--max-lag", "0"),
        lambda r: r[0] == 0,
        timeout=60,
        what="every lag back to 0",
    )
    assert lag_of(report, GROUP, REGISTRY) == 0


def test_outbox_replay_after_the_broker_restarts_empty(stack: Stack) -> None:
    since = datetime.now(UTC)
    before = training_people(stack)
    register(stack, 6)  # journeys that reached training ...
    until(lambda: training_people(stack), lambda n: n == before + 6, 60, "training replica")
    stack.services["training"].terminate()  # ... and journeys still on the way to it
    stack.services["training"].wait(20)
    register(stack, 6)
    until(
        lambda: cli(stack, "status")[1],
        lambda r: (
            next(s for s in r["services"] if s["name"] == "registry")["stats"]["outbox_unsent"] == 0
        ),
        timeout=30,
        what="the registry's relay to publish",
    )

    assert stack.broker is not None
    stack.broker.terminate()  # the embedded broker restarts empty under running services
    stack.broker.wait(5)
    stack.start_broker()
    stack.start_service("training")
    stack.wait_ready(60, only="training")
    assert asyncio.run(read_topics(stack.bootstrap, [REGISTRY])) == []

    code, dry = cli(
        stack, "outbox", "replay", "-s", "registry", "--since", since.isoformat(), "--dry-run"
    )
    assert code == 0
    assert dry[0]["rows"] >= 12 and dry[0]["topics"][REGISTRY] >= 12
    assert asyncio.run(read_topics(stack.bootstrap, [REGISTRY])) == []  # a dry run sends nothing

    code, done = cli(stack, "outbox", "replay", "-s", "registry", "--since", since.isoformat())
    assert code == 0 and done[0]["rows"] == dry[0]["rows"]
    until(lambda: training_people(stack), lambda n: n == before + 12, 60, "every journey")

    observed = asyncio.run(read_topics(stack.bootstrap, [REGISTRY]))
    assert len(distinct(observed)) == len(observed) == dry[0]["topics"][REGISTRY]
    registered = [o for o in observed if o.ce_type == PersonRegistered.ce_type()]
    assert len(registered) == 12
    assert training_people(stack) == before + 12  # nothing applied twice


def test_keys_create_list_revoke_and_a_partner_key(stack: Stack) -> None:
    code, [created] = cli(
        stack, "keys", "create", "-s", "certification", "--role", "read", "--name", "ops-reader"
    )
    assert code == 0 and created["role"] == "read" and created["token"]
    reader = {"Authorization": f"Bearer {created['token']}"}
    assert httpx.get(f"{stack.url('certification')}/stats", headers=reader).status_code == 200

    code, listed = cli(stack, "keys", "list", "-s", "certification", "--role", "read")
    assert code == 0 and [k["name"] for k in listed] == ["ops-reader"]
    assert "token" not in listed[0]

    code, [revoked] = cli(stack, "keys", "revoke", "-s", "certification", created["key_id"])
    assert code == 0 and revoked["revoked_at"]
    assert httpx.get(f"{stack.url('certification')}/stats", headers=reader).status_code == 401

    # A problem from the service exits 1 and names the field (the name is taken).
    result = CliRunner().invoke(
        app,
        ["keys", "create", "-s", "certification", "--role", "read", "--name", "ops-reader"],
        env={
            "SKILLBRIDGE_CERTIFICATION_URL": stack.url("certification"),
            "SKILLBRIDGE_API_KEY": stack.admin_key,
        },
    )
    assert result.exit_code == 1
    assert "409" in result.stderr and "exists" in result.stderr

    code, [partner] = cli(stack, "partners", "keys", "create", "gsb", "--name", "gsb-loans")
    assert code == 0 and partner["token"] and partner["name"] == "gsb-loans"
