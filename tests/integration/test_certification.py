"""Certification on the real broker and database: standards, sessions with a known
assessor, results per unit, signed credentials checked independently, revocation in the
status list, expiry, renewal, erasure, keys and the public routes' rate limit.

The registry runs beside it (the assessor and erasures arrive as its events); training's
TrainingCompleted is put on the training topic as training would publish it.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import base58
import httpx
import pytest
import rfc8785
import segno
from aiokafka import AIOKafkaProducer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import update

from deploy.stack.topics import distinct, read_topics
from services.certification.__main__ import build
from services.certification.settings import CertificationSettings
from services.certification.tables import Certificate
from shared.envelope import encode
from shared.events import (
    AssessmentFailed,
    Event,
    QualificationAwarded,
    QualificationExpired,
    QualificationRenewed,
    QualificationRevoked,
    TrainingCompleted,
)
from shared.runtime import Service
from shared.topics import CERTIFICATION
from tests.support import RunningRegistry, admin_client, eventually, national_id, ok, tansu

PUBLIC_URL = "https://certs.skillbridge.test"
GARDENER = "gardener-l1"  # units GD-01..03 required, GD-04 optional


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for this module: each test's certification reads its topics from the start
    (a consumer group of its own) without wading through other modules' events."""
    yield from tansu(tmp_path_factory.mktemp("cert-broker"))


@dataclass
class RunningCertification:
    service: Service
    client: httpx.AsyncClient  # the admin key
    admin_key: str
    bootstrap: str

    def anonymous(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.app), base_url="http://certification"
        )


Starter = Callable[..., Awaitable[RunningCertification]]


@pytest.fixture
async def start_certification(
    bootstrap: str, database_urls: dict[str, str], registry: RunningRegistry
) -> AsyncIterator[Starter]:
    """Starts certification (again, on the same database: a restart) with overrides."""
    running: list[RunningCertification] = []
    group = f"t{secrets.token_hex(4)}"

    async def start(**overrides: Any) -> RunningCertification:
        settings = CertificationSettings(
            **{
                "database_url": database_urls["certification"],
                "kafka_bootstrap_servers": bootstrap,
                "kafka_enable_idempotence": False,
                "admin_key": registry.admin_key,
                "consumer_group_prefix": group,
                "public_url": PUBLIC_URL,
                "verify_rate_limit": "10000/minute",
                "expiry_sweep_seconds": 0.2,
                **overrides,
            }
        )
        service = build(settings)
        await service.start()
        client = admin_client(service, "certification", registry.admin_key)
        started = RunningCertification(service, client, registry.admin_key, bootstrap)
        running.append(started)
        return started

    yield start
    for started in running:
        await started.client.aclose()
        if started.service._started:
            await started.service.stop()


async def stop(cert: RunningCertification) -> None:
    await cert.client.aclose()
    await cert.service.stop()


@pytest.fixture
async def cert(start_certification: Starter) -> RunningCertification:
    started = await start_certification()
    await eventually(
        lambda: counts(started), lambda c: c["assessors"] >= 1, what="assessor replicated"
    )
    return started


async def counts(cert: RunningCertification) -> dict[str, int]:
    return ok(await cert.client.get("/counts"), 200)  # type: ignore[no-any-return]


async def publish(bootstrap: str, event: Event, source: str) -> None:
    """Put an event on its topic as its producing service's outbox relay would."""
    record = encode(event, source=source)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in record.headers.items()]
        await producer.send_and_wait(event.topic(), record.value, key=record.key, headers=headers)
    finally:
        await producer.stop()


async def training_completed(bootstrap: str, person_id: str, occupation: str) -> None:
    event = TrainingCompleted(
        person_id=person_id,
        enrolment_id=str(uuid.uuid4()),
        programme_code="test",
        cohort_code="test-cohort",
        occupation=occupation,
        hours=30,
        completed_at=datetime.now(UTC),
    )
    await publish(bootstrap, event, "/skillbridge/training")


async def session(cert: RunningCertification, standard: str = GARDENER) -> str:
    code = f"s-{secrets.token_hex(4)}"
    body = {
        "code": code,
        "standard_code": standard,
        "assessor_code": "tpqi",
        "held_on": "2026-06-07",
    }
    ok(await cert.client.post("/sessions", json=body), 201)
    return code


