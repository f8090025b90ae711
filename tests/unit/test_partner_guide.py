"""docs/partners.md stays true: its programs compile and do what it says against the real
signers (events, webhooks, certificates), and every route and event type it names exists.

The guide's Python programs are the blocks marked `<!-- file: NAME.py -->`; they are written
to a folder and imported as a partner would save them. What needs a running stack (Kafka,
HTTP) is not run here: the guide says what was run by hand.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from services.certification import credentials, status_list
from services.certification import signing as cert_signing
from services.certification.__main__ import build as build_certification
from services.certification.domain import Unit
from services.certification.settings import CertificationSettings
from services.funding import webhooks
from services.funding.__main__ import build as build_funding
from services.funding.settings import FundingSettings
from shared import acls, signing
from shared.envelope import encode
from shared.events import (
    CATALOGUE,
    EVENT_TYPES,
    LoanReferralHeld,
    LoanReferralShared,
    ReferralEvent,
)
from shared.topics import partner_topic

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "partners.md"
JAVA = ROOT / "examples" / "partner_lender" / "SbSignature.java"
PROGRAMS = {
    "partner_signature.py",
    "partner_consumer.py",
    "partner_webhook.py",
    "partner_api.py",
    "partner_certificate.py",
}
MARKED = re.compile(r"<!-- file: (\S+\.py) -->\n```python\n(.*?)\n```", re.S)


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def programs() -> dict[str, str]:
    return dict(MARKED.findall(guide()))


@pytest.fixture(scope="module")
def guide_modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    folder = tmp_path_factory.mktemp("partner_guide")
    for name, source in programs().items():
        (folder / name).write_text(source + "\n", encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield {name: importlib.import_module(name.removesuffix(".py")) for name in PROGRAMS}
    finally:
        sys.path.remove(str(folder))
        for name in PROGRAMS:
            sys.modules.pop(name.removesuffix(".py"), None)


def test_every_python_block_is_a_named_program_and_compiles() -> None:
    text = guide()
    assert text.count("```python") == len(MARKED.findall(text)), "an unmarked Python block"
    found = programs()
    assert set(found) == PROGRAMS
    for name, source in found.items():
        compile(source, name, "exec")  # SyntaxError names the program and line


# --- signatures on the topic ----------------------------------------------------------------


def shared_record() -> tuple[dict[str, bytes], bytes]:
    """A record as funding writes it on a partner topic, signed with funding's key."""
    event = LoanReferralShared(
        person_id="00000000-0000-4000-8000-000000000001",
        referral_id="r-1",
        lender_code="gsb",
        product_code="gsb-beautician-suphanburi",
        occupation="beautician",
        level=2,
        certificate_number="SB-2026-0000000001",
        matched_clauses=["level 2 >= 1"],
        shared_at=datetime.now(UTC),
    )
    record = encode(event, source="/skillbridge/funding")
    return {k: v.encode() for k, v in record.headers.items()}, record.value


def funding_public_key() -> str:
    """The `public_key` member of GET /.well-known/event-signing-key on funding."""
    document = signing.public_document("funding", signing.signer("funding"))
    return str(document["public_key"])


def test_the_signature_check_accepts_funding_records_and_refuses_changed_ones(
    guide_modules: dict[str, ModuleType],
) -> None:
    check = guide_modules["partner_signature.py"]
    key = check.load_key(funding_public_key())
    headers, value = shared_record()
    assert check.verify(key, headers, value)
    assert not check.verify(key, headers, value.replace(b'"level": 2', b'"level": 3'))
    assert not check.verify(key, {**headers, "ce_id": b"another"}, value)
    assert not check.verify(key, {k: v for k, v in headers.items() if k != "sb-signature"}, value)
    other = signing.public_document("registry", signing.signer("registry"))["public_key"]
    assert not check.verify(check.load_key(str(other)), headers, value)


@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK: SbSignature.java not run")
def test_the_java_signature_check_agrees(tmp_path: Path) -> None:
    headers, value = shared_record()
    lines = "".join(f"{name}\t{raw.decode()}\n" for name, raw in headers.items())
    (tmp_path / "headers").write_text(lines, encoding="utf-8")

    def java(record_value: bytes) -> subprocess.CompletedProcess[str]:
        (tmp_path / "value").write_bytes(record_value)
        argv = ["java", str(JAVA), funding_public_key(), "headers", "value"]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    genuine = java(value)
    assert (genuine.returncode, genuine.stdout.strip()) == (0, "verified"), genuine.stderr
    changed = java(value.replace(b'"level": 2', b'"level": 3'))
    assert (changed.returncode, changed.stdout.strip()) == (1, "refused"), changed.stderr


