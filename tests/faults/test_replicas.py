"""Two instances of every consuming service in one consumer group; one instance of
certification and one of funding are SIGKILLed mid-run. Referrals still come out once.

Each second instance is its first's argv and environment with another HTTP port: same
database, same group id, so the group's partitions (3 a topic) are split between them.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import httpx

from deploy.clients.funding import FundingClient, sent
from deploy.scenarios.pilot import expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import run_journeys
from deploy.stack.databases import drop_databases
from deploy.stack.launcher import Managed, Stack, free_port
from deploy.stack.topics import read_topics
from shared.events import LoanReferralCreated
from shared.topics import FUNDING
from tests.support import POSTGRES, eventually, make_stack

CONSUMERS = ["training", "certification", "funding", "dashboard"]


def second_instance(stack: Stack, service: str) -> tuple[Managed, str]:
    port = free_port()
    managed = Managed(
        name=f"{service}-2",
        argv=list(stack.services[service].argv),
        env={**stack.service_env(service), f"{service.upper()}_HTTP_PORT": str(port)},
        log_path=stack.data_dir / "logs" / f"{service}-2.log",
    )
    managed.start()
    return managed, f"http://127.0.0.1:{port}"


async def _get(url: str, key: str) -> dict[str, object]:
    """The JSON body of a 200, else {} (not listening yet, not ready)."""
    try:
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {key}"}) as c:
            response = await c.get(url)
    except httpx.TransportError:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


async def _assignments(urls: list[str], key: str) -> list[set[str]]:
    """Each instance's partitions (`/stats`), as `topic:partition`."""
    held = []
    for url in urls:
        stats = await _get(f"{url}/stats", key)
        held.append({str(p) for p in stats.get("assigned_partitions") or []})  # type: ignore[attr-defined]
    return held


async def test_replicas_split_partitions_and_a_killed_one_changes_nothing(
    tmp_path: Path, bootstrap: str
) -> None:
    """Catches: replicas that do not share the group's partitions (both would consume every
    record, or one none); a killed member's partitions not taken over (referrals lost); two
    replicas applying one event twice (referrals doubled in the database or on the topic)."""
    stack = await asyncio.to_thread(
        make_stack, tmp_path, bootstrap, {}, postgres=POSTGRES, prefix="sb_replicas"
    )
    scenario = ieat_2019_pilot(seed=17, size=240)
    key = stack.admin_key
    seconds: dict[str, tuple[Managed, str]] = {}
    split: dict[str, set[str]] = {}
    try:
        await asyncio.to_thread(stack.start, 90)
        for service in CONSUMERS:  # one at a time: each runs the migrations at start
            seconds[service] = second_instance(stack, service)
            await eventually(
                lambda s=service: _get(f"{seconds[s][1]}/readyz", key),
                lambda body: body.get("status") == "ready",
                timeout=60,
                what=f"{service}-2 ready",
            )
        for service in CONSUMERS:
            urls = [stack.url(service), seconds[service][1]]
            held = await eventually(
                lambda u=urls: _assignments(u, key),
                lambda a: all(a) and not (a[0] & a[1]),
                timeout=60,
                what=f"{service}'s partitions split between its two instances",
            )
            print(f"{service}: {sorted(held[0])} | {sorted(held[1])}")
            split[service] = held[0] | held[1]

        result: dict[str, object] = {}

        def seed() -> None:
            try:
                result["ids"] = asyncio.run(
                    run_journeys(
                        stack.urls(), scenario, api_key=key, concurrency=8, progress=lambda _: None
                    )
                )
            except BaseException as error:  # surfaced below
                result["error"] = error

        seeder = threading.Thread(target=seed)
        seeder.start()
        for victim, field in (("certification", "certificates"), ("funding", "referrals")):
            await eventually(
                lambda v=victim: _get(f"{stack.url(v)}/counts", key),
                lambda c, f=field: int(c.get(f, 0)) >= 5,  # type: ignore[call-overload]
                timeout=120,
                what=f"{victim} mid-run",
            )
            seconds[victim][0].kill()  # SIGKILL: its partitions go to the survivor
            await eventually(
                lambda v=victim: _assignments([stack.url(v)], key),
                lambda a, v=victim: a[0] == split[v],
                timeout=60,
                what=f"the surviving {victim} holding every partition",
            )
        await asyncio.to_thread(seeder.join, 300)
        assert "error" not in result, result.get("error")
        by_id: dict[str, str] = result["ids"]  # type: ignore[assignment]
        want = {(by_id[nid], product) for nid, product in expected_referrals(scenario)}
        expected = funnel_expectation(scenario)
        counts = await eventually(
            lambda: _get(f"{stack.url('funding')}/counts", key),
            lambda c: (
                int(c.get("referrals", 0)) >= len(want)  # type: ignore[call-overload]
                and int(c.get("qualifications", 0)) >= expected["certified"]
            ),  # type: ignore[call-overload]
            timeout=180,
            what="journeys settled",
        )
        assert counts["qualifications"] == expected["certified"]
        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:
            rows = sent(await FundingClient(c, stack.url("funding")).referrals())
        made = [(r["person_id"], r["product_code"]) for r in rows]
        assert len(made) == len(set(made))  # none doubled in the database
        assert set(made) == want  # none lost, none extra

        # On the topic: one LoanReferralCreated id per expected referral. A record may be
        # there twice (a relay killed between publish and commit), never a second event.
        people = set(by_id.values())

        async def on_topic() -> list[tuple[str, str, str]]:
            return [
                (o.ce_id, o.key, str(o.data["product_code"]))
                for o in await read_topics(stack.bootstrap, [FUNDING])
                if o.ce_type == LoanReferralCreated.ce_type() and o.key in people
            ]

        records = await eventually(
            on_topic, lambda r: {(p, x) for _, p, x in r} >= want, what="referrals on the topic"
        )
        ids_per_referral = Counter((p, x) for _, p, x in set(records))
        assert set(ids_per_referral) == want
        assert set(ids_per_referral.values()) == {1}  # exactly once, by event id
        print(
            f"referrals {len(want)}; LoanReferralCreated records {len(records)}, "
            f"distinct ids {len(set(records))} (duplicate publishes: "
            f"{len(records) - len(set(records))})"
        )
    finally:
        for managed, _ in seconds.values():
            managed.terminate()
        await asyncio.to_thread(stack.stop)
        for managed, _ in seconds.values():
            await asyncio.to_thread(managed.wait, 10)
        for managed in [*stack.services.values(), *(m for m, _ in seconds.values())]:
            print(f"--- {managed.name} log tail\n{managed.log_tail(15)}")
        if POSTGRES:
            await drop_databases(stack.database_urls.values())
