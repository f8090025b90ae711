"""Registry places, organisations, trainers and API keys: the real app on a real database and
broker, driven over HTTP; events are checked where they are staged (the outbox)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import select

from services.registry.handlers import places
from services.registry.tables import AuditEntry, Outbox, Person
from tests.support import RunningRegistry, ok


def fields_of(response: httpx.Response) -> set[str]:
    return {f["field"] for f in response.json().get("errors", [])}


async def staged(registry: RunningRegistry, event_name: str) -> list[dict[str, Any]]:
    async with registry.service.db.transaction() as session:
        rows = (await session.exec(select(Outbox))).all()
    return [json.loads(r.value) for r in rows if r.ce_type.endswith(f".{event_name}.v1")]


def village(code: str = "ubon-muang-sam-sip-01", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name_en": "Ban Nong Hai",
        "name_th": "บ้านหนองไฮ",
        "province_code": "34",
        "district": "Muang Sam Sip",
        "tourism_class": "C",
    }
    body.update(overrides)
    return body


async def test_reference_data_is_loaded_once(registry: RunningRegistry) -> None:
    client = registry.client
    provinces = ok(await client.get("/places", params={"kind": "province"}), 200)
    assert len(provinces) == 77
    assert {p["code"] for p in provinces} >= {"10", "38", "96"}
    estates = ok(await client.get("/places", params={"kind": "estate"}), 200)
    assert len(estates) == 19
    bang_poo = ok(await client.get("/places/bang-poo"), 200)
    assert (bang_poo["kind"], bang_poo["province_code"]) == ("estate", "11")
    assert ok(await client.get("/places/38"), 200)["name_th"] == "บึงกาฬ"
    assert (await client.get("/places/nowhere")).status_code == 404

    lenders = ok(await client.get("/organisations", params={"kind": "lender"}), 200)
    assert [o["code"] for o in lenders] == ["gsb", "smed", "tcg"]
    announced = await staged(registry, "OrganisationRegistered")
    assert len(announced) == 10  # every seed organisation, once

    # A second start (another replica, a restart) changes nothing and announces nothing.
    async with registry.service.db.transaction() as session:
        again = await places.upsert_reference_data(session)
    assert (again.inserted, again.updated, again.organisations_inserted) == (0, 0, 0)
    assert len(await staged(registry, "OrganisationRegistered")) == 10


async def test_village_is_registered_once_and_announced(registry: RunningRegistry) -> None:
    client = registry.client
    body = village()
    created = ok(await client.post("/places/villages", json=body), 201)
    assert created["kind"] == "village" and created["tourism_class"] == "C"
    [event] = await staged(registry, "VillageRegistered")
    assert event["village_code"] == body["code"]
    assert (event["province_code"], event["tourism_class"], event["name"]) == (
        "34",
        "C",
        "Ban Nong Hai",
    )

    # Idempotent: the same request again is a 200 and announces nothing new.
    again = ok(await client.post("/places/villages", json=body), 200)
    assert again == created
    assert len(await staged(registry, "VillageRegistered")) == 1

    conflicting = await client.post("/places/villages", json={**body, "tourism_class": "A"})
    assert conflicting.status_code == 409, conflicting.text
    assert fields_of(conflicting) == {"code"}
    taken_by_estate = await client.post("/places/villages", json=village("bang-poo"))
    assert taken_by_estate.status_code == 409

    listed = ok(await client.get("/places", params={"kind": "village", "tourism_class": "C"}), 200)
    assert [p["code"] for p in listed] == [body["code"]]
    in_ubon = ok(await client.get("/places", params={"province_code": "34"}), 200)
    assert {p["kind"] for p in in_ubon} == {"province", "village"}

    async with registry.service.db.transaction() as session:
        entries = (
            await session.exec(select(AuditEntry).where(AuditEntry.entity_id == body["code"]))
        ).all()
    assert [(e.action, e.actor) for e in entries] == [("village.registered", "bootstrap-admin")]


async def test_malformed_or_unknown_place_data_gets_field_level_422(
    registry: RunningRegistry,
) -> None:
    client = registry.client
    unknown = await client.post("/places/villages", json=village(province_code="99"))
    assert unknown.status_code == 422 and fields_of(unknown) == {"province_code"}
    malformed = await client.post(
        "/places/villages",
        json=village(code="Bad Code", province_code="9", tourism_class="E"),
    )
    assert malformed.status_code == 422
    assert fields_of(malformed) == {"code", "province_code", "tourism_class"}
    missing = await client.post("/places/villages", json={"code": "ban-x"})
    assert fields_of(missing) == {"name_en", "province_code"}

    centre = {
        "code": "tk-park-ubon",
        "name_en": "TK Park Ubon Ratchathani",
        "province_code": "34",
        "centre_type": "tk-park",
    }
    ok(await client.post("/places/learning-centres", json=centre), 201)
    ok(await client.post("/places/learning-centres", json=centre), 200)
    wrong_type = await client.post(
        "/places/learning-centres", json={**centre, "code": "x-centre", "centre_type": "zoo"}
    )
    assert wrong_type.status_code == 422 and fields_of(wrong_type) == {"centre_type"}
    assert len(ok(await client.get("/places", params={"centre_type": "tk-park"}), 200)) == 1
    assert not await staged(registry, "VillageRegistered")


async def test_organisations(registry: RunningRegistry) -> None:
    client = registry.client
    body = {
        "code": "muang-sam-sip-college",
        "kind": "training-partner",
        "name_en": "Muang Sam Sip Industrial and Community Education College",
    }
    ok(await client.post("/organisations", json=body), 201)
    ok(await client.post("/organisations", json=body), 200)
    assert (await client.post("/organisations", json={**body, "kind": "lender"})).status_code == 409
    bad = await client.post("/organisations", json={**body, "code": "x-y", "kind": "bank"})
    assert bad.status_code == 422 and fields_of(bad) == {"kind"}
    events = [
        e
        for e in await staged(registry, "OrganisationRegistered")
        if e["code"] == "muang-sam-sip-college"
    ]
    assert len(events) == 1 and events[0]["kind"] == "training-partner"
    assert ok(await client.get("/organisations/gsb"), 200)["name_th"] == "ธนาคารออมสิน"
    assert (await client.get("/organisations/nobody")).status_code == 404


async def _person(registry: RunningRegistry, status: str = "active") -> str:
    """A person row put straight in the database: this test is about trainers, not people."""
    now = datetime.now(UTC)
    person_id = str(uuid.uuid4())
    async with registry.service.db.transaction() as session:
        session.add(
            Person(
                person_id=person_id,
                status=status,
                province_code="34",
                registered_at=now,
                updated_at=now,
            )
        )
    return person_id


async def test_a_village_has_one_lead_trainer_and_four_members(registry: RunningRegistry) -> None:
    client = registry.client
    code = village()["code"]
    ok(await client.post("/places/villages", json=village()), 201)
    sage = await _person(registry)
    lead = ok(
        await client.post(
            "/trainers",
            json={
                "person_id": sage,
                "display_name": "แม่บุญมี ศรีสุข",
                "phone": "0812345678",
                "occupations": ["community-enterprise-product-processing", "health-massage"],
                "village_code": code,
                "role": "lead",
            },
        ),
        201,
    )
    assert lead["occupations"] == ["community-enterprise-product-processing", "health-massage"]

    second_lead = await client.post(
        "/trainers",
        json={
            "display_name": "Somchai",
            "occupations": ["mechanic"],
            "village_code": code,
            "role": "lead",
        },
    )
    assert second_lead.status_code == 409 and fields_of(second_lead) == {"role"}
    same_person = await client.post(
        "/trainers", json={"person_id": sage, "occupations": ["gardener"], "village_code": code}
    )
    assert same_person.status_code == 409
    assert same_person.json()["existing_trainer_id"] == lead["trainer_id"]

    for n in range(4):
        ok(
            await client.post(
                "/trainers",
                json={
                    "display_name": f"Member {n}",
                    "phone": f"08100000{n:02d}",
                    "occupations": ["housekeeper", "gardener"] if n % 2 else ["mechanic"],
                    "village_code": code,
                },
            ),
            201,
        )
    sixth = await client.post(
        "/trainers",
        json={"display_name": "One too many", "occupations": ["mechanic"], "village_code": code},
    )
    assert sixth.status_code == 409 and fields_of(sixth) == {"village_code"}

    # Trainers without a village (e.g. a DSD instructor) are not capped.
    ok(
        await client.post("/trainers", json={"display_name": "DSD", "occupations": ["plumber"]}),
        201,
    )

    team = ok(await client.get("/trainers", params={"village_code": code}), 200)
    assert len(team) == 5 and sum(t["role"] == "lead" for t in team) == 1
    gardeners = ok(await client.get("/trainers", params={"occupation": "gardener"}), 200)
    assert len(gardeners) == 2
    # Whole codes only: "massage" is not "health-massage".
    assert ok(await client.get("/trainers", params={"occupation": "massage"}), 200) == []
    read = ok(await client.get(f"/trainers/{lead['trainer_id']}"), 200)
    assert (read["display_name"], read["phone"]) == ("แม่บุญมี ศรีสุข", "0812345678")

    events = await staged(registry, "TrainerRegistered")
    assert len(events) == 6
    assert sum(e["role"] == "lead" for e in events) == 1
    assert any(e["person_id"] == sage for e in events)
    blob = json.dumps(events, ensure_ascii=False)
    for personal in ("display_name", "phone", "แม่บุญมี", "0812345678", "Member 0", "0810000001"):
        assert personal not in blob

    async with registry.anonymous() as anonymous:
        assert (await anonymous.get("/trainers")).status_code == 401
        assert (await anonymous.get(f"/trainers/{lead['trainer_id']}")).status_code == 401


async def test_trainer_references_must_exist(registry: RunningRegistry) -> None:
    client = registry.client
    erased = await _person(registry, status="erased")
    for body, field in (
        ({"person_id": str(uuid.uuid4()), "occupations": ["mechanic"]}, "person_id"),
        ({"person_id": erased, "occupations": ["mechanic"]}, "person_id"),
        (
            {"display_name": "X", "occupations": ["mechanic"], "village_code": "no-such"},
            "village_code",
        ),
        (
            {"display_name": "X", "occupations": ["mechanic"], "village_code": "bang-poo"},
            "village_code",
        ),  # an estate, not a village
        ({"occupations": ["mechanic"]}, "display_name"),
        ({"display_name": "X", "occupations": []}, "occupations"),
        ({"display_name": "X", "occupations": ["Mechanic"]}, "occupations.0"),
        ({"display_name": "X", "occupations": ["mechanic"], "role": "boss"}, "role"),
        ({"display_name": "X", "occupations": ["mechanic"], "phone": "call me"}, "phone"),
    ):
        response = await client.post("/trainers", json=body)
        assert response.status_code == 422, (body, response.text)
        assert fields_of(response) == {field}, (body, response.text)
    assert not await staged(registry, "TrainerRegistered")


async def test_api_keys_roles_and_revocation(registry: RunningRegistry) -> None:
    admin = registry.client
    reader = ok(await admin.post("/api-keys", json={"name": "dashboard", "role": "read"}), 201)
    writer = ok(await admin.post("/api-keys", json={"name": "cdd-ubon", "role": "write"}), 201)
    assert reader["token"].startswith("sbk_") and reader["role"] == "read"
    clash = await admin.post("/api-keys", json={"name": "dashboard", "role": "write"})
    assert clash.status_code == 409 and fields_of(clash) == {"name"}
    bad = await admin.post("/api-keys", json={"name": "Bad Name", "role": "root"})
    assert bad.status_code == 422 and fields_of(bad) == {"name", "role"}

    listed = ok(await admin.get("/api-keys"), 200)
    assert {k["name"] for k in listed} == {"bootstrap-admin", "dashboard", "cdd-ubon"}
    text = json.dumps(listed)
    assert "token" not in text and "secret_hash" not in text and reader["token"] not in text

    def as_key(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async with registry.anonymous() as anonymous:
        assert (await anonymous.post("/places/villages", json=village())).status_code == 401
        assert (await anonymous.get("/places")).status_code == 401

        read_key = as_key(reader["token"])
        assert (await anonymous.get("/places/10", headers=read_key)).status_code == 200
        refused = await anonymous.post("/places/villages", json=village(), headers=read_key)
        assert refused.status_code == 403
        assert (await anonymous.post("/trainers", json={}, headers=read_key)).status_code == 403
        assert (await anonymous.get("/api-keys", headers=read_key)).status_code == 403

        write_key = {"X-API-Key": writer["token"]}
        ok(await anonymous.post("/places/villages", json=village(), headers=write_key), 201)
        assert (await anonymous.get("/api-keys", headers=write_key)).status_code == 403
        async with registry.service.db.transaction() as session:
            entry = (
                await session.exec(
                    select(AuditEntry).where(AuditEntry.action == "village.registered")
                )
            ).one()
        assert entry.actor == "cdd-ubon"

        # The read key was just used (and cached); revoking it stops it at once.
        revoked = ok(await admin.delete(f"/api-keys/{reader['key_id']}"), 200)
        assert revoked["revoked_at"] is not None
        assert (await anonymous.get("/places/10", headers=read_key)).status_code == 401
        assert (await anonymous.get("/places/10", headers=write_key)).status_code == 200

    assert (await admin.delete("/api-keys/no-such-key")).status_code == 404
    bootstrap = next(k for k in listed if k["name"] == "bootstrap-admin")
    last_admin = await admin.delete(f"/api-keys/{bootstrap['key_id']}")
    assert last_admin.status_code == 409