def candidate(person_id: str, name: str = "มาลี ศรีสุข", route: str = "experience") -> dict:
    body: dict[str, Any] = {"person_id": person_id, "full_name": name, "route": route}
    if route == "experience":
        body["evidence"] = {"description": "Gardener at a resort for 6 years", "years": 6}
    return body


ALL_PASS = {"GD-01": True, "GD-02": True, "GD-03": True, "GD-04": True}


async def award(
    cert: RunningCertification, person_id: str | None = None, name: str = "มาลี ศรีสุข"
) -> tuple[str, str]:
    """A certificate on the experience route: (person_id, certificate number)."""
    person_id = person_id or str(uuid.uuid4())
    code = await session(cert)
    ok(
        await cert.client.post(
            f"/sessions/{code}/candidates", json={"candidates": [candidate(person_id, name)]}
        ),
        200,
    )
    [recorded] = ok(
        await cert.client.post(
            f"/sessions/{code}/results",
            json={"results": [{"person_id": person_id, "units": ALL_PASS}]},
        ),
        200,
    )
    assert recorded["status"] == "awarded", recorded
    return person_id, recorded["certificate_number"]


async def on_topic(cert: RunningCertification, event: type[Event], number: str) -> list[Any]:
    records = distinct(await read_topics(cert.bootstrap, [CERTIFICATION]))
    return [
        r
        for r in records
        if r.ce_type == event.ce_type() and r.data.get("certificate_number") == number
    ]


async def published_once(cert: RunningCertification, event: type[Event], number: str) -> Any:
    found = await eventually(
        lambda: on_topic(cert, event, number),
        lambda found: len(found) >= 1,
        what=f"{event.__name__} for {number} on the broker",
    )
    assert len(found) == 1, found
    return found[0]


# --- an independent verifier: the cryptography package, JCS and the published key ------


def _hash(document: dict[str, Any]) -> bytes:
    proof = document["proof"]
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    options["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(rfc8785.dumps(options)).digest()
        + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    )


async def published_key(anonymous: httpx.AsyncClient, method: str) -> Ed25519PublicKey:
    did = ok(await anonymous.get("/.well-known/did.json"), 200)
    [vm] = [m for m in did["verificationMethod"] if m["id"] == method]
    assert method in did["assertionMethod"]
    raw = base58.b58decode(vm["publicKeyMultibase"][1:])
    assert raw[:2] == b"\xed\x01"  # multicodec ed25519-pub
    return Ed25519PublicKey.from_public_bytes(raw[2:])


