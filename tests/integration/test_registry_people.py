"""Registry people, consent, households, merges, erasure, audit and keys: the real app on
a real database and broker, driven over HTTP."""

from __future__ import annotations

import json
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from services.registry.handlers import consent
from services.registry.tables import AuditEntry, Outbox, Person
from shared.events import PERSONAL_DATA_FIELDS
from tests.support import RunningRegistry, error_fields, ok
from tests.support.registry import person


async def staged(registry: RunningRegistry, ce_type_suffix: str) -> list[dict[str, Any]]:
    async with registry.service.db.transaction() as session:
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    return [json.loads(r.value) for r in rows if r.ce_type.endswith(f".{ce_type_suffix}.v1")]


async def test_register_read_and_events_carry_no_personal_data(registry: RunningRegistry) -> None:
    body = person()
    created = ok(await registry.client.post("/people", json=body), 201)
    read = ok(await registry.client.get(f"/people/{created['person_id']}"), 200)
    assert read["national_id"] == body["national_id"]
    assert read["first_name_th"] == "มาลี"
    assert read["birth_date"] == "1987-05-12"  # BE 2530 stored as ISO
    assert read["address"]["district"] == "ม่วงสามสิบ"

    [event] = [
        e for e in await staged(registry, "PersonRegistered") if e["person_id"] == read["person_id"]
    ]
    assert event["province_code"] == "34" and event["birth_year"] == 1987
    assert not set(event) & PERSONAL_DATA_FIELDS
    blob = json.dumps(event, ensure_ascii=False)
    for value in (body["national_id"], "มาลี", "Malee", "0812345678", "99/1", "ไผ่ใหญ่"):
        assert value not in blob


async def test_exact_duplicate_points_at_the_existing_record(registry: RunningRegistry) -> None:
    body = person()
    first = ok(await registry.client.post("/people", json=body), 201)
    again = await registry.client.post("/people", json={**body, "first_name_th": "อื่น"})
    assert again.status_code == 409
    assert again.json()["existing_person_id"] == first["person_id"]
    assert again.json()["errors"][0]["field"] == "national_id"


async def test_likely_duplicate_is_flagged_then_merged_and_others_are_told(
    registry: RunningRegistry,
) -> None:
    first = ok(await registry.client.post("/people", json=person()), 201)
    # Same name, birth date and province, another ID (a typo at a village desk, say).
    second = ok(
        await registry.client.post(
            "/people",
            json=person(phone=None, consents=[{"purpose": "loan-referral", "lender_code": "gsb"}]),
        ),
        201,
    )
    assert second["possible_duplicates"] == [first["person_id"]]
    flags = ok(await registry.client.get("/duplicates"), 200)
    assert [(f["person_id"], f["candidate_id"]) for f in flags] == [
        (second["person_id"], first["person_id"])
    ]

    survivor = ok(
        await registry.client.post(
            "/merges", json={"survivor_id": first["person_id"], "merged_id": second["person_id"]}
        ),
        200,
    )
    assert [c["lender_code"] for c in survivor["consents"]] == ["gsb"]  # consent moved
    retired = await registry.client.get(f"/people/{second['person_id']}")
    assert retired.status_code == 200 and retired.json()["status"] == "merged"
    assert retired.json()["national_id"] is None
    assert ok(await registry.client.get("/duplicates"), 200) == []
    merged_events = [
        e for e in await staged(registry, "PersonMerged") if e["person_id"] == second["person_id"]
    ]
    assert merged_events == [
        {
            "person_id": second["person_id"],
            "survivor_id": first["person_id"],
            "merged_at": merged_events[0]["merged_at"],
        }
    ]
    # A retired record cannot be merged again or changed.
    again = await registry.client.post(
        "/merges", json={"survivor_id": first["person_id"], "merged_id": second["person_id"]}
    )
    assert again.status_code == 409


async def test_consent_has_a_receipt_and_is_withdrawn_once(registry: RunningRegistry) -> None:
    created = ok(await registry.client.post("/people", json=person()), 201)
    pid = created["person_id"]
    granted = ok(
        await registry.client.post(
            f"/people/{pid}/consents",
            json={"lender_code": "gsb", "data_categories": ["contact", "identity"]},
        ),
        201,
    )
    receipt = granted["consent_id"]
    withdrawn = ok(await registry.client.post(f"/people/{pid}/consents/{receipt}/withdrawal"), 200)
    assert withdrawn["withdrawal_reason"] == "withdrawn"
    twice = await registry.client.post(f"/people/{pid}/consents/{receipt}/withdrawal")
    assert twice.status_code == 409
    events = [e for e in await staged(registry, "ConsentWithdrawn") if e["person_id"] == pid]
    assert [(e["consent_id"], e["reason"]) for e in events] == [(receipt, "withdrawn")]
    granted_events = [e for e in await staged(registry, "ConsentGranted") if e["person_id"] == pid]
    assert granted_events[0]["data_categories"] == ["contact", "identity"]


