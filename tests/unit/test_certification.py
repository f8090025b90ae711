"""Certification's pure parts: the pass rule, status dates, initials, the status list
encoding, eddsa-jcs-2022 signatures and the shipped standards."""

from __future__ import annotations

import copy
import gzip
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deploy.scenarios.pilot import OCCUPATIONS_2019
from services.certification import credentials, domain, signing, status_list
from services.certification.domain import CertificateStatus, Unit
from services.certification.handlers.standards import shipped
from shared.errors import DomainError

UNITS = [Unit("A-01", "a", True), Unit("A-02", "b", True), Unit("A-03", "c", False)]


def test_pass_needs_every_required_unit_and_optional_units_never_decide() -> None:
    assert domain.decide(UNITS, {"A-01": True, "A-02": True}).passed
    assert domain.decide(UNITS, {"A-01": True, "A-02": True, "A-03": False}).passed
    failed = domain.decide(UNITS, {"A-01": True, "A-02": False, "A-03": True})
    assert not failed.passed and failed.failed_units == ("A-02",)


def test_results_must_cover_required_units_and_name_only_the_standards() -> None:
    with pytest.raises(DomainError, match="A-02"):
        domain.decide(UNITS, {"A-01": True})
    with pytest.raises(DomainError, match="Z-99"):
        domain.decide(UNITS, {"A-01": True, "A-02": True, "Z-99": True})


def test_status_by_date_and_revocation() -> None:
    until = date(2027, 6, 30)
    assert domain.status(until, False, date(2027, 6, 30)) == CertificateStatus.VALID
    assert domain.status(until, False, date(2027, 7, 1)) == CertificateStatus.EXPIRED
    assert domain.status(until, True, date(2026, 1, 1)) == CertificateStatus.REVOKED


def test_renewal_extends_from_the_later_of_end_and_today() -> None:
    assert domain.renewed_until(date(2027, 6, 30), date(2027, 3, 1), 3) == date(2030, 6, 30)
    assert domain.renewed_until(date(2027, 6, 30), date(2028, 1, 2), 3) == date(2031, 1, 2)


def test_initials_skip_thai_leading_vowels() -> None:
    assert domain.initials("สมหญิง ทดสอบ") == "ส. ท."
    assert domain.initials("เพ็ญศรี ใจดี") == "พ. จ."
    assert domain.initials("somchai  jaidee") == "S. J."
    assert domain.initials(None) is None


@pytest.mark.parametrize("revoked", [[], [0], [7, 8, 131_071], list(range(0, 131_072, 97))])
def test_status_list_round_trip(revoked: list[int]) -> None:
    encoded = status_list.encode(revoked)
    assert encoded.startswith("u") and "=" not in encoded
    bits = status_list.decode(encoded)
    assert len(bits) * 8 == status_list.MIN_ENTRIES
    assert {i for i in range(len(bits) * 8) if status_list.is_set(bits, i)} == set(revoked)


def test_status_list_bit_zero_is_the_first_bytes_high_bit() -> None:
    bits = status_list.decode(status_list.encode([0, 9]))
    assert bits[0] == 0x80 and bits[1] == 0x40
    assert gzip.decompress(gzip.compress(bits)) == bits
    with pytest.raises(ValueError):
        status_list.encode([], size=1024)  # below the spec's minimum


def _credential(key: signing.Key) -> dict[str, object]:
    issuer = credentials.Issuer("https://certs.example.th", "Test issuer")
    facts = credentials.CertificateFacts(
        number="SB-2026-ABCDE12345",
        standard_code="gardener-l1",
        standard_title="Gardener, level 1",
        occupation="gardener",
        occupation_title="Gardener",
        level=1,
        units=[Unit("GD-01", "Prepare soil", True)],
        holder_name="มาลี ศรีสุข",
        awarded_at=datetime(2026, 1, 5, tzinfo=UTC),
        credential_issued_at=datetime(2026, 1, 5, tzinfo=UTC),
        valid_until=date(2029, 1, 5),
        status_index=4242,
    )
    document = credentials.open_badge(issuer, facts)
    return credentials.signed(issuer, document, key, facts.credential_issued_at)


def test_signed_credential_verifies_and_any_change_breaks_it() -> None:
    key = signing.Key.generate()
    credential = _credential(key)
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"  # type: ignore[index]
    assert signing.verify(credential, key.public)
    tampered = copy.deepcopy(credential)
    tampered["validUntil"] = "2039-01-05T23:59:59Z"
    assert not signing.verify(tampered, key.public)
    renamed = copy.deepcopy(credential)
    renamed["credentialSubject"]["identifier"][0]["identityHash"] = "x"  # type: ignore[index]
    assert not signing.verify(renamed, key.public)
    assert not signing.verify(credential, signing.Key.generate().public)


def test_ed25519_multikey_round_trip_and_pem() -> None:
    key = signing.Key.generate()
    published = signing.multikey(key.public)
    assert published.startswith("z6Mk")
    assert signing.public_key_of(published) == key.public
    Ed25519PublicKey.from_public_bytes(signing.public_key_of(published))  # a valid key
    assert signing.Key.from_pem(key.to_pem()).public == key.public


def test_did_web_of_public_urls() -> None:
    assert credentials.did_web("https://certs.example.th") == "did:web:certs.example.th"
    assert credentials.did_web("http://127.0.0.1:8003") == "did:web:127.0.0.1%3A8003"
    assert credentials.did_web("https://x.th/tpqi/certs") == "did:web:x.th:tpqi:certs"


def test_shipped_standards_cover_the_pilots_occupations() -> None:
    standards = shipped()
    occupations = {s.occupation for s in standards}
    assert set(OCCUPATIONS_2019) <= occupations
    assert {"electrician", "plumber", "driver", "beautician"} <= occupations
    for s in standards:
        assert s.code == f"{s.occupation}-l{s.level}"
        assert any(u["required"] for u in s.units), s.code
        assert 1 <= s.level <= 8 and s.valid_years >= 1
    assert len({(s.occupation, s.level) for s in standards}) == len(standards)