# --- consuming and processing once ----------------------------------------------------------


def test_the_consumer_settings_are_what_the_partner_acls_allow(
    guide_modules: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9094")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    config = guide_modules["partner_consumer.py"].kafka_config("gsb")
    grants = acls.partner_grants("gsb")
    principal = acls.partner_principal("gsb")
    assert config["sasl.username"] == acls.partner_username("gsb")
    assert config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert acls.allowed(grants, principal, "GROUP", str(config["group.id"]), "READ")
    assert acls.allowed(grants, principal, "TOPIC", partner_topic("gsb"), "READ")
    # The guide's ACL table, in the names of shared/acls.py.
    assert f"| TOPIC | LITERAL | `{acls.PARTNER_TOPIC_PREFIX}<code>.v1` | READ |" in guide()
    assert acls.partner_group_prefix("gsb") == "partner-gsb."
    assert "| GROUP | PREFIXED | `partner-<code>.` | READ |" in guide()
    assert len(grants) == 2  # and nothing else: the guide says "exactly two"


def test_an_event_is_processed_once_by_ce_id(guide_modules: dict[str, ModuleType]) -> None:
    consumer = guide_modules["partner_consumer.py"]
    db = consumer.open_inbox(":memory:")
    data = {"referral_id": "r-1", "certificate_number": "SB-1"}
    assert consumer.process_once(db, "id-1", LoanReferralShared.ce_type(), data)
    assert not consumer.process_once(db, "id-1", LoanReferralShared.ce_type(), data)
    assert consumer.process_once(db, "id-2", LoanReferralShared.ce_type(), data)
    assert db.execute("SELECT count(*) FROM inbox").fetchone() == (2,)


def test_a_failed_handler_leaves_the_ce_id_unrecorded(
    guide_modules: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = guide_modules["partner_consumer.py"]
    db = consumer.open_inbox(":memory:")

    def fail(db: sqlite3.Connection, ce_type: str, data: dict[str, Any]) -> None:
        raise RuntimeError("the lender's system is down")

    monkeypatch.setattr(consumer, "handle", fail)
    with pytest.raises(RuntimeError):
        consumer.process_once(db, "id-1", LoanReferralShared.ce_type(), {"referral_id": "r"})
    assert db.execute("SELECT count(*) FROM inbox").fetchone() == (0,)  # retried next time


# --- webhooks and the partner API -----------------------------------------------------------


def test_the_webhook_receiver_checks_funding_signatures_and_drops_repeats(
    guide_modules: dict[str, ModuleType],
) -> None:
    receiver = guide_modules["partner_webhook.py"]
    secret = webhooks.new_secret()
    headers, value = shared_record()
    event = next(c for c in CATALOGUE if c.ce_type() == headers["ce_type"].decode())
    body = webhooks.structured(
        event.model_validate_json(value),
        event_id=headers["ce_id"].decode(),
        source="/skillbridge/funding",
        time=datetime.now(UTC),
    )
    sent = webhooks.signed_headers(secret, headers["ce_id"].decode(), body, datetime.now(UTC))
    first = receiver.receive(secret, body.encode(), sent)
    assert first["id"] == headers["ce_id"].decode()  # webhook-id is the topic's ce_id
    assert first["type"] == LoanReferralShared.ce_type()
    assert receiver.receive(secret, body.encode(), sent) is None  # a retry
    with pytest.raises(WebhookVerificationError):
        receiver.receive(webhooks.new_secret(), body.encode(), sent)


def test_the_api_client_sends_one_idempotency_key_per_referral_and_step(
    guide_modules: dict[str, ModuleType],
) -> None:
    seen: list[httpx.Request] = []

    def funding(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "acknowledged"})

    api = guide_modules["partner_api.py"].PartnerApi("http://funding", "gsb", "sbp_x")
    api.http = httpx.Client(
        base_url=api.http.base_url, headers=api.http.headers, transport=httpx.MockTransport(funding)
    )
    api.step("r-1", "acknowledge", {})
    api.step("r-1", "acknowledge", {})
    assert [r.url.path for r in seen] == ["/partner/referrals/r-1/acknowledge"] * 2
    assert {r.headers["Idempotency-Key"] for r in seen} == {"gsb-acknowledge-r-1"}
    assert seen[0].headers["Authorization"] == "Bearer sbp_x"


# --- certificates ---------------------------------------------------------------------------


def certificate(index: int, revoked: list[int]) -> tuple[dict[str, Any], ...]:
    """A credential, the issuer's DID document and its status list, as certification signs."""
    key = cert_signing.Key.generate()
    issuer = credentials.Issuer("https://certs.example.th", "Test issuer")
    issued = datetime(2026, 1, 5, tzinfo=UTC)
    facts = credentials.CertificateFacts(
        number="SB-2026-ABCDE12345",
        standard_code="beautician-l1",
        standard_title="Beautician, level 1",
        occupation="beautician",
        occupation_title="Beautician",
        level=1,
        units=[Unit("BT-01", "Keep salon hygiene and safety", True)],
        holder_name="มาลี ศรีสุข",
        awarded_at=issued,
        credential_issued_at=issued,
        valid_until=date(2029, 1, 5),
        status_index=index,
    )
    credential = credentials.signed(issuer, credentials.open_badge(issuer, facts), key, issued)
    did = credentials.did_document(issuer, [(key.key_id, cert_signing.multikey(key.public))])
    listed = credentials.status_list(issuer, status_list.encode(revoked), issued)
    return credential, did, credentials.signed(issuer, listed, key, issued)


def test_the_offline_certificate_check(guide_modules: dict[str, ModuleType]) -> None:
    check = guide_modules["partner_certificate.py"].check
    now = datetime(2027, 6, 1, tzinfo=UTC)
    credential, did, listed = certificate(4242, revoked=[7])
    assert check(credential, did, listed, now) == "valid"
    assert check(credential, did, listed, datetime(2030, 1, 1, tzinfo=UTC)) == "expired"
    assert check(credential, did, listed, datetime(2025, 1, 1, tzinfo=UTC)) == "not-yet-valid"
    tampered = copy.deepcopy(credential)
    tampered["validUntil"] = "2039-01-05T23:59:59Z"
    assert check(tampered, did, listed, now) == "forged"
    _, other_did, _ = certificate(4242, revoked=[])  # another issuer key, same DID
    assert check(credential, other_did, listed, now) == "forged"
    credential, did, listed = certificate(4242, revoked=[4242])
    assert check(credential, did, listed, now) == "revoked"


def test_did_web_urls(guide_modules: dict[str, ModuleType]) -> None:
    url = guide_modules["partner_certificate.py"].did_web_url
    assert url(credentials.did_web("https://certs.example.th")) == (
        "https://certs.example.th/.well-known/did.json"
    )
    assert url(credentials.did_web("https://x.th/tpqi/certs")) == "https://x.th/tpqi/certs/did.json"


# --- routes and event types the guide names ---------------------------------------------------


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path)


