"""`skillbridge bench-verify`: certificates issued, credentials signed and verifications
answered per second, measured and checked.

Certification runs in this process (services.certification.__main__.build) on a Tansu
broker of its own, on SQLite and then on a fresh PostgreSQL database when one is
reachable. The registry's OrganisationRegistered for the assessor is produced to the
registry topic as the registry would publish it. N candidates on the experience route are
registered and pass (batches of 1,000); then every credential is fetched (signed on read)
and checked against the published key, every certificate is verified, R are revoked and
the status list is fetched and checked.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
from aiokafka import AIOKafkaProducer

from deploy.bench.harness import bench_env, prepare
from deploy.clients.base import auth_headers
from deploy.clients.certification import ASSESSOR, Candidate, CertificationClient, unit_results
from services.certification import signing, status_list
from services.certification.__main__ import build
from services.certification.settings import CertificationSettings
from shared.envelope import encode, source_of
from shared.events import OrganisationRegistered

T = TypeVar("T")
CONCURRENCY = 8
REVOKED = 100
STANDARD = "electrician-l1"


async def _timed(label: str, n: int, work: Awaitable[T], out: TextIO) -> T:
    started = time.perf_counter()
    result = await work
    seconds = time.perf_counter() - started
    out.write(f"  {label:<34} {n:>7,} in {seconds:6.2f} s = {n / seconds:>9,.0f}/s\n")
    return result


async def _limited(items: Iterable[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> Any:
        async with semaphore:
            return await work(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def _announce_assessor(bootstrap: str) -> None:
    event = OrganisationRegistered(
        code=ASSESSOR,
        kind="assessor",
        name="Thailand Professional Qualification Institute",
        registered_at=datetime.now(UTC),
    )
    record = encode(event, source=source_of("registry"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in record.headers.items()]
        await producer.send_and_wait(event.topic(), record.value, key=record.key, headers=headers)
    finally:
        await producer.stop()


async def _run_one(label: str, url: str, bootstrap: str, people: int, out: TextIO) -> list[str]:
    admin = "sbk_" + secrets.token_urlsafe(24)
    settings = CertificationSettings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        admin_key=admin,
        consumer_group_prefix=f"bench-{secrets.token_hex(3)}",
        public_url="https://certs.bench.test",
        verify_rate_limit="1000000/minute",
    )
    service = build(settings)
    await service.start()
    problems: list[str] = []
    transport = httpx.ASGITransport(app=service.app)
    headers = auth_headers(admin)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://cert", headers=headers, timeout=120
        ) as client:
            out.write(f"\n{label}\n")
            await _announce_assessor(bootstrap)
            code = f"bench-{secrets.token_hex(3)}"
            certification = CertificationClient(client)
            await certification.ensure_session(
                code=code, standard_code=STANDARD, held_on=date.today(), retry_for=60
            )
            ids = [str(uuid.uuid4()) for _ in range(people)]
            units = unit_results(await certification.standard(STANDARD), True)
            candidates = [
                Candidate(p, "สมชาย ใจดี", "experience", "wiring for 5 years", 5) for p in ids
            ]
            await _timed(
                "candidates registered",
                people,
                certification.register_candidates(code, candidates),
                out,
            )
            recorded = await _timed(
                "results decided, certificates issued",
                people,
                certification.record_results(code, {p: units for p in ids}),
                out,
            )
            numbers = [r["certificate_number"] for r in recorded if r["certificate_number"]]
            if len(set(numbers)) != people:
                problems.append(f"{label}: {len(set(numbers))} certificates for {people} passes")

            async def fetch(path: str) -> dict[str, Any]:
                response = await client.get(path)
                response.raise_for_status()
                return dict(response.json())

            did = await fetch("/.well-known/did.json")
            public = {
                m["id"]: signing.public_key_of(m["publicKeyMultibase"])
                for m in did["verificationMethod"]
            }
            credentials = await _timed(
                "credentials signed (GET, in-process)",
                len(numbers),
                _limited(numbers, lambda n: fetch(f"/credentials/{n}")),
                out,
            )
            bad = [
                c["id"]
                for c in credentials
                if not signing.verify(c, public[c["proof"]["verificationMethod"]])
            ]
            if bad:
                problems.append(f"{label}: {len(bad)} credentials do not verify, e.g. {bad[0]}")
            verified = await _timed(
                "verifications (GET /verify)",
                len(numbers),
                _limited(numbers, lambda n: fetch(f"/verify/{n}")),
                out,
            )
            if {v["status"] for v in verified} != {"valid"}:
                problems.append(f"{label}: not every fresh certificate verifies as valid")
            revoked = numbers[:REVOKED]
            for number in revoked:
                response = await client.post(
                    f"/certificates/{number}/revocation", json={"reason": "bench"}
                )
                response.raise_for_status()
            lists = await _timed(
                "status lists built and signed",
                20,
                _limited(range(20), lambda _: fetch("/status-lists/1")),
                out,
            )
            bits = status_list.decode(lists[-1]["credentialSubject"]["encodedList"])
            indices = {int(c["credentialStatus"]["statusListIndex"]) for c in credentials[:REVOKED]}
            set_bits = {i for i in range(len(bits) * 8) if status_list.is_set(bits, i)}
            if set_bits != indices:
                problems.append(f"{label}: status list has {len(set_bits)} bits, want {REVOKED}")
        key = signing.Key.generate()
        document = credentials[0] | {}
        document.pop("proof")
        n = 2_000
        started = time.perf_counter()
        for _ in range(n):
            signing.sign(document, key, "did:web:x#k", datetime.now(UTC))
        seconds = time.perf_counter() - started
        out.write(
            f"  {'eddsa-jcs-2022 signatures (pure)':<34} {n:>7,} in {seconds:6.2f} s "
            f"= {n / seconds:>9,.0f}/s\n"
        )
    finally:
        await service.stop()
    return problems


async def _run(people: int, data_dir: Path, out: TextIO) -> int:
    problems: list[str] = []
    async with bench_env("certification", data_dir, "sb_bench_verify", out) as env:
        for label, url in env.targets:
            problems += await _run_one(label, url, env.bootstrap, people, out)
    if problems:
        out.write("\nCHECK FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write(
        f"\ncheck: {people:,} certificates per database, every credential verified against "
        f"the published key, {REVOKED} revocations exactly in the status list\n"
    )
    return 0


def run(*, people: int, data_dir: Path, out: TextIO = sys.stdout) -> int:
    prepare(data_dir)
    out.write(
        f"bench-verify: {people:,} certificates, {CONCURRENCY} requests at a time, "
        "in-process HTTP (no network)\n"
    )
    return asyncio.run(_run(people, data_dir, out))
