"""A poison flood mid-journey: 1,000 malformed records and 1,000 well-formed CloudEvents of
an unknown future type are produced into the live broadcast topics while a pilot runs.

Expected: every malformed record lands in `<topic>.dlq` once per consuming group, with the
error in its headers; every unknown-type event is skipped and counted in each consumer's
`/stats`; the journeys end exactly as without the flood (0 lost, 0 doubled referrals); and
no partition stalls: every group's lag returns to 0.

It would catch: a malformed record that stops its partition (a consumer that raises instead
of dead-lettering: the lag never reaches 0 and the journeys never end), one dead-lettered
without its error or lost on the way, an unknown type dead-lettered or handled instead of
skipped, and a flood that costs or doubles a referral.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer

from deploy.clients.funding import FundingClient, sent
from deploy.scenarios.pilot import expected_referrals, funnel_expectation, ieat_2019_pilot
from deploy.scenarios.seed import run_journeys
from deploy.stack import lag
from deploy.stack.databases import drop_databases
from deploy.stack.dlq import dead_letters
from shared.envelope import encode, source_of
from shared.events import PersonRegistered
from shared.topics import CERTIFICATION, FUNDING, REGISTRY, TRAINING
from tests.support import POSTGRES, eventually, make_stack, tansu

TOPICS = (REGISTRY, TRAINING, CERTIFICATION, FUNDING)
PER_TOPIC = 250  # x 4 topics: 1,000 of each kind
FUTURE_TYPE = "skillbridge.training.TrainingCompleted.v9"


async def _get(url: str, key: str) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {key}"}) as c:
        response = await c.get(url)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def flood(bootstrap: str) -> None:
    """Malformed records (no CloudEvents headers, not JSON) and unknown-type events, keyed
    `poison-<topic>-<n>` / `future-<topic>-<n>` so the DLQ can be matched to them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        template = encode(
            PersonRegistered(
                person_id=str(uuid4()), province_code="34", registered_at=datetime.now(UTC)
            ),
            source=source_of("registry"),
        )
        acks = []
        for topic in TOPICS:
            await producer.client.add_topic(topic)  # docs/decisions/0006
            for n in range(PER_TOPIC):
                acks.append(
                    await producer.send(topic, b"\x00{not json", key=f"poison-{topic}-{n}".encode())
                )
                headers = {**template.headers, "ce_type": FUTURE_TYPE, "ce_id": str(uuid4())}
                acks.append(
                    await producer.send(
                        topic,
                        template.value,
                        key=f"future-{topic}-{n}".encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
        for ack in acks:
            await ack
    finally:
        await producer.stop()


async def test_poison_flood_mid_journey_is_dead_lettered_skipped_and_stalls_nothing(
    tmp_path: Path,
) -> None:
    brokers = tansu(tmp_path)
    bootstrap = next(brokers)
    stack = await asyncio.to_thread(
        make_stack, tmp_path / "stack", bootstrap, {}, postgres=POSTGRES, prefix="sb_poison"
    )
    scenario = ieat_2019_pilot(seed=17, size=60)
    try:
        await asyncio.to_thread(stack.start, 90)
        result: dict[str, object] = {}

        def seed() -> None:
            try:
                result["ids"] = asyncio.run(
                    run_journeys(
                        stack.urls(),
                        scenario,
                        api_key=stack.admin_key,
                        concurrency=8,
                        progress=lambda _: None,
                    )
                )
            except BaseException as error:  # surfaced below
                result["error"] = error

        seeder = threading.Thread(target=seed)
        seeder.start()
        # Mid-journey: the registry has published people when the flood starts.
        await eventually(
            lambda: _get(f"{stack.url('registry')}/stats", stack.admin_key),
            lambda s: int(s["outbox_published"]) >= 10,  # type: ignore[call-overload]
            timeout=60,
            what="journeys under way",
        )
        await flood(bootstrap)
        await asyncio.to_thread(seeder.join, 240)
        assert not seeder.is_alive(), "journeys did not finish"
        assert "error" not in result, result.get("error")
        by_id: dict[str, str] = result["ids"]  # type: ignore[assignment]

        # The journeys end exactly as expected: 0 lost, 0 doubled.
        want = {(by_id[nid], product) for nid, product in expected_referrals(scenario)}
        expected = funnel_expectation(scenario)
        await eventually(
            lambda: _get(f"{stack.url('funding')}/counts", stack.admin_key),
            lambda c: c["referrals"] >= len(want) and c["qualifications"] >= expected["certified"],  # type: ignore[operator]
            timeout=120,
            what="journeys settled after the flood",
        )
        auth = {"Authorization": f"Bearer {stack.admin_key}"}
        async with httpx.AsyncClient(timeout=30, headers=auth) as client:
            rows = sent(await FundingClient(client, stack.url("funding")).referrals())
        made = [(r["person_id"], r["product_code"]) for r in rows]
        assert len(made) == len(set(made))
        assert set(made) == want

        # No partition stalls: every group reads to the end of every partition.
        async def lags() -> dict[str, int]:
            rows, _ = await lag.read(bootstrap)
            return lag.total_by_group(rows)

        settled = await eventually(
            lags, lambda t: bool(t) and not any(t.values()), timeout=60, what="lag back to 0"
        )
        stats = {s: await _get(f"{stack.url(s)}/stats", stack.admin_key) for s in stack.services}
        consumers = {s: st for s, st in stats.items() if st["consumer_group"]}
        assert {st["consumer_group"] for st in consumers.values()} <= set(settled)

        # Every malformed record is in its DLQ, once per group that reads its topic, with
        # the error; nothing else is (the journeys' own events and the future type are not).
        letters = await dead_letters(bootstrap)
        by_group: dict[tuple[str, str], Counter[str]] = {}
        for letter in letters:
            original_topic = letter.original.split("[")[0]
            by_group.setdefault((letter.consumer, original_topic), Counter())[letter.key] += 1
            assert letter.error_type == "PoisonMessage", letter
            assert letter.error, letter
            assert letter.topic == f"{original_topic}.dlq"
        for service, st in consumers.items():
            group = str(st["consumer_group"])
            flooded = [t for t in st["consumed_topics"] if t in TOPICS]  # type: ignore[attr-defined]
            assert flooded, service
            for topic in flooded:
                keys = by_group.pop((group, topic), Counter())
                assert set(keys) == {f"poison-{topic}-{n}" for n in range(PER_TOPIC)}, (
                    service,
                    topic,
                    len(keys),
                )
                assert max(keys.values()) == 1, (service, topic)
            # Unknown types: skipped and counted, one per record on the topics it reads.
            skipped = st["unknown_types_skipped"]
            assert skipped == {FUTURE_TYPE: PER_TOPIC * len(flooded)}, (service, skipped)
            assert st["dead_lettered"] == PER_TOPIC * len(flooded), service
        assert not by_group, f"unexpected dead letters: {list(by_group)}"
    finally:
        await asyncio.to_thread(stack.stop)
        for managed in stack.services.values():
            print(f"--- {managed.name} log tail\n{managed.log_tail(20)}")
        if POSTGRES:
            await drop_databases(stack.database_urls.values())
        next(brokers, None)
