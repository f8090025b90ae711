"""Funding's audit log over HTTP with real keys: the operator who made a partner key and an
API key, and the lender's key behind each referral decision, read back from `GET /audit`."""

from __future__ import annotations

import uuid

from tests.integration.funding.test_funding_partner import one_referral
from tests.support import error_fields, ok
from tests.support.funding import RunningFunding, person


async def test_decisions_and_keys_are_read_back_with_their_actors(funding: RunningFunding) -> None:
    someone = await person(funding.upstream, consent=[None], occupation="housekeeper", level=1)
    referral = await one_referral(funding, someone)
    gsb = await funding.partner("gsb")  # the fixture's admin key makes it over the API
    [partner_key] = ok(await funding.client.get("/lenders/gsb/keys"), 200)
    path = f"/partner/referrals/{referral['referral_id']}"
    for step, body in (("/acknowledge", {}), ("/decision", {"decision": "approved"})):
        answer = await gsb.post(path + step, json=body, headers={"Idempotency-Key": step})
        ok(answer, 200)
    again = await gsb.post(
        path + "/acknowledge", json={}, headers={"Idempotency-Key": "/acknowledge"}
    )
    assert again.headers["Idempotent-Replayed"] == "true"  # replayed: not recorded again

    made = ok(await funding.client.post("/api-keys", json={"name": "auditor", "role": "read"}), 201)
    ok(await funding.client.delete(f"/api-keys/{made['key_id']}"), 200)

    decisions = ok(
        await funding.client.get("/audit", params={"entity_id": referral["referral_id"]}), 200
    )
    assert [(e["actor"], e["actor_key_id"], e["action"]) for e in decisions] == [
        ("lender:gsb", partner_key["key_id"], "referral.acknowledged"),
        ("lender:gsb", partner_key["key_id"], "referral.approved"),
    ]
    keys = ok(await funding.client.get("/audit", params={"entity_type": "api-key"}), 200)
    assert [(e["actor"], e["action"], e["entity_id"]) for e in keys] == [
        ("bootstrap-admin", "api-key.created", made["key_id"]),
        ("bootstrap-admin", "api-key.revoked", made["key_id"]),
    ]
    assert all(e["actor_key_id"] for e in keys)
    [partner_made] = ok(
        await funding.client.get("/audit", params={"action": "partner-key.created"}), 200
    )
    assert partner_made["entity_id"] == partner_key["key_id"]

    # Paged by id; a read key reads it; bad input and no key are problem details.
    everything = ok(await funding.client.get("/audit", params={"limit": 1000}), 200)
    assert (
        ok(await funding.client.get("/audit", params={"after_id": everything[-1]["id"]}), 200) == []
    )
    reader = funding.client.headers.copy()
    reader["Authorization"] = f"Bearer {made['token']}"
    revoked = await funding.client.get("/audit", headers=reader)
    assert revoked.status_code == 401  # revoked just now: it stops working at once
    bad = await funding.client.get("/audit", params={"limit": 0, "action": "Bad Action!"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert {"limit", "action"} <= set(error_fields(bad.json()))
    anonymous = await funding.client.get(
        "/audit", headers={"Authorization": f"Bearer sbk_{uuid.uuid4().hex}"}
    )
    assert anonymous.status_code == 401
