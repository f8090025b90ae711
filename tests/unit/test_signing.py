"""Event signatures: what a consumer accepts and refuses (docs/decisions/0013)."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from examples.partner_lender import signature as partner
from shared import signing
from shared.envelope import EncodedRecord, PoisonMessage, decode, encode
from shared.events import LoanReferralCreated, QualificationAwarded
from shared.settings import ServiceSettings
from shared.signing import PublicKeys, SignatureError


def _award() -> QualificationAwarded:
    return QualificationAwarded(
        person_id="00000000-0000-4000-8000-000000000001",
        certificate_number="SB-1",
        occupation="gardener",
        level=2,
        valid_until=date(2029, 1, 1),
        awarded_at=datetime.now(UTC),
    )


def _keys() -> PublicKeys:
    return PublicKeys.from_settings(ServiceSettings())  # the session's shared keys dir


def _decode(record: EncodedRecord, **changes: str) -> None:
    headers = {**record.headers, **changes}
    decode([(k, v.encode()) for k, v in headers.items()], record.key, record.value, keys=_keys())


def test_a_signed_record_verifies_and_travels_in_a_header_of_its_own() -> None:
    record = encode(_award(), source="/skillbridge/certification")
    header = record.headers[signing.HEADER]
    assert header.startswith("ed25519;kid=certification;sig=")
    assert not signing.HEADER.startswith("ce_")  # not a CloudEvents attribute
    _decode(record)


@pytest.mark.parametrize(
    "change",
    [
        {"ce_subject": "00000000-0000-4000-8000-000000000002"},
        {"ce_time": "2020-01-01T00:00:00Z"},
        {"ce_id": "another-id"},
        {"ce_source": "/skillbridge/registry"},
    ],
)
def test_a_tampered_attribute_is_refused(change: dict[str, str]) -> None:
    record = encode(_award(), source="/skillbridge/certification")
    with pytest.raises(PoisonMessage, match="bad signature"):
        _decode(record, **change)


def test_tampered_data_is_refused() -> None:
    record = encode(_award(), source="/skillbridge/certification")
    forged = record.value.replace(b'"level": 2', b'"level": 4')
    assert forged != record.value
    with pytest.raises(PoisonMessage, match="bad signature"):
        _decode(EncodedRecord(record.key, forged, record.headers))


def test_unsigned_and_wrong_key_and_wrong_owner_are_refused() -> None:
    record = encode(_award(), source="/skillbridge/certification")
    unsigned = {k: v for k, v in record.headers.items() if k != signing.HEADER}
    with pytest.raises(PoisonMessage, match="unsigned"):
        _decode(EncodedRecord(record.key, record.value, unsigned))

    stranger = signing.sign_with(
        Ed25519PrivateKey.generate(), "certification", unsigned, record.value
    )
    with pytest.raises(PoisonMessage, match="bad signature"):
        _decode(record, **{signing.HEADER: stranger})

    # Registry's real key, on an event type certification owns: whatever kid it claims.
    registry = signing.signer("registry")
    as_itself = signing.sign_with(registry, "registry", unsigned, record.value)
    with pytest.raises(PoisonMessage, match="owned by 'certification'"):
        _decode(record, **{signing.HEADER: as_itself})
    posing = signing.sign_with(registry, "certification", unsigned, record.value)
    with pytest.raises(PoisonMessage, match="bad signature"):
        _decode(record, **{signing.HEADER: posing})

    with pytest.raises(PoisonMessage, match="algorithm"):
        _decode(record, **{signing.HEADER: "rsa;kid=certification;sig=AAAA"})


def test_explicit_public_keys_override_the_keys_dir(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = base64.b64encode(signing.raw_public(key.public_key())).decode()
    keys = PublicKeys({"certification": raw}, tmp_path)
    headers = {"ce_type": "t", "ce_id": "1"}
    keys.verify(
        {**headers, signing.HEADER: signing.sign_with(key, "certification", headers, b"x")},
        b"x",
        "certification",
    )
    with pytest.raises(SignatureError, match="no public key known for 'training'"):
        keys.verify(
            {**headers, signing.HEADER: signing.sign_with(key, "training", headers, b"x")},
            b"x",
            "training",
        )


def test_a_key_written_after_the_consumer_started_is_found(tmp_path: Path) -> None:
    keys = PublicKeys({}, tmp_path)  # the producer has not started yet
    headers = {"ce_type": "t"}
    assert keys.get("training") is None
    settings = ServiceSettings(event_keys_dir=tmp_path)
    key = signing.signing_key("training", settings)
    keys.verify(
        {**headers, signing.HEADER: signing.sign_with(key, "training", headers, b"v")},
        b"v",
        "training",
    )
    # The producer's key replaced (rotated): the file is read again, not the cached key kept.
    (tmp_path / "training.pem").unlink()
    rotated = signing.signing_key("training", settings)
    assert signing.raw_public(rotated.public_key()) != signing.raw_public(key.public_key())
    keys.verify(
        {**headers, signing.HEADER: signing.sign_with(rotated, "training", headers, b"v")},
        b"v",
        "training",
    )


def test_key_files_are_made_once_private_and_an_explicit_key_wins(tmp_path: Path) -> None:
    settings = ServiceSettings(event_keys_dir=tmp_path)
    first = signing.signing_key("funding", settings)
    again = signing.signing_key("funding", settings)
    assert signing.raw_public(first.public_key()) == signing.raw_public(again.public_key())
    assert stat.S_IMODE((tmp_path / "funding.pem").stat().st_mode) == 0o600
    assert signing.load_public_key((tmp_path / "funding.pub").read_text()) is not None

    given = Ed25519PrivateKey.generate()
    pem = given.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = base64.b64encode(
        given.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()
    for text in (pem, raw):
        explicit = ServiceSettings(event_keys_dir=tmp_path, event_signing_key=text)
        loaded = signing.signing_key("funding", explicit)
        assert signing.raw_public(loaded.public_key()) == signing.raw_public(given.public_key())


def test_the_partner_example_verifies_funding_records_and_refuses_altered_ones() -> None:
    event = LoanReferralCreated(
        person_id="00000000-0000-4000-8000-000000000001",
        referral_id="r-1",
        lender_code="gsb",
        product_code="gsb-occupation-loan",
        occupation="gardener",
        level=2,
        certificate_number="SB-1",
        matched_clauses=["level >= 2"],
        created_at=datetime.now(UTC),
    )
    record = encode(event, source="/skillbridge/funding")
    document = signing.public_document("funding", signing.signer("funding"))
    assert document["jwk"] == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": document["public_key"],
        "kid": "funding",
        "use": "sig",
    }
    key = partner.load_key(str(document["public_key"]))
    raw = {k: v.encode() for k, v in record.headers.items()}
    assert partner.verify(key, raw, record.value)
    assert not partner.verify(key, raw, record.value.replace(b"gsb", b"kbk"))
    assert not partner.verify(key, {**raw, "ce_subject": b"someone-else"}, record.value)
    assert not partner.verify(key, {k: v for k, v in raw.items() if k != "sb-signature"}, b"")
    other = signing.sign_with(signing.signer("registry"), "funding", record.headers, record.value)
    assert not partner.verify(key, {**raw, "sb-signature": other.encode()}, record.value)


def test_the_snippet_in_the_decision_record_verifies_a_funding_record() -> None:
    text = (Path(__file__).parents[2] / "docs/decisions/0013-signed-events.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "0013-signed-events.md", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    record = encode(
        LoanReferralCreated(
            person_id="00000000-0000-4000-8000-000000000001",
            referral_id="r-2",
            lender_code="gsb",
            product_code="gsb-occupation-loan",
            occupation="gardener",
            level=2,
            certificate_number="SB-2",
            matched_clauses=[],
            created_at=datetime.now(UTC),
        ),
        source="/skillbridge/funding",
    )
    key = signing.signer("funding").public_key()
    raw = {k: v.encode() for k, v in record.headers.items()}
    assert verify(key, raw, record.value) is True
    assert verify(key, raw, record.value + b" ") is False
    assert verify(key, {k: v for k, v in raw.items() if k != signing.HEADER}, record.value) is False
