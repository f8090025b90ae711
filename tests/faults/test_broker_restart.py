"""The embedded broker restarts empty: an event published just before still reaches its consumer.

Registry and training run in-process on a Tansu broker of the test's own, on a fixed port,
which the test stops and replaces with a new, empty one, as `skillbridge up` does when stopped
and started again.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from deploy.stack.launcher import Managed, free_port, start_tansu
from services.registry.__main__ import build as build_registry
from services.registry.settings import RegistrySettings
from services.registry.tables import Outbox as RegistryOutbox
from services.training.__main__ import build as build_training
from services.training.settings import TrainingSettings
from services.training.tables import KnownPerson
from shared.runtime import Service
from tests.support import admin_client, eventually, national_id


class Stack:
    """Registry and training built anew on each start, as separate processes would be."""

    def __init__(self, tmp: Path, database_urls: dict[str, str]) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.urls = database_urls
        self.key = "sbk_" + secrets.token_urlsafe(24)
        self.broker: Managed | None = None
        self.brokers_started = 0
        self.running: list[Service] = []

    def start_broker(self) -> None:
        self.brokers_started += 1
        self.broker = start_tansu(self.port, self.tmp / f"broker{self.brokers_started}.log")

    def stop_broker(self) -> None:
        assert self.broker is not None
        self.broker.terminate()
        self.broker.wait(5)

    async def registry(self) -> Service:
        settings = RegistrySettings(
            database_url=self.urls["registry"],
            kafka_bootstrap_servers=self.bootstrap,
            kafka_enable_idempotence=False,
            admin_key=self.key,
        )
        return await self._start(build_registry(settings))

    async def training(self) -> Service:
        settings = TrainingSettings(
            database_url=self.urls["training"],
            kafka_bootstrap_servers=self.bootstrap,
            kafka_enable_idempotence=False,
            admin_key=self.key,
        )
        return await self._start(build_training(settings))

    async def _start(self, service: Service) -> Service:
        await service.start()
        self.running.append(service)
        return service

    async def stop(self, service: Service) -> None:
        self.running.remove(service)
        await service.stop()

    async def close(self) -> None:
        for service in list(self.running):
            await self.stop(service)
        if self.broker is not None and self.broker.running:
            self.stop_broker()

    async def stats(self, service: Service) -> dict[str, Any]:
        async with admin_client(service, service.name, self.key) as client:
            response = await client.get("/stats")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def register(self, registry: Service) -> str:
        body = {
            "national_id": national_id(),
            "first_name_th": "มาลี",
            "last_name_th": "ศรีสุข",
            "birth_date": "12/05/2530",
            "sex": "female",
            "address": {
                "house_no": "99/1",
                "subdistrict": "ไผ่ใหญ่",
                "district": "ม่วงสามสิบ",
                "province_code": "34",
            },
        }
        async with admin_client(registry, "registry", self.key) as client:
            response = await client.post("/people", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["person_id"])


async def knows(training: Service, person_id: str) -> bool:
    async with training.db.transaction() as session:
        return await session.get(KnownPerson, person_id) is not None


async def unsent(registry: Service) -> int:
    async with registry.db.transaction() as session:
        query = select(func.count()).where(col(RegistryOutbox.published_at).is_(None))
        return int((await session.exec(query)).one())


async def test_event_published_before_a_broker_restart_reaches_its_consumer(
    tmp_path: Path, database_urls: dict[str, str]
) -> None:
    stack = Stack(tmp_path, database_urls)
    stack.start_broker()
    try:
        registry = await stack.registry()
        training = await stack.training()
        seen = await stack.register(registry)
        await eventually(lambda: knows(training, seen), bool, timeout=30, what="first person")
        await stack.stop(training)  # the consumer is down ...
        missed = await stack.register(registry)  # ... when this event is published
        await eventually(lambda: unsent(registry), lambda n: n == 0, timeout=30, what="relay")
        await stack.stop(registry)
        stack.stop_broker()

        stack.start_broker()  # a new broker on the same port: no topics, no group offsets
        registry = await stack.registry()
        republished = (await stack.stats(registry))["outbox_republished_on_start"]
        assert republished >= 2  # both people's PersonRegistered, at least
        await eventually(lambda: unsent(registry), lambda n: n == 0, timeout=30, what="replay")
        # Training joins after the replay: only auto_offset_reset=earliest lets its group,
        # which the new broker has never seen, read the replayed records.
        training = await stack.training()
        await eventually(lambda: knows(training, missed), bool, timeout=30, what="missed person")
        await eventually(
            lambda: stack.stats(training),
            lambda s: s["duplicates_skipped"] >= 1,  # the first person's event, again
            timeout=30,
            what="inbox skipping the replayed event",
        )
        assert await knows(training, seen)

        # A restart on a broker that kept everything replays nothing.
        await stack.stop(training)
        await stack.stop(registry)
        registry = await stack.registry()
        training = await stack.training()
        assert (await stack.stats(registry))["outbox_republished_on_start"] == 0
        assert (await stack.stats(training))["outbox_republished_on_start"] == 0
    finally:
        await stack.close()


async def test_records_on_broker_counts_every_record_on_tansu(tmp_path: Path) -> None:
    """Tansu's ListOffsets undercounts (the last batch's base offset + 1); the count must not."""
    from aiokafka import AIOKafkaProducer

    from shared.kafka import ensure_topics, records_on_broker

    port = free_port()
    broker = start_tansu(port, tmp_path / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap, ["counted"], 3)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            for _ in range(3):  # several batches per partition
                acks = [await producer.send("counted", b"v", key=b"%d" % i) for i in range(40)]
                for ack in acks:
                    await ack
        finally:
            await producer.stop()
        counts = await records_on_broker(bootstrap, ["counted", "absent"])
        assert counts == {"counted": 120, "absent": 0}
    finally:
        broker.terminate()
        broker.wait(5)