async def test_consent_names_only_a_lender_the_registry_knows(registry: RunningRegistry) -> None:
    pid = ok(await registry.client.post("/people", json=person()), 201)["person_id"]
    for code, why in (("kbank", "no such organisation"), ("tpqi", "kind assessor")):
        refused = await registry.client.post(f"/people/{pid}/consents", json={"lender_code": code})
        assert refused.status_code == 422, refused.text
        assert error_fields(refused.json()) == ["lender_code"] and why in refused.text
    at_registration = await registry.client.post(
        "/people", json=person(consents=[{"lender_code": "gsb"}, {"lender_code": "kbank"}])
    )
    assert at_registration.status_code == 422
    assert error_fields(at_registration.json()) == ["consents.1.lender_code"]
    # A fund, and a lender an operator registered, are known.
    ok(
        await registry.client.post(f"/people/{pid}/consents", json={"lender_code": "village-fund"}),
        201,
    )
    ok(
        await registry.client.post(
            "/organisations", json={"code": "kbank", "kind": "lender", "name_en": "Kasikornbank"}
        ),
        201,
    )
    ok(await registry.client.post(f"/people/{pid}/consents", json={"lender_code": "kbank"}), 201)
    granted = [e for e in await staged(registry, "ConsentGranted") if e["person_id"] == pid]
    assert sorted(e["lender_code"] for e in granted) == ["kbank", "village-fund"]


async def test_expired_consent_is_ended_by_the_sweep(registry: RunningRegistry) -> None:
    pid = ok(await registry.client.post("/people", json=person()), 201)["person_id"]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    receipt = ok(
        await registry.client.post(f"/people/{pid}/consents", json={"expires_at": soon}), 201
    )["consent_id"]
    async with registry.service.db.transaction() as session:
        assert await consent.expire_due(session, now=datetime.now(UTC)) == 0
    async with registry.service.db.transaction() as session:
        ended = await consent.expire_due(session, now=datetime.now(UTC) + timedelta(days=2))
    assert ended >= 1
    events = [e for e in await staged(registry, "ConsentWithdrawn") if e["consent_id"] == receipt]
    assert [e["reason"] for e in events] == ["expired"]


async def test_household_income_history_and_bands(registry: RunningRegistry) -> None:
    members = [
        ok(await registry.client.post("/people", json=person()), 201)["person_id"] for _ in range(2)
    ]
    code = f"hh-{secrets.token_hex(4)}"
    household = ok(
        await registry.client.post(
            "/households",
            json={
                "household_code": code,
                "province_code": "34",
                "members": members,
                "monthly_income": 3_500,
            },
        ),
        201,
    )
    hid = household["household_id"]
    assert household["members"] == sorted(members)
    assert (household["income_band"], household["low_income"]) == ("B02", True)
    later = ok(
        await registry.client.post(f"/households/{hid}/income", json={"monthly_income": 12_000}),
        201,
    )
    assert [r["monthly_income"] for r in later["income_history"]] == [3_500, 12_000]
    assert (later["income_band"], later["low_income"]) == ("B06", False)

    again = await registry.client.post(
        "/households", json={"household_code": code, "province_code": "34"}
    )
    assert again.status_code == 409 and again.json()["existing_household_id"] == hid
    elsewhere = await registry.client.post(
        "/households", json={"province_code": "34", "members": [members[0]]}
    )
    assert elsewhere.status_code == 409  # one household per person

    events = [
        e for e in await staged(registry, "HouseholdIncomeRecorded") if e["household_id"] == hid
    ]
    assert [(e["income_band"], e["band_floor"], e["low_income"]) for e in events] == [
        ("B02", 2_000, True),
        ("B06", 10_000, False),
    ]
    assert all("3500" not in json.dumps(e) and "12000" not in json.dumps(e) for e in events)