def test_every_route_the_guide_names_exists() -> None:
    memory = "sqlite+aiosqlite:///:memory:"
    paths = {
        _shape(path)
        for app in (
            build_funding(FundingSettings(database_url=memory)).app,
            build_certification(CertificationSettings(database_url=memory)).app,
        )
        for path in app.openapi()["paths"]
    }
    named = re.findall(r"`(?:GET|POST|DELETE) (?:<funding>)?(/[^\s`?]*)", guide())
    assert len(named) >= 12  # the partner API, keys, webhooks, certificates
    assert {_shape(path) for path in named} <= paths


def test_every_event_type_the_guide_names_is_in_the_catalogue() -> None:
    named = set(re.findall(r"skillbridge\.[a-z]+\.[A-Z]\w+\.v\d+", guide()))
    assert named and named <= set(EVENT_TYPES)
    # ...and every type a lender can receive is described.
    on_partner_topics = {
        cls.ce_type()
        for cls in CATALOGUE
        if issubclass(cls, ReferralEvent) and cls is not LoanReferralHeld
    }
    assert on_partner_topics <= named
    # ...and the AsyncAPI document puts exactly these on the lender's topic.
    asyncapi = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    prefix = "skillbridge.partner.{lender_code}.v1:"
    on_channel = {
        f"skillbridge.funding.{key.removeprefix(prefix)}.v1"
        for key in asyncapi["channels"]
        if key.startswith(prefix)
    }
    assert on_channel == on_partner_topics
