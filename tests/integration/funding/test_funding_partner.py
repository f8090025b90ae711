"""Lenders through their own channels: the partner API with per-lender keys, their topics
read with a plain Kafka client, the lifecycle, idempotency, expiry, cool-down, erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import select

from deploy.stack.topics import distinct, read_topics
from services.funding.tables import SharedData
from shared.events import (
    ConsentWithdrawn,
    LoanApproved,
    LoanDisbursed,
    LoanReferralAcknowledged,
    LoanReferralCancelled,
    LoanReferralCreated,
    LoanReferralDelivered,
    LoanReferralExpired,
    LoanReferralShared,
    PersonalDataShared,
    PersonErased,
    PersonMerged,
    QualificationRevoked,
    SharedPersonalData,
)
from shared.topics import FUNDING
from tests.support import error_fields, eventually, ok
from tests.support.funding import RunningFunding, Someone, award, consent_granted, person


async def one_referral(funding: RunningFunding, someone: Someone, **params: Any) -> dict[str, Any]:
    rows = await eventually(
        lambda: funding.referrals(person_id=someone.person_id, **params),
        lambda rows: len(rows) == 1 and rows[0]["status"] != "held",
        what="the person's referral",
    )
    return rows[0]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_a_partner_sees_and_decides_only_its_own(funding: RunningFunding) -> None:
    up = funding.upstream
    # gsb-occupation-loan (housekeeper) and tcg-micro-guarantee (security guard, level 2).
    for_gsb = await person(up, consent=[None], occupation="housekeeper", level=1)
    for_tcg = await person(up, consent=[None], occupation="security-guard", level=2)
    gsb_ref = await one_referral(funding, for_gsb)
    tcg_ref = await one_referral(funding, for_tcg)
    assert (gsb_ref["lender_code"], tcg_ref["lender_code"]) == ("gsb", "tcg")
    gsb, tcg = await funding.partner("gsb"), await funding.partner("tcg")

    listed = ok(await gsb.get("/partner/referrals"), 200)
    assert [r["referral_id"] for r in listed] == [gsb_ref["referral_id"]]
    # Another lender's referral does not exist for this key: read, acknowledge, decide, pay.
    other = f"/partner/referrals/{tcg_ref['referral_id']}"
    assert (await gsb.get(other)).status_code == 404
    for path, body in (
        ("/acknowledge", {}),
        ("/decision", {"decision": "approved", "amount": 10_000}),
        ("/disbursement", {"amount": 10_000, "disbursed_on": "2026-12-01"}),
    ):
        response = await gsb.post(other + path, json=body, headers=key())
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == f"no referral {tcg_ref['referral_id']}"
    unknown = await gsb.get(f"/partner/referrals/{uuid.uuid4()}")
    assert unknown.status_code == 404  # the same answer as for another lender's: no leak
    assert (await tcg.get(other)).status_code == 200
    assert (
        await funding.client.get(other)
    ).status_code == 401  # operator keys are not partner keys
    no_key = await gsb.get("/partner/referrals", headers={"Authorization": "Bearer sbp_nope"})
    assert no_key.status_code == 401
    # The key is checked before the body: a bad body with a bad key is told 401, not 422.
    bad_body = {"decision": "maybe", "amount": 2**64}
    unknown_key = {"Authorization": "Bearer sbp_nope", **key()}
    keyless = await gsb.post(f"{other}/decision", json=bad_body, headers=unknown_key)
    assert keyless.status_code == 401, keyless.text
    assert keyless.headers["content-type"] == "application/problem+json"

    # Each topic carries its own lender's referrals only, read with a plain Kafka client.
    for lender, someone in (("gsb", for_gsb), ("tcg", for_tcg)):
        records = await eventually(
            lambda lender=lender: funding.partner_topic(lender),  # type: ignore[misc]
            lambda found: any(o.ce_type == LoanReferralShared.ce_type() for o in found),
            what=f"{lender} topic",
        )
        assert {o.key for o in records} == {someone.person_id}
        assert {o.data["lender_code"] for o in records} == {lender}


async def test_lifecycle_through_the_partner_api_with_idempotency(funding: RunningFunding) -> None:
    up = funding.upstream
    someone = await person(up, consent=[None], occupation="housekeeper", level=1)
    referral = await one_referral(funding, someone)
    gsb = await funding.partner("gsb")
    path = f"/partner/referrals/{referral['referral_id']}"

    # Deciding before acknowledging is illegal: 409, and nothing changes.
    early = await gsb.post(path + "/decision", json={"decision": "approved"}, headers=key())
    assert early.status_code == 409, early.text
    assert early.json()["allowed"]
    unchanged = ok(await funding.client.get(f"/referrals/{referral['referral_id']}"), 200)
    assert unchanged["status"] in ("created", "delivered") and unchanged["decided_at"] is None

    # A write without an Idempotency-Key is refused.
    missing = await gsb.post(path + "/acknowledge", json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "Idempotency-Key"

    ack_key = key()
    first = ok(await gsb.post(path + "/acknowledge", json={}, headers=ack_key), 200)
    assert first["status"] == "acknowledged" and first["delivered_at"] is not None
    again = await gsb.post(path + "/acknowledge", json={}, headers=ack_key)
    assert again.status_code == 200 and again.json() == first
    assert again.headers["Idempotent-Replayed"] == "true"
    # A different body under a used key: 422, and not applied.
    clash = await gsb.post(path + "/acknowledge", json={"note": "other"}, headers=ack_key)
    assert clash.status_code == 422
    assert clash.json()["type"] == "https://skillbridge.example/problems/idempotency-mismatch"
    assert clash.json()["errors"][0]["field"] == "Idempotency-Key"
    # The same step under a new key is a new request: illegal now.
    assert (await gsb.post(path + "/acknowledge", json={}, headers=key())).status_code == 409

    decline_without_reason = await gsb.post(
        path + "/decision", json={"decision": "declined"}, headers=key()
    )
    assert decline_without_reason.status_code == 422
    bad_reason = await gsb.post(
        path + "/decision", json={"decision": "declined", "reason_code": "nah"}, headers=key()
    )
    assert (
        bad_reason.status_code == 422 and bad_reason.json()["errors"][0]["field"] == "reason_code"
    )

    approve_key = key()
    approved = ok(
        await gsb.post(
            path + "/decision", json={"decision": "approved", "amount": 30_000}, headers=approve_key
        ),
        200,
    )
    assert (approved["status"], approved["approved_amount"]) == ("approved", 30_000)
    # No more than approved, dated between the approval and today; each refusal changes nothing.
    today = datetime.now(UTC).date()
    for body, field in (
        ({"amount": 30_001, "disbursed_on": str(today)}, "amount"),
        ({"amount": 30_000, "disbursed_on": "2030-01-01"}, "disbursed_on"),
        ({"amount": 30_000, "disbursed_on": str(today + timedelta(days=2))}, "disbursed_on"),
        ({"amount": 30_000, "disbursed_on": str(today - timedelta(days=7))}, "disbursed_on"),
    ):
        refused = await gsb.post(path + "/disbursement", json=body, headers=key())
        assert refused.status_code == 422, (body, refused.text)
        assert error_fields(refused.json()) == [field], body
    still = ok(await funding.client.get(f"/referrals/{referral['referral_id']}"), 200)
    assert still["status"] == "approved" and still["disbursed_amount"] is None
    paid = ok(
        await gsb.post(
            path + "/disbursement",
            json={"amount": 30_000, "disbursed_on": str(today)},
            headers=key(),
        ),
        200,
    )
    assert (paid["status"], paid["disbursed_on"]) == ("disbursed", str(today))
    replayed = await gsb.post(
        path + "/decision", json={"decision": "approved", "amount": 30_000}, headers=approve_key
    )
    assert replayed.status_code == 200 and replayed.json()["status"] == "approved"  # stored answer
    assert (await gsb.post(path + "/acknowledge", json={}, headers=key())).status_code == 409
    final = ok(await funding.client.get(f"/referrals/{referral['referral_id']}"), 200)
    assert final["status"] == "disbursed" and final["disbursed_amount"] == 30_000

    # Every step was one event, on the funding topic and on the lender's topic.
    steps = [
        LoanReferralCreated,
        LoanReferralDelivered,
        LoanReferralAcknowledged,
        LoanApproved,
        LoanDisbursed,
    ]
    wanted = [cls.ce_type() for cls in steps]

    async def lender_topic() -> list[Any]:
        return await funding.partner_topic("gsb")

    async def funding_topic() -> list[Any]:
        return await _funding_topic(funding)

    for read in (lender_topic, funding_topic):
        records = await eventually(
            read,
            lambda found: [o.ce_type for o in found if o.ce_type in wanted] == wanted,
            what="the lifecycle events in order",
        )
        assert [o.data["referral_id"] for o in records if o.ce_type in wanted] == [
            referral["referral_id"]
        ] * len(wanted)


async def _funding_topic(funding: RunningFunding) -> list[Any]:
    return distinct(await read_topics(funding.bootstrap, [FUNDING]))


async def test_consented_personal_data_reaches_only_that_lender(funding: RunningFunding) -> None:
    up = funding.upstream
    someone = await person(up, consent=[], occupation="housekeeper", level=1)
    consent_id = str(uuid.uuid4())
    await up.send(consent_granted(someone.person_id, "gsb", ["contact"], consent_id))
    await up.send(
        PersonalDataShared(
            person_id=someone.person_id,
            consent_id=consent_id,
            lender_code="gsb",
            data=SharedPersonalData(categories=["contact"], phone="0812345678"),
            shared_at=datetime.now(UTC),
        )
    )
    await one_referral(funding, someone)
    records = await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: any(
            o.ce_type == LoanReferralShared.ce_type() and o.data.get("applicant") for o in found
        ),
        what="the referral with the phone number on gsb's topic",
    )
    shared = [o for o in records if o.ce_type == LoanReferralShared.ce_type()]
    applicant = shared[-1].data["applicant"]
    assert applicant["phone"] == "0812345678" and applicant["categories"] == ["contact"]
    assert applicant["national_id"] is None and applicant["first_name_th"] is None
    gsb = await funding.partner("gsb")
    read = ok(await gsb.get("/partner/referrals"), 200)
    assert read[0]["applicant"]["phone"] == "0812345678"
    broadcast = await _funding_topic(funding)
    assert broadcast and "0812345678" not in str([o.data for o in broadcast])

    # Withdrawn: the lender is told (cancelled) and funding drops the data.
    await up.send(
        ConsentWithdrawn(
            person_id=someone.person_id,
            consent_id=consent_id,
            purpose="loan-referral",
            lender_code="gsb",
            reason="withdrawn",
            withdrawn_at=datetime.now(UTC),
        )
    )
    cancelled = await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: any(o.ce_type == LoanReferralCancelled.ce_type() for o in found),
        what="gsb told of the cancellation",
    )
    event = next(o for o in cancelled if o.ce_type == LoanReferralCancelled.ce_type())
    assert event.data["reason"] == "consent-withdrawn"
    replica = ok(await funding.client.get("/replica"), 200)
    assert replica["shared_data"] == 0


async def test_withdrawing_one_consent_keeps_referrals_another_covers(
    funding: RunningFunding,
) -> None:
    up = funding.upstream
    someone = await person(up, consent=[], occupation="housekeeper", level=1)
    named, any_lender = str(uuid.uuid4()), str(uuid.uuid4())
    await up.send(consent_granted(someone.person_id, "gsb", [], named))
    await up.send(consent_granted(someone.person_id, None, [], any_lender))
    referral = await one_referral(funding, someone)
    for consent_id, lender in ((named, "gsb"), (any_lender, None)):
        await up.send(
            ConsentWithdrawn(
                person_id=someone.person_id,
                consent_id=consent_id,
                purpose="loan-referral",
                lender_code=lender,
                reason="withdrawn",
                withdrawn_at=datetime.now(UTC),
            )
        )
        live_after = 1 if consent_id == named else 0
        rows = await eventually(
            lambda: _replica_consents(funding),
            lambda live, want=live_after: live == want,  # type: ignore[misc]
            what="withdrawal seen",
        )
        status = ok(await funding.client.get(f"/referrals/{referral['referral_id']}"), 200)[
            "status"
        ]
        assert (status == "cancelled") == (consent_id == any_lender), (consent_id, status, rows)


async def _replica_consents(funding: RunningFunding) -> int:
    return int(ok(await funding.client.get("/counts"), 200)["consents"])


async def test_revocation_and_erasure_cancel_open_referrals(funding: RunningFunding) -> None:
    up = funding.upstream
    revoked = await person(up, consent=[None], occupation="housekeeper", level=1)
    erased = await person(up, consent=[None], occupation="security-guard", level=2)
    r1, r2 = await one_referral(funding, revoked), await one_referral(funding, erased)
    now = datetime.now(UTC)
    await up.send(
        QualificationRevoked(
            person_id=revoked.person_id,
            certificate_number=revoked.certificate_number,
            occupation="housekeeper",
            level=1,
            reason="fraud",
            revoked_at=now,
        )
    )
    await up.send(PersonErased(person_id=erased.person_id, erased_at=now))

    async def statuses() -> dict[str, tuple[str, str | None]]:
        rows = await funding.referrals()
        return {r["referral_id"]: (r["status"], r["closed_reason"]) for r in rows}

    found = await eventually(
        statuses,
        lambda s: s[r1["referral_id"]][0] == s[r2["referral_id"]][0] == "cancelled",
        what="both cancelled",
    )
    assert found[r1["referral_id"]] == ("cancelled", "qualification-revoked")
    assert found[r2["referral_id"]] == ("cancelled", "person-erased")
    # An erased person is never referred again.
    before = funding.processed()
    await up.send(award(erased, "mechanic", 3))
    await up.send(award(Someone(erased.person_id, "SB-AGAIN"), "mechanic", 3))
    # A share published before the erasure, on the private topic, arrives after it: dropped.
    await up.send(
        PersonalDataShared(
            person_id=erased.person_id,
            consent_id=str(uuid.uuid4()),
            data=SharedPersonalData(categories=["contact"], phone="0811111111"),
            shared_at=now,
        )
    )
    await funding.settled(before, 3)
    assert len(await funding.referrals(person_id=erased.person_id)) == 1
    async with funding.service.db.transaction() as session:
        kept = await session.exec(
            select(SharedData).where(SharedData.person_id == erased.person_id)
        )
        assert kept.all() == []


async def test_sla_expiry_and_cooldown(funding: RunningFunding) -> None:
    client = funding.client
    # A product that gives lenders no time at all: it expires at the next sweep.
    for code, rules in (
        ("gsb-instant", {"occupations": ["gardener"], "sla_days": 0}),
        ("gsb-no-cooldown", {"occupations": ["plumber"], "cooldown_days": 0}),
    ):
        ok(
            await client.post(
                "/products", json={"code": code, "lender_code": "gsb", "name": code, "rules": rules}
            ),
            201,
        )
        ok(await client.post(f"/products/{code}/rules/1/publish"), 200)
    up = funding.upstream
    late = await person(up, consent=[None], occupation="gardener", level=1)
    expired = await eventually(
        lambda: funding.referrals(person_id=late.person_id),
        lambda rows: bool(rows) and rows[0]["status"] == "expired",
        what="expired by SLA",
    )
    assert expired[0]["closed_reason"] == "sla"
    topic = await eventually(
        lambda: funding.partner_topic("gsb"),
        lambda found: any(o.ce_type == LoanReferralExpired.ce_type() for o in found),
        what="gsb told of the expiry",
    )
    assert any(o.key == late.person_id for o in topic)

    # Declined by gsb: the 90-day product waits; the product without cool-down refers again.
    housekeeper = await person(up, consent=[None], occupation="housekeeper", level=1)
    plumber = await person(up, consent=[None], occupation="plumber", level=1)
    gsb = await funding.partner("gsb")
    for someone in (housekeeper, plumber):
        referral = await one_referral(funding, someone)
        path = f"/partner/referrals/{referral['referral_id']}"
        ok(await gsb.post(path + "/acknowledge", json={}, headers=key()), 200)
        declined = ok(
            await gsb.post(
                path + "/decision",
                json={"decision": "declined", "reason_code": "existing-debt"},
                headers=key(),
            ),
            200,
        )
        assert declined["decline_reason"] == "existing-debt"
    before = funding.processed()
    await up.send(award(Someone(housekeeper.person_id, "SB-NEW-1"), "housekeeper", 2))
    await up.send(award(Someone(plumber.person_id, "SB-NEW-2"), "plumber", 2))
    await funding.settled(before, 2)
    again = await funding.referrals(person_id=plumber.person_id)
    assert [r["status"] for r in again] == ["declined", "created"] or [
        r["status"] for r in again
    ] == ["declined", "delivered"]
    assert [r["status"] for r in await funding.referrals(person_id=housekeeper.person_id)] == [
        "declined"
    ]
    dry = ok(await client.post("/products/gsb-occupation-loan/rules/1/dry-run"), 200)
    assert dry["not_referred_by_clause"].get("cool-down") == 1


async def test_operator_reads_need_a_key(funding: RunningFunding) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=funding.service.app), base_url="http://funding"
    ) as anonymous:
        for path in ("/referrals", "/counts", "/products", "/lenders"):
            assert (await anonymous.get(path)).status_code == 401, path
    lenders = ok(await funding.client.get("/lenders"), 200)
    assert {lender["code"] for lender in lenders} >= {"gsb", "smed", "tcg", "village-fund"}


async def test_a_merge_moves_referrals_to_the_survivor_and_keeps_one_open(
    funding: RunningFunding,
) -> None:
    up = funding.upstream
    survivor = await person(up, consent=[None], occupation="housekeeper", level=1)
    retired = await person(up, consent=[None], occupation="food-and-beverage-production", level=2)
    kept = await one_referral(funding, survivor)
    moved = await eventually(
        lambda: funding.referrals(person_id=retired.person_id),
        lambda rows: len(rows) == 2,
        what="the retired record's referrals (gsb and smed)",
    )
    await up.send(
        PersonMerged(
            person_id=retired.person_id,
            survivor_id=survivor.person_id,
            merged_at=datetime.now(UTC),
        )
    )

    async def survivors() -> list[dict[str, Any]]:
        return await funding.referrals(person_id=survivor.person_id)

    rows = await eventually(survivors, lambda rows: len(rows) == 3, what="referrals moved")
    by_id = {r["referral_id"]: r for r in rows}
    smed = next(r for r in moved if r["product_code"] == "smed-startup-loan")
    gsb = next(r for r in moved if r["product_code"] == "gsb-occupation-loan")
    assert by_id[kept["referral_id"]]["status"] in ("created", "delivered")
    assert by_id[smed["referral_id"]]["status"] in ("created", "delivered")  # moved, open
    # Both records had gsb open: the survivor's stays, the retired one's is cancelled.
    assert (by_id[gsb["referral_id"]]["status"], by_id[gsb["referral_id"]]["closed_reason"]) == (
        "cancelled",
        "person-merged",
    )
    assert await funding.referrals(person_id=retired.person_id) == []