async def test_erasure_removes_personal_data_and_tells_others(registry: RunningRegistry) -> None:
    body = person(consents=[{"lender_code": "gsb"}])
    pid = ok(await registry.client.post("/people", json=body), 201)["person_id"]
    ok(await registry.client.patch(f"/people/{pid}", json={"phone": "0899999999"}), 200)
    exported = ok(await registry.client.get(f"/people/{pid}/export"), 200)
    assert exported["person"]["national_id"] == body["national_id"]
    assert [a["action"] for a in exported["audit"]] == ["person.registered", "person.updated"]

    erased = ok(await registry.client.post(f"/people/{pid}/erasure"), 200)
    assert erased["status"] == "erased"
    for path in (f"/people/{pid}", f"/people/{pid}/export"):
        gone = await registry.client.get(path)
        assert gone.status_code == 410, path
        assert body["national_id"] not in gone.text and "มาลี" not in gone.text
    async with registry.service.db.transaction() as session:
        row = await session.get(Person, pid)
        assert row is not None
        personal = {k: v for k, v in row.model_dump().items() if k in PERSONAL_DATA_FIELDS}
        assert set(personal.values()) == {None}
        audit_rows = (await session.exec(select(AuditEntry))).all()
    audit_blob = json.dumps([a.model_dump(mode="json") for a in audit_rows], ensure_ascii=False)
    assert body["national_id"] not in audit_blob and "มาลี" not in audit_blob
    assert [e["person_id"] for e in await staged(registry, "PersonErased")].count(pid) == 1
    # The same national ID may register again later: a new person, nothing linked.
    again = ok(await registry.client.post("/people", json=body), 201)
    assert again["person_id"] != pid


async def test_audit_says_who_changed_what_and_when(registry: RunningRegistry) -> None:
    pid = ok(await registry.client.post("/people", json=person()), 201)["person_id"]
    ok(
        await registry.client.patch(
            f"/people/{pid}", json={"phone": "0811111111", "first_name_en": "Mali"}
        ),
        200,
    )
    entries = ok(
        await registry.client.get("/audit", params={"entity_type": "person", "entity_id": pid}),
        200,
    )
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("person.registered", "bootstrap-admin"),
        ("person.updated", "bootstrap-admin"),
    ]
    assert entries[1]["fields"] == "first_name_en,phone"
    assert "0811111111" not in json.dumps(entries)


async def test_keys_and_roles(registry: RunningRegistry) -> None:
    async with registry.anonymous() as anonymous:
        missing = await anonymous.post("/people", json=person())
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.get("/counts", headers={"Authorization": "Bearer sbk_nope"})
        assert wrong.status_code == 401
        assert (await anonymous.get("/people/x")).status_code == 401  # reads need a key too


async def test_malformed_person_gets_field_level_422(registry: RunningRegistry) -> None:
    response = await registry.client.post(
        "/people",
        json=person(national_id="1101700207031", birth_date="31/02/2530", address={}),
    )
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["errors"]}
    assert fields == {"national_id", "birth_date", "address.province_code"}
    unknown_province = await registry.client.post(
        "/people", json=person(address={"province_code": "99"})
    )
    assert unknown_province.status_code == 422
    assert unknown_province.json()["errors"][0]["field"] == "address.province_code"


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\ufeff"])
async def test_a_copy_with_invisible_characters_is_refused_and_a_decomposed_one_is_flagged(
    registry: RunningRegistry, char: str
) -> None:
    hidden = await registry.client.post("/people", json=person(first_name_th=f"มา{char}ลี"))
    body = ok(hidden, 422)
    assert [e["field"] for e in body["errors"]] == ["first_name_th"]
    assert f"U+{ord(char):04X}" in body["errors"][0]["message"]
    # The same name in decomposed form (NFD) is stored as NFC, so it matches like a copy.
    first = ok(await registry.client.post("/people", json=person(first_name_th="Zoë")), 201)
    decomposed = unicodedata.normalize("NFD", "Zoë")
    assert decomposed != "Zoë"
    second = ok(await registry.client.post("/people", json=person(first_name_th=decomposed)), 201)
    assert second["possible_duplicates"] == [first["person_id"]]
    stored = ok(await registry.client.get(f"/people/{second['person_id']}"), 200)
    assert stored["first_name_th"] == "Zoë"


async def test_the_key_comes_before_the_body_and_stats_need_a_key(
    registry: RunningRegistry,
) -> None:
    async with registry.anonymous() as anonymous:
        keyless = await anonymous.post("/people", json={"birth_date": {}})
        assert keyless.status_code == 401, keyless.text
        assert keyless.headers["content-type"] == "application/problem+json"
        assert (await anonymous.get("/stats")).status_code == 401
        too_big = await anonymous.post(
            "/people", content=b"{" + b" " * (1024 * 1024) + b"}", headers={"X-API-Key": "x"}
        )
        assert too_big.status_code == 413
        assert too_big.json()["type"].endswith("/payload-too-large")
    stats = ok(await registry.client.get("/stats"), 200)
    assert stats["service"] == "registry"
    bad = ok(await registry.client.post("/people", json=person(birth_date=False)), 422)
    assert [e["field"] for e in bad["errors"]] == ["birth_date"]