async def check_signature(anonymous: httpx.AsyncClient, document: dict[str, Any]) -> None:
    """Raises InvalidSignature unless the document's proof is the published key's."""
    proof = document["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    key = await published_key(anonymous, proof["verificationMethod"])
    key.verify(base58.b58decode(proof["proofValue"][1:]), _hash(document))


def decode_list(encoded: str) -> bytes:
    body = encoded[1:]
    assert encoded[0] == "u"
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


# --- the checks -----------------------------------------------------------------


async def test_credential_verifies_independently_and_a_tampered_one_fails(
    cert: RunningCertification,
) -> None:
    person_id, number = await award(cert, name="สมหญิง ทดสอบ")
    async with cert.anonymous() as anonymous:
        credential = ok(await anonymous.get(f"/credentials/{number}"), 200)
        await check_signature(anonymous, credential)  # no exception: genuine

        assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert credential["issuer"]["id"] == "did:web:certs.skillbridge.test"
        assert credential["id"] == f"{PUBLIC_URL}/credentials/{number}"
        subject = credential["credentialSubject"]
        assert subject["type"] == ["AchievementSubject"]
        assert subject["achievement"]["humanCode"] == GARDENER
        assert subject["identifier"][0]["identityHash"] == "สมหญิง ทดสอบ"
        assert person_id not in str(credential)
        assert credential["credentialStatus"]["statusPurpose"] == "revocation"

        for change in (
            lambda c: c["credentialSubject"]["identifier"][0].update(identityHash="Somebody"),
            lambda c: c.update(validUntil="2099-01-01T23:59:59Z"),
            lambda c: c["credentialSubject"]["achievement"].update(humanCode="mechanic-l3"),
        ):
            tampered = copy.deepcopy(credential)
            change(tampered)
            with pytest.raises(InvalidSignature):
                await check_signature(anonymous, tampered)

        public = ok(await anonymous.get(f"/verify/{number}"), 200)
        assert public["status"] == "valid"
        assert public["holder_initials"] == "ส. ท."
        assert public["occupation"] == "gardener" and public["level"] == 1
        assert "สมหญิง" not in str(public) and person_id not in str(public)
        page = await anonymous.get(f"/verify/{number}", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "VALID" in page.text and "ส. ท." in page.text and "สมหญิง" not in page.text

        qr = await anonymous.get(f"/verify/{number}/qr.png")
        assert qr.headers["content-type"] == "image/png"
        expected = segno.make(f"{PUBLIC_URL}/verify/{number}", error="m")
        assert qr.content.startswith(b"\x89PNG")
        assert qr.content == _png(expected)
        assert ok_status(await anonymous.get("/verify/SB-2026-0000000000/qr.svg")) == 404
    awarded = await published_once(cert, QualificationAwarded, number)
    assert awarded.data["standard_code"] == GARDENER
    assert awarded.data["verification_url"] == f"{PUBLIC_URL}/verify/{number}"


def _png(code: segno.QRCode) -> bytes:
    import io

    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def ok_status(response: httpx.Response) -> int:
    return response.status_code


async def test_revoked_shows_on_the_endpoint_and_in_the_status_list_once(
    cert: RunningCertification,
) -> None:
    _, number = await award(cert)
    _, other = await award(cert)
    async with cert.anonymous() as anonymous:
        credential = ok(await anonymous.get(f"/credentials/{number}"), 200)
        index = int(credential["credentialStatus"]["statusListIndex"])
        list_url = credential["credentialStatus"]["statusListCredential"]
        assert list_url == f"{PUBLIC_URL}/status-lists/1"
        path = "/status-lists/1"
        before = decode_list(ok(await anonymous.get(path), 200)["credentialSubject"]["encodedList"])
        assert not before[index // 8] & (0x80 >> (index % 8))

        writer = ok(
            await cert.client.post("/api-keys", json={"name": "desk", "role": "write"}), 201
        )
        forbidden = await cert.client.post(
            f"/certificates/{number}/revocation",
            json={"reason": "x"},
            headers={"Authorization": f"Bearer {writer['token']}"},
        )
        assert forbidden.status_code == 403  # revocation needs an admin key
        revoked = ok(
            await cert.client.post(
                f"/certificates/{number}/revocation", json={"reason": "forged evidence"}
            ),
            200,
        )
        assert revoked["status"] == "revoked"
        again = await cert.client.post(
            f"/certificates/{number}/revocation", json={"reason": "twice"}
        )
        assert again.status_code == 409

        assert ok(await anonymous.get(f"/verify/{number}"), 200)["status"] == "revoked"
        assert ok(await anonymous.get(f"/verify/{other}"), 200)["status"] == "valid"
        status_list = ok(await anonymous.get(path), 200)
        await check_signature(anonymous, status_list)
        subject = status_list["credentialSubject"]
        assert subject["type"] == "BitstringStatusList"
        bits = decode_list(subject["encodedList"])
        assert len(bits) * 8 >= 131_072
        assert bits[index // 8] & (0x80 >> (index % 8))
        other_index = int(
            ok(await anonymous.get(f"/credentials/{other}"), 200)["credentialStatus"][
                "statusListIndex"
            ]
        )
        assert not bits[other_index // 8] & (0x80 >> (other_index % 8))
        assert sum(bin(b).count("1") for b in bits) == 1
    event = await published_once(cert, QualificationRevoked, number)
    assert event.data["reason"] == "forged evidence"


async def test_failed_required_unit_no_certificate_results_twice_one_certificate(
    cert: RunningCertification,
) -> None:
    failing, passing, optional_only = (str(uuid.uuid4()) for _ in range(3))
    code = await session(cert)
    ok(
        await cert.client.post(
            f"/sessions/{code}/candidates",
            json={
                "candidates": [
                    candidate(failing, route="training"),
                    candidate(passing, route="training"),
                    candidate(optional_only, route="training"),
                ]
            },
        ),
        200,
    )
    # Either order: one has finished training before the results, one after.
    await training_completed(cert.bootstrap, failing, "gardener")
    await training_completed(cert.bootstrap, optional_only, "gardener")
    await eventually(
        lambda: counts(cert), lambda c: c["training_records"] >= 2, what="training replicated"
    )
    results = {
        "results": [
            {"person_id": failing, "units": {**ALL_PASS, "GD-02": False}},
            {"person_id": passing, "units": ALL_PASS},
            {"person_id": optional_only, "units": {**ALL_PASS, "GD-04": False}},
        ]
    }
    first = {
        r["person_id"]: r
        for r in ok(await cert.client.post(f"/sessions/{code}/results", json=results), 200)
    }
    assert first[failing]["status"] == "failed" and first[failing]["failed_units"] == ["GD-02"]
    assert first[failing]["certificate_number"] is None
    assert first[passing]["status"] == "awaiting-training"
    assert first[optional_only]["status"] == "awarded"  # an optional unit never decides

    await training_completed(cert.bootstrap, passing, "gardener")

    async def passing_assessment() -> dict[str, Any]:
        rows = ok(await cert.client.get("/assessments", params={"person_id": passing}), 200)
        return rows[0]  # type: ignore[no-any-return]

    awarded = await eventually(
        passing_assessment, lambda a: a["status"] == "awarded", what="award after training"
    )
    again = ok(await cert.client.post(f"/sessions/{code}/results", json=results), 200)
    assert all(not r["created"] for r in again)
    assert {r["person_id"]: r["certificate_number"] for r in again}[passing] == awarded[
        "certificate_number"
    ]
    changed = await cert.client.post(
        f"/sessions/{code}/results",
        json={"results": [{"person_id": failing, "units": ALL_PASS}]},
    )
    assert changed.status_code == 409, changed.text
    assert changed.json()["errors"][0]["field"] == "results.0"

    certificates = ok(await cert.client.get("/certificates", params={"person_id": failing}), 200)
    assert certificates == []
    for person in (passing, optional_only):
        held = ok(await cert.client.get("/certificates", params={"person_id": person}), 200)
        assert len(held) == 1, held
        await published_once(cert, QualificationAwarded, held[0]["certificate_number"])
    records = distinct(await read_topics(cert.bootstrap, [CERTIFICATION]))
    assert not [
        r for r in records if r.key == failing and r.ce_type == QualificationAwarded.ce_type()
    ]
    failed = [r for r in records if r.key == failing and r.ce_type == AssessmentFailed.ce_type()]
    assert len(failed) == 1 and failed[0].data["failed_units"] == ["GD-02"]


async def _set_valid_until(cert: RunningCertification, number: str, until: date) -> None:
    """Time passes: the certificate's end date moves (the only way a test can wait years)."""
    async with cert.service.db.transaction() as session_:
        await session_.exec(
            update(Certificate)  # type: ignore[call-overload]
            .where(Certificate.certificate_number == number)
            .values(valid_until=until)
        )


async def test_expiry_is_published_once_also_across_a_restart(
    cert: RunningCertification, start_certification: Starter
) -> None:
    _, number = await award(cert)
    _, later = await award(cert)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await _set_valid_until(cert, number, yesterday)
    await eventually(lambda: counts(cert), lambda c: c["expired"] == 1, what="swept")
    async with cert.anonymous() as anonymous:
        assert ok(await anonymous.get(f"/verify/{number}"), 200)["status"] == "expired"
    expired = await published_once(cert, QualificationExpired, number)
    assert expired.data["valid_until"] == yesterday.isoformat()

    await stop(cert)
    # While the service is down the second certificate passes its end date.
    await _set_valid_until(cert, later, yesterday)
    restarted = await start_certification()
    await published_once(restarted, QualificationExpired, later)  # told right after start
    assert len(await on_topic(restarted, QualificationExpired, number)) == 1
    assert (await counts(restarted))["expired"] == 2


async def test_renewal_when_due_reissues_the_credential(cert: RunningCertification) -> None:
    _, number = await award(cert)
    early = await cert.client.post(f"/certificates/{number}/renewal")
    assert early.status_code == 409  # 3 years left: not due, so a retry cannot extend twice
    soon = datetime.now(UTC).date() + timedelta(days=10)
    await _set_valid_until(cert, number, soon)
    async with cert.anonymous() as anonymous:
        before = ok(await anonymous.get(f"/credentials/{number}"), 200)
    renewed = ok(await cert.client.post(f"/certificates/{number}/renewal"), 200)
    assert renewed["valid_until"] == soon.replace(year=soon.year + 3).isoformat()
    assert (await cert.client.post(f"/certificates/{number}/renewal")).status_code == 409
    event = await published_once(cert, QualificationRenewed, number)
    assert event.data["previous_valid_until"] == soon.isoformat()
    assert event.data["valid_until"] == renewed["valid_until"]
    async with cert.anonymous() as anonymous:
        credential = ok(await anonymous.get(f"/credentials/{number}"), 200)
        await check_signature(anonymous, credential)
        assert credential["validUntil"].startswith(renewed["valid_until"])
        assert before["validUntil"].startswith(soon.isoformat())
        assert credential["proof"]["proofValue"] != before["proof"]["proofValue"]  # re-issued
    # An expired certificate renews from today.
    await _set_valid_until(cert, number, datetime.now(UTC).date() - timedelta(days=30))
    await eventually(lambda: counts(cert), lambda c: c["expired"] >= 1, what="expired")
    revived = ok(await cert.client.post(f"/certificates/{number}/renewal"), 200)
    assert revived["status"] == "valid" and revived["expired_at"] is None


async def test_erasure_drops_the_name_and_the_certificate_stays_verifiable(
    cert: RunningCertification, registry: RunningRegistry
) -> None:
    person = {
        "national_id": national_id(),
        "first_name_th": "บุญมี",
        "last_name_th": "ใจดี",
        "address": {"province_code": "34"},
    }
    person_id = ok(await registry.client.post("/people", json=person), 201)["person_id"]
    _, number = await award(cert, person_id, name="บุญมี ใจดี")
    async with cert.anonymous() as anonymous:
        assert ok(await anonymous.get(f"/verify/{number}"), 200)["holder_initials"] == "บ. จ."
        ok(await registry.client.post(f"/people/{person_id}/erasure"), 200)

        async def public() -> dict[str, Any]:
            return ok(await anonymous.get(f"/verify/{number}"), 200)  # type: ignore[no-any-return]

        after = await eventually(
            public, lambda v: v["holder_initials"] is None, what="name dropped on erasure"
        )
        assert after["status"] == "valid" and after["certificate_number"] == number
        credential = ok(await anonymous.get(f"/credentials/{number}"), 200)
        await check_signature(anonymous, credential)
        assert "identifier" not in credential["credentialSubject"]
        assert "บุญมี" not in str(credential)
    held = ok(await cert.client.get(f"/certificates/{number}"), 200)
    assert held["holder_name"] is None
    code = await session(cert)
    again = await cert.client.post(
        f"/sessions/{code}/candidates", json={"candidates": [candidate(person_id, "บุญมี ใจดี")]}
    )
    assert again.status_code == 410, again.text


async def test_keys_and_bad_input_get_clear_4xx(cert: RunningCertification) -> None:
    code = await session(cert)
    async with cert.anonymous() as anonymous:
        assert (await anonymous.post("/sessions", json={})).status_code == 401
        assert (await anonymous.get("/counts")).status_code == 401
        assert (await anonymous.get(f"/verify/{'SB-2000-NOTHERE00'}")).status_code == 404
        assert (await anonymous.get("/standards/gardener-l1")).status_code == 200  # public
    reader = ok(await cert.client.post("/api-keys", json={"name": "viewer", "role": "read"}), 201)
    as_reader = {"Authorization": f"Bearer {reader['token']}"}
    body = {"candidates": [candidate(str(uuid.uuid4()))]}
    denied = await cert.client.post(f"/sessions/{code}/candidates", json=body, headers=as_reader)
    assert denied.status_code == 403

    def field_of(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        return str(response.json()["errors"][0]["field"])

    person = str(uuid.uuid4())
    no_evidence = {"candidates": [{"person_id": person, "full_name": "a b", "route": "experience"}]}
    assert (
        field_of(await cert.client.post(f"/sessions/{code}/candidates", json=no_evidence), 422)
        == "candidates.0"
    )
    ok(
        await cert.client.post(
            f"/sessions/{code}/candidates", json={"candidates": [candidate(person)]}
        ),
        200,
    )
    results = f"/sessions/{code}/results"
    unknown_unit = {"results": [{"person_id": person, "units": {**ALL_PASS, "MC-01": True}}]}
    assert field_of(await cert.client.post(results, json=unknown_unit), 422) == "results.0.units"
    missing = {"results": [{"person_id": person, "units": {"GD-01": True}}]}
    assert field_of(await cert.client.post(results, json=missing), 422) == "results.0.units"
    stranger = {"results": [{"person_id": str(uuid.uuid4()), "units": ALL_PASS}]}
    assert field_of(await cert.client.post(results, json=stranger), 404) == "results.0.person_id"
    nowhere = "/sessions/nope/results"
    assert field_of(await cert.client.post(nowhere, json=unknown_unit), 404) == "session_code"

    session_body = {"code": "s-x", "standard_code": GARDENER, "held_on": "2026-06-07"}
    unknown = await cert.client.post("/sessions", json={**session_body, "assessor_code": "nobody"})
    assert field_of(unknown, 404) == "assessor_code"
    not_assessor = await cert.client.post(
        "/sessions", json={**session_body, "assessor_code": "ieat"}
    )
    assert field_of(not_assessor, 422) == "assessor_code"
    no_standard = {**session_body, "assessor_code": "tpqi", "standard_code": "nope-l1"}
    assert field_of(await cert.client.post("/sessions", json=no_standard), 404) == "standard_code"

    standard = {
        "code": "gardener-l4",
        "occupation": "gardener",
        "occupation_title": "Gardener",
        "level": 4,
        "title": "Gardener, level 4",
        "valid_years": 3,
        "units": [{"code": "GD-41", "title": "Plan a public garden", "required": True}],
    }
    # An occupation outside the shared vocabulary: training could offer no course for it.
    weaver = {**standard, "code": "weaver-l1", "occupation": "weaver", "level": 1}
    assert field_of(await cert.client.post("/standards", json=weaver), 422) == "occupation"
    assert (
        field_of(await cert.client.post("/standards", json={**standard, "level": 9}), 422)
        == "level"
    )
    ok(await cert.client.post("/standards", json=standard), 201)
    ok(await cert.client.post("/standards", json=standard), 200)  # the same again
    changed = await cert.client.post("/standards", json={**standard, "valid_years": 5})
    assert field_of(changed, 409) == "valid_years"
    taken = await cert.client.post("/standards", json={**standard, "code": "gardener-expert"})
    assert field_of(taken, 409) == "level"
    assert ok(await cert.client.get("/standards/gardener-l4"), 200)["source"] == "operator"


async def test_public_routes_are_rate_limited_per_client(start_certification: Starter) -> None:
    cert = await start_certification(verify_rate_limit="3/minute")
    _, number = await award_when_ready(cert)
    async with cert.anonymous() as anonymous:
        answers = [await anonymous.get(f"/verify/{number}") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        limited = await anonymous.get(f"/credentials/{number}")
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["retry_after"] == int(limited.headers["Retry-After"])
    # Operators' routes (with a key) are not limited.
    assert (await cert.client.get(f"/certificates/{number}")).status_code == 200


async def award_when_ready(cert: RunningCertification) -> tuple[str, str]:
    await eventually(lambda: counts(cert), lambda c: c["assessors"] >= 1, what="assessor")
    return await award(cert)


async def test_one_signing_key_across_restarts_and_an_operators_own(
    cert: RunningCertification, start_certification: Starter, tmp_path: Path
) -> None:
    _, number = await award(cert)
    async with cert.anonymous() as anonymous:
        first = ok(await anonymous.get(f"/credentials/{number}"), 200)
    await stop(cert)
    restarted = await start_certification()
    async with restarted.anonymous() as anonymous:
        second = ok(await anonymous.get(f"/credentials/{number}"), 200)
        assert second == first  # same key, same facts: the same signed credential
    await stop(restarted)

    from services.certification.signing import Key

    own = Key.generate()
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(own.to_pem())
    operators = await start_certification(signing_key_file=key_file)
    async with operators.anonymous() as anonymous:
        third = ok(await anonymous.get(f"/credentials/{number}"), 200)
        assert third["proof"]["verificationMethod"].endswith("#" + own.key_id)
        await check_signature(anonymous, third)
        await check_signature(anonymous, first)  # the old key is still published
