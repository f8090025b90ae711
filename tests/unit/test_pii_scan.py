"""The PII scanner finds a seeded person's data planted on a topic, in any of its forms, and
nothing in records that carry only ids."""

from __future__ import annotations

import pytest

from deploy.scenarios.pii import Seeded, broadcast_leaks, decoded, leaks
from deploy.scenarios.pilot import ieat_2019_pilot
from deploy.stack.topics import Observed

PERSON = Seeded(
    national_id="1101700203451",
    names=[("สมหญิง", "ทดสอบ"), ("Somying", "Thotsop")],
    phones=["0811111111"],
    addresses=[("99/1", "ถนนมิตรภาพ")],
)
CLEAN: dict[str, object] = {
    "person_id": "6f1c1a52-3c55-4f0e-9a43-0d1f3b0e2a11",
    "occupation": "housekeeper",
    "province_code": "10",
    "village": "บ้านหนองบัว",
    "product_code": "gsb-occupation-loan",
}
HEADERS = {"ce_id": "e6b8d5c2-0c43-4b1e-8f0a-3b7f9d0a1c22", "ce_type": "x.LearnerEnrolled"}


def scan(value: object, headers: dict[str, str] | None = None) -> list[str]:
    return leaks([("skillbridge.registry.v1", headers or HEADERS, value)], [PERSON])


def test_records_with_only_ids_and_places_are_clean() -> None:
    assert scan(CLEAN) == []


@pytest.mark.parametrize(
    ("planted", "what"),
    [
        ({"national_id": "1101700203451"}, "national id"),
        ({"note": "id 1-1017-00203-45-1 checked"}, "national id"),
        ({"note": "id 1 1017 00203 45 1"}, "national id"),
        ({"applicant": {"phone": "0811111111"}}, "phone"),
        ({"contact": "081-111-1111"}, "phone"),
        ({"contact": "+66 81 111 1111"}, "phone"),
        ({"contact": "66811111111"}, "phone"),
        ({"who": "สมหญิง ทดสอบ"}, "name"),
        ({"who": "Mrs SOMYING THOTSOP"}, "name"),
        ({"first_name_th": "สมหญิง"}, "name"),
        ({"last_name_en": "Thotsop"}, "name"),
        ({"address": "99/1 ถนนมิตรภาพ ไผ่ใหญ่"}, "address"),
        ({"list": [{"deep": ["x", "1101700203451"]}]}, "national id"),
    ],
)
def test_a_planted_leak_is_found(planted: dict[str, object], what: str) -> None:
    found = scan({**CLEAN, **planted})
    assert len(found) == 1 and found[0].startswith(f"skillbridge.registry.v1: {what}"), found


def test_a_leak_in_a_header_or_a_non_json_value_is_found() -> None:
    assert scan(CLEAN, {**HEADERS, "x-debug": "0811111111"})
    assert scan(decoded(b"raw text 1101700203451")) != []


def test_broadcast_leaks_reads_broadcast_topics_only() -> None:
    trainee = ieat_2019_pilot(seed=1, size=3).trainees[0]

    def observed(topic: str, data: dict[str, object]) -> Observed:
        return Observed(topic, "k", "id", "t", None, {}, data, 0.0)

    leaked: dict[str, object] = {"first_name": trainee.first_name, "nid": trainee.national_id}
    private = observed("skillbridge.private.registry-to-funding.v1", leaked)
    assert broadcast_leaks([private, observed("skillbridge.training.v1", CLEAN)], [trainee]) == []
    found = broadcast_leaks([observed("skillbridge.funding.v1", leaked)], [trainee])
    assert len(found) == 2 and all("skillbridge.funding.v1" in line for line in found)
