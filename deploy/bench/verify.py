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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
from aiokafka import AIOKafkaProducer

from deploy.bench.harness import RESULTS_DIR, Figures, bench_env, prepare, recording
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


@dataclass
class Target:
    """One database's run: the in-process certification service's client, where figures
    are printed and recorded, and what the checks found."""

    label: str
    client: httpx.AsyncClient
    out: TextIO
    figures: Figures
    problems: list[str] = field(default_factory=list)

    async def timed(self, label: str, key: str, n: int, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        result = await work
        seconds = time.perf_counter() - started
        self.figures.rate(self.label, key, n, seconds)
        self.out.write(f"  {label:<34} {n:>7,} in {seconds:6.2f} s = {n / seconds:>9,.0f}/s\n")
        return result

    async def fetch(self, path: str) -> dict[str, Any]:
        response = await self.client.get(path)
        response.raise_for_status()
        return dict(response.json())

    async def issue(self, people: int) -> list[str]:
        """A session of `people` candidates on the experience route, all passing; returns
        the certificate numbers issued."""
        certification = CertificationClient(self.client)
        code = f"bench-{secrets.token_hex(3)}"
        await certification.ensure_session(
            code=code, standard_code=STANDARD, held_on=date.today(), retry_for=60
        )
        ids = [str(uuid.uuid4()) for _ in range(people)]
        units = unit_results(await certification.standard(STANDARD), True)
        candidates = [Candidate(p, "สมชาย ใจดี", "experience", "wiring for 5 years", 5) for p in ids]
        await self.timed(
            "candidates registered",
            "candidates_registered",
            people,
            certification.register_candidates(code, candidates),
        )
        recorded = await self.timed(
            "results decided, certificates issued",
            "certificates_issued",
            people,
            certification.record_results(code, {p: units for p in ids}),
        )
        numbers = [r["certificate_number"] for r in recorded if r["certificate_number"]]
        if len(set(numbers)) != people:
            self.problems.append(
                f"{self.label}: {len(set(numbers))} certificates for {people} passes"
            )
        return numbers

    async def sign_and_verify(self, numbers: list[str]) -> list[dict[str, Any]]:
        """Every credential fetched (signed on read) and checked against the published key,
        every certificate verified; returns the credentials."""
        did = await self.fetch("/.well-known/did.json")
        public = {
            m["id"]: signing.public_key_of(m["publicKeyMultibase"])
            for m in did["verificationMethod"]
        }
        credentials = await self.timed(
            "credentials signed (GET, in-process)",
            "credentials_signed",
            len(numbers),
            _limited(numbers, lambda n: self.fetch(f"/credentials/{n}")),
        )
        bad = [
            c["id"]
            for c in credentials
            if not signing.verify(c, public[c["proof"]["verificationMethod"]])
        ]
        if bad:
            self.problems.append(
                f"{self.label}: {len(bad)} credentials do not verify, e.g. {bad[0]}"
            )
        verified = await self.timed(
            "verifications (GET /verify)",
            "verifications",
            len(numbers),
            _limited(numbers, lambda n: self.fetch(f"/verify/{n}")),
        )
        if {v["status"] for v in verified} != {"valid"}:
            self.problems.append(f"{self.label}: not every fresh certificate verifies as valid")
        return credentials

    async def revoke(self, numbers: list[str], credentials: list[dict[str, Any]]) -> None:
        """The first REVOKED revoked; the status list, built and signed 20 times, holds
        exactly their bits."""
        for number in numbers[:REVOKED]:
            response = await self.client.post(
                f"/certificates/{number}/revocation", json={"reason": "bench"}
            )
            response.raise_for_status()
        lists = await self.timed(
            "status lists built and signed",
            "status_lists_signed",
            20,
            _limited(range(20), lambda _: self.fetch("/status-lists/1")),
        )
        bits = status_list.decode(lists[-1]["credentialSubject"]["encodedList"])
        indices = {int(c["credentialStatus"]["statusListIndex"]) for c in credentials[:REVOKED]}
        set_bits = {i for i in range(len(bits) * 8) if status_list.is_set(bits, i)}
        if set_bits != indices:
            self.problems.append(
                f"{self.label}: status list has {len(set_bits)} bits, want {REVOKED}"
            )

    def pure_signatures(self, credential: dict[str, Any]) -> None:
        """eddsa-jcs-2022 alone: the credential signed again 2,000 times, no HTTP."""
        key = signing.Key.generate()
        document = credential | {}
        document.pop("proof")
        n = 2_000
        started = time.perf_counter()
        for _ in range(n):
            signing.sign(document, key, "did:web:x#k", datetime.now(UTC))
        seconds = time.perf_counter() - started
        self.figures.rate(self.label, "pure_signatures", n, seconds)
        self.out.write(
            f"  {'eddsa-jcs-2022 signatures (pure)':<34} {n:>7,} in {seconds:6.2f} s "
            f"= {n / seconds:>9,.0f}/s\n"
        )


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


async def _run_one(
    label: str, url: str, bootstrap: str, people: int, out: TextIO, figures: Figures
) -> list[str]:
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
    transport = httpx.ASGITransport(app=service.app)
    headers = auth_headers(admin)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://cert", headers=headers, timeout=120
        ) as client:
            out.write(f"\n{label}\n")
            await _announce_assessor(bootstrap)
            target = Target(label, client, out, figures)
            numbers = await target.issue(people)
            credentials = await target.sign_and_verify(numbers)
            await target.revoke(numbers, credentials)
        target.pure_signatures(credentials[0])
    finally:
        await service.stop()
    return target.problems


async def _run(people: int, data_dir: Path, out: TextIO, figures: Figures) -> int:
    problems: list[str] = []
    async with bench_env("certification", data_dir, "sb_bench_verify", out) as env:
        for label, url in env.targets:
            problems += await _run_one(label, url, env.bootstrap, people, out, figures)
    figures.problems += problems
    if problems:
        out.write("\nCHECK FAILED:\n  " + "\n  ".join(problems) + "\n")
        return 1
    out.write(
        f"\ncheck: {people:,} certificates per database, every credential verified against "
        f"the published key, {REVOKED} revocations exactly in the status list\n"
    )
    return 0


def run(
    *, people: int, data_dir: Path, out_dir: Path = RESULTS_DIR, out: TextIO = sys.stdout
) -> int:
    prepare(data_dir)
    out.write(
        f"bench-verify: {people:,} certificates, {CONCURRENCY} requests at a time, "
        "in-process HTTP (no network)\n"
    )
    parameters = {"people": people, "revoked": REVOKED, "concurrency": CONCURRENCY}
    with recording("verify", parameters, out_dir, out) as figures:
        return asyncio.run(_run(people, data_dir, out, figures))
